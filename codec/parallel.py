"""Worker processes for the batch engine and the evaluator: one way to start them.

Workers are started with ``spawn``, never ``fork``: the parent may hold
torch's or an encoder library's threads, which a fork would copy half-alive.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor


def spawn_pool(workers: int, initializer: Callable | None = None, initargs: tuple = ()) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=initializer, initargs=initargs)
