"""The default engine: this process for ``-j 1``, a pool of worker processes otherwise.

``-j 1`` codes in the calling process, avoiding a second copy of the model
and the pool's start-up. Workers are started with ``spawn`` (no fork of a
process that may hold torch's threads) and each loads a model once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from codec.batch.engines.worker import init_worker
from codec.batch.items import FailureCategory, Outcome, Status, WorkItem
from codec.batch.outputs import Overwrite
from codec.batch.task import process
from codec.errors import UsageError
from codec.parallel import spawn_pool, usable_cpus


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
        pending: dict[Future, WorkItem] = {}
        pool = self._new_pool()
        try:
            for item in items:
                pending[pool.submit(process, item, policy)] = item
                while len(pending) >= 2 * self.workers:
                    broken = yield from _collect(pending)
                    if broken:
                        pool.shutdown(wait=True, cancel_futures=True)
                        pool = self._new_pool()
            while pending:
                yield from _collect(pending)  # a broken pool fails everything pending: nothing to restart
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _new_pool(self) -> ProcessPoolExecutor:
        threads = max(1, usable_cpus() // self.workers)
        return spawn_pool(self.workers, init_worker, (threads,))


def _collect(pending: dict[Future, WorkItem]) -> Iterator[Outcome]:
    """Yield the outcomes of finished items; return True when the pool broke.

    A worker that dies (killed, out of memory, a crash in native code) breaks
    the whole pool and fails every item in flight: those items are reported
    as failed, with the reason, and the caller starts a fresh pool, so one
    input that kills its worker does not stop the job.
    """
    done, _ = wait(pending, return_when=FIRST_COMPLETED)
    if any(isinstance(f.exception(), BrokenProcessPool) for f in done):
        done = list(pending)  # the executor fails every item in flight; collect them all now
    broken = False
    for future in done:
        item = pending.pop(future)
        try:
            yield future.result()
        except BrokenProcessPool:
            broken = True
            yield Outcome(str(item.source), str(item.output), Status.FAILED,
                          "a worker process died while this item was in flight (out of memory or a crash); "
                          "rerun to retry it", FailureCategory.INTERNAL)
        except Exception as exc:  # e.g. an item that cannot be pickled: a bug, not a reason to stop
            yield Outcome(str(item.source), str(item.output), Status.FAILED,
                          f"internal error: {type(exc).__name__}: {exc}", FailureCategory.INTERNAL)
    return broken
