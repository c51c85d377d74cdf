"""Engines run work items and yield their outcomes as they finish, with few items in flight.

An engine is a class taking ``(workers, address)`` with a method
``run(items, policy) -> Iterator[Outcome]``. It pulls items from the iterator
only as slots free up (at most twice as many in flight as workers), so a job
of any size holds a bounded number of items. Closing the iterator (the job
ends, or Ctrl-C) cancels what has not started and lets started items finish;
an item either completes atomically or leaves only a temporary file.
"""

from __future__ import annotations

import importlib

from codec.errors import UsageError

# name -> "module:class", imported on use so that the default engine never imports Ray
ENGINES = {
    "local": "codec.batch.engines.local:LocalEngine",
    "ray": "codec.batch.engines.ray_engine:RayEngine",
}


def engine_class(name: str):
    """The engine class registered under ``name``."""
    if name not in ENGINES:
        raise UsageError(f"unknown engine {name!r}; choose from {', '.join(ENGINES)}")
    module, cls = ENGINES[name].split(":")
    return getattr(importlib.import_module(module), cls)
