"""Registry of the codecs ``codec eval`` can run: one module per codec family.

Each module listed in ``MODULES`` has ``codecs(**tools) -> list[Codec]``;
``tools`` carries user-given paths of external programs (``vvc_encoder``,
``vtm_config``). Our own learned codecs plug in as one more module here.
"""

from __future__ import annotations

from codec.eval.codecs import avif, jpeg, nmc, svtav1, vvc, webp, x265
from codec.eval.codecs.base import Codec
from codec.errors import UsageError

MODULES = (nmc, jpeg, webp, avif, x265, svtav1, vvc)


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
