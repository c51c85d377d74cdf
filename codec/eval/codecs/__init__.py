"""Registry of the codecs ``codec eval`` can run: one module per codec family.

Every module of this package with ``codecs(**tools) -> list[Codec]`` is one
codec family (``MODULES``); ``tools`` carries user-given paths of external
programs (``vvc_encoder``, ``vtm_config``) and the evaluated medium's options
(e.g. ``frames``). Our own learned codecs are the module ``nmc``.
"""

from __future__ import annotations

import importlib
import pkgutil

from codec.eval.codecs.base import Codec
from codec.errors import UsageError

# ours first, then the baselines in a fixed order (image ones first, as before)
_ORDER = ("nmc", "jpeg", "webp", "avif", "x265", "svtav1", "vvc")


def _discover() -> tuple:
    names = [i.name for i in pkgutil.iter_modules(__path__) if i.name not in ("base", "pyav_intra",
                                                                               "pillow_formats")]
    names.sort(key=lambda n: (_ORDER.index(n) if n in _ORDER else len(_ORDER), n))
    modules = [importlib.import_module(f"{__name__}.{n}") for n in names]
    return tuple(m for m in modules if hasattr(m, "codecs"))


MODULES = _discover()


def all_codecs(**tools: str | None) -> dict[str, Codec]:
    """Every known codec by name, available here or not."""
    return {c.name: c for module in MODULES for c in module.codecs(**tools)}


def select(names: list[str] | None, medium: str = "image", **tools: str | None) -> list[Codec]:
    """The codecs called ``names`` (when None: every codec of ``medium`` that runs by default), in order."""
    known = all_codecs(**tools)
    if names is None:
        return [c for c in known.values() if c.medium == medium and getattr(c, "default", True)]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UsageError(f"unknown codec {', '.join(unknown)}; known: {', '.join(known)}")
    wrong = [n for n in names if known[n].medium != medium]
    if wrong:
        raise UsageError(f"{', '.join(wrong)} code{'s' if len(wrong) == 1 else ''} {known[wrong[0]].medium}, "
                         f"not {medium}")
    return [known[n] for n in names]


__all__ = ["Codec", "MODULES", "all_codecs", "select"]
