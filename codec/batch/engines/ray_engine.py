"""``--engine ray``: the same job on a Ray cluster, each file a task.

Inputs and outputs must be on a filesystem every node sees under the same
paths, and this package must be installed on every node. Without
``--address`` a Ray instance is started on this machine for the job (or an
already initialised one in this process is used) and stopped afterwards.
Results come back to this process and are reported exactly as the local
engine's are.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from codec.batch.engines.worker import process_in_ray
from codec.batch.items import FailureCategory, Outcome, Status, WorkItem
from codec.batch.outputs import Overwrite
from codec.errors import UsageError


def _ray():
    try:
        import ray
    except ImportError:
        raise UsageError("--engine ray needs Ray: pip install 'neural-media-codec[ray]'") from None
    return ray


class RayEngine:
    def __init__(self, workers: int | None, address: str | None = None) -> None:
        self.workers = workers
        self.address = address
        self._ray = _ray()

    def run(self, items: Iterable[WorkItem], policy: Overwrite) -> Iterator[Outcome]:
        ray = self._ray
        started = not ray.is_initialized()
        if started:
            local = {} if self.address else {"num_cpus": self.workers}
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False, **local)
        pending: dict = {}
        try:
            parallel = self.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
            task = ray.remote(num_cpus=1)(process_in_ray)
            for item in items:
                pending[task.remote(item, policy, 1)] = item
                if len(pending) >= 2 * parallel:
                    yield self._next(pending)
            while pending:
                yield self._next(pending)
        finally:
            for ref in pending:
                ray.cancel(ref)
            if started:
                ray.shutdown()

    def _next(self, pending: dict) -> Outcome:
        ray = self._ray
        [ref], _ = ray.wait(list(pending), num_returns=1)
        item = pending.pop(ref)
        try:
            return ray.get(ref)
        except ray.exceptions.RayError as exc:  # the worker died or the task could not run
            return Outcome(str(item.source), str(item.output), Status.FAILED,
                           f"ray task failed: {type(exc).__name__}: {str(exc).splitlines()[0]}",
                           FailureCategory.INTERNAL)
