"""Registry of the codecs ``codec eval`` can run: one module per codec family.

Each module listed in ``MODULES`` has ``codecs(**tools) -> list[Codec]``;
``tools`` carries user-given paths of external programs (``vvc_encoder``,
``vtm_config``). Our own learned codecs plug in as one more module here.
"""

from __future__ import annotations

from codec.eval.codecs import avif, jpeg, nmc_image, svtav1, vvc, webp, x265
from codec.eval.codecs.base import Codec
from codec.errors import UsageError

MODULES = (nmc_image, jpeg, webp, avif, x265, svtav1, vvc)


def all_codecs(**tools: str | None) -> dict[str, Codec]:
    """Every known codec by name, available here or not."""
    return {c.name: c for module in MODULES for c in module.codecs(**tools)}


def select(names: list[str] | None, **tools: str | None) -> list[Codec]:
    """The codecs called ``names`` (all when None), in the order given."""
    known = all_codecs(**tools)
    if names is None:
        return list(known.values())
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UsageError(f"unknown codec {', '.join(unknown)}; known: {', '.join(known)}")
    return [known[n] for n in names]


__all__ = ["Codec", "MODULES", "all_codecs", "select"]
