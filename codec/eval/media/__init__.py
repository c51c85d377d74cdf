"""Media the evaluator knows: how items are found, loaded, measured and rated.

Every module of this package that defines ``MEDIUM`` (a :class:`Medium`) is an
evaluation medium: ``codec eval <name>`` exists for it, with its own options.
"""

from __future__ import annotations

import importlib
import pkgutil

from codec.eval.media.base import Medium


def _discover() -> dict[str, Medium]:
    found = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name != "base":
            medium = getattr(importlib.import_module(f"{__name__}.{info.name}"), "MEDIUM", None)
            if isinstance(medium, Medium):
                found[medium.name] = medium
    return dict(sorted(found.items(), key=lambda kv: ("image", "video", "audio").index(kv[0])
                       if kv[0] in ("image", "video", "audio") else 9))


MEDIA: dict[str, Medium] = _discover()

__all__ = ["MEDIA", "Medium"]
