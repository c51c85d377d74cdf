"""Doing one work item: the only code that runs inside workers, local or remote.

It never raises for a bad item: every problem becomes a failed
:class:`~codec.batch.items.Outcome` with its reason, so one bad file cannot
stop a job. Models are cached per process by :mod:`codec.zoo`, so each
worker loads each model once.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from codec.batch import kinds
from codec.batch.items import Direction, FailureCategory, Outcome, Status, WorkItem
from codec.batch.outputs import Overwrite, existing_output_problem, verify_coded
from codec.errors import BadInputError, CodecError, OutputError
from codec.io.atomic import atomic_output, remove_stale_temporaries
from codec.media import medium_named


def decide(item: WorkItem, policy: Overwrite) -> Outcome | None:
    """The outcome of an item that needs no work (skipped or refused), or None when it must be coded."""
    if not item.output.exists() or policy is Overwrite.ALWAYS:
        return None
    if item.output.is_dir():
        return _failed(item, f"output {item.output} is a folder", FailureCategory.OUTPUT)
    problem = existing_output_problem(item.output)
    if problem is None:
        return Outcome(str(item.source), str(item.output), Status.SKIPPED, "complete")
    if policy is Overwrite.NEVER:
        return _failed(item, f"existing output is invalid ({problem}) and -n forbids replacing it",
                       FailureCategory.OUTPUT)
    return None


def process(item: WorkItem, policy: Overwrite) -> Outcome:
    """Code one item unless its output is already complete; never raises for a bad item."""
    start = time.monotonic()
    try:
        remove_stale_temporaries(item.output)
        early = decide(item, policy)
        if early is not None:
            return early
        size_in = item.source.stat().st_size
        # decide() let an existing output through only if it may be replaced; a file that appears
        # meanwhile is not clobbered (atomic_output links instead of renaming when overwrite is False).
        replace = item.output.exists()
        with atomic_output(item.output, overwrite=replace, verify=_verifier(item)) as out:
            _code(item, out)
            size_out = out.tell()
    except MemoryError:
        return _failed(item, "not enough memory for this input", FailureCategory.INPUT)
    except BadInputError as exc:
        return _failed(item, str(exc), FailureCategory.INPUT)
    except OutputError as exc:
        return _failed(item, str(exc), FailureCategory.OUTPUT)
    except CodecError as exc:  # e.g. a per-item option out of range
        return _failed(item, str(exc), FailureCategory.INPUT)
    except OSError as exc:
        category = FailureCategory.INPUT if _is_about(exc, item.source) else FailureCategory.OUTPUT
        return _failed(item, f"{exc.strerror or exc}: {exc.filename or item.source}", category)
    except Exception as exc:  # a bug: record it and keep the job going
        return _failed(item, f"internal error: {type(exc).__name__}: {exc}", FailureCategory.INTERNAL)
    return Outcome(str(item.source), str(item.output), Status.DONE, bytes_in=size_in, bytes_out=size_out,
                   seconds=time.monotonic() - start)


def _code(item: WorkItem, out) -> None:
    """Stream the item's result into ``out``."""
    if item.direction is Direction.ENCODE:
        kinds.encode_to(item.kind, item.source, item.options, out)
    else:
        kinds.decode_to(item.source, kinds.check_format(medium_named(item.kind), item.options.format), out,
                        item.options.device)


def _verifier(item: WorkItem):
    """The check an output must pass before it is renamed into place."""
    if item.direction is Direction.ENCODE:
        return verify_coded
    return medium_named(item.kind).verify_file

def _is_about(exc: OSError, path: Path) -> bool:
    return exc.filename is not None and os.fspath(exc.filename) == os.fspath(path)


def _failed(item: WorkItem, reason: str, category: FailureCategory) -> Outcome:
    reason = reason.removeprefix(f"{item.source}: ")  # the record names the input already
    return Outcome(str(item.source), str(item.output), Status.FAILED, reason, category)
