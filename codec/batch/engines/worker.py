"""Per-process set-up of a worker: threads, signals, and dying with its parent.

* Torch is capped to a share of the cores so N workers do not oversubscribe.
* SIGINT is ignored: Ctrl-C reaches the whole process group, and the parent
  decides (it lets in-flight items finish, so nothing is left half-done).
* On Linux the worker asks to be killed when its parent dies, so a SIGKILLed
  job leaves no orphan still writing; its temporary is swept by the next run.
"""

from __future__ import annotations

import ctypes
import signal
import sys

from codec.batch.items import Outcome, WorkItem
from codec.batch.outputs import Overwrite
from codec.batch.task import process
from codec.parallel import share_cores

_PR_SET_PDEATHSIG = 1
_ready = False


def init_worker(threads: int, *, ignore_sigint: bool = True) -> None:
    """Run once in each worker process before its first item."""
    global _ready
    if ignore_sigint:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass  # best effort: without it an orphan finishes its item atomically and exits
    share_cores(threads)
    _ready = True


def process_in_ray(item: WorkItem, policy: Overwrite, threads: int) -> Outcome:
    """The Ray task: the same work as a local worker, set up on the worker's first task.

    Ray reuses worker processes, and :mod:`codec.zoo` caches models per
    process, so each Ray worker loads each model once. Ray owns its workers'
    lifetime, so their signals and parent-death setting are left alone.
    """
    if not _ready:
        init_worker(threads, ignore_sigint=False)
    return process(item, policy)
