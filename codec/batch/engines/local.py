"""The default engine: this process for ``-j 1``, a pool of worker processes otherwise.

``-j 1`` codes in the calling process, avoiding a second copy of the model
and the pool's start-up. Workers are started with ``spawn`` (no fork of a
process that may hold torch's threads) and each loads a model once.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from codec.batch.engines.worker import init_worker
from codec.batch.items import FailureCategory, Outcome, Status, WorkItem
from codec.batch.outputs import Overwrite
from codec.batch.task import process
from codec.errors import CodecError, UsageError


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


class LocalEngine:
    def __init__(self, workers: int | None, address: str | None = None) -> None:
        if address is not None:
            raise UsageError("--address is for --engine ray")
        self.workers = workers or usable_cpus()

    def run(self, items: Iterable[WorkItem], policy: Overwrite) -> Iterator[Outcome]:
        if self.workers == 1:
            for item in items:
                yield process(item, policy)
            return
        threads = max(1, usable_cpus() // self.workers)
        pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=init_worker, initargs=(threads,))
        pending: dict[Future, WorkItem] = {}
        try:
            for item in items:
                pending[pool.submit(process, item, policy)] = item
                if len(pending) >= 2 * self.workers:
                    yield from _collect(pending, FIRST_COMPLETED)
            while pending:
                yield from _collect(pending, FIRST_COMPLETED)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _collect(pending: dict[Future, WorkItem], when: str) -> Iterator[Outcome]:
    done, _ = wait(pending, return_when=when)
    for future in done:
        item = pending.pop(future)
        try:
            yield future.result()
        except BrokenProcessPool:
            raise CodecError(f"a worker process died while coding {item.source} (out of memory?); "
                             f"outputs written so far are complete: run the same command to continue") from None
        except Exception as exc:  # e.g. an item that cannot be pickled: a bug, not a reason to stop
            yield Outcome(str(item.source), str(item.output), Status.FAILED,
                          f"internal error: {type(exc).__name__}: {exc}", FailureCategory.INTERNAL)
