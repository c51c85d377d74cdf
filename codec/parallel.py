"""Worker processes for the batch engine and the evaluator: one way to start them.

Workers are started with ``spawn``, never ``fork``: the parent may hold
torch's or an encoder library's threads, which a fork would copy half-alive.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor


def spawn_pool(workers: int, initializer: Callable | None = None, initargs: tuple = ()) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=initializer, initargs=initargs)


def usable_cpus() -> int:
    """The cores this process may run on (its affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def share_cores(threads: int) -> None:
    """Limit this worker's math libraries to ``threads`` threads (a worker initializer).

    Why: with N workers on C cores, torch's default of C threads per worker
    runs N x C threads on C cores, and OpenMP's waiting threads then slow
    every worker several-fold; each worker gets its share of the cores.
    """
    os.environ["OMP_NUM_THREADS"] = str(max(1, threads))
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(max(1, threads))
