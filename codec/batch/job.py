"""A batch job end to end: plan the items, run them on an engine, report, summarise.

The job never holds the list of files: items stream from the plan to the
engine, outcomes stream back to the reporter, which keeps counters only.
Ctrl-C stops feeding the engine, lets started items finish (each completes
atomically or leaves only a temporary) and still produces the summary.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from codec.batch.engines import engine_class
from codec.batch.items import ItemOptions, Outcome, Status, WorkItem
from codec.batch.manifest import is_manifest
from codec.batch.outputs import Overwrite
from codec.batch.report import JobSummary, Reporter
from codec.batch.sources import Plan
from codec.batch.task import decide

FAILURES_NAME = "transcode-failures.jsonl"


@dataclass(frozen=True)
class JobSpec:
    input: Path
    output: Path
    options: ItemOptions = ItemOptions()
    include: Sequence[str] = ("*",)
    exclude: Sequence[str] = ()
    overwrite: Overwrite = Overwrite.IF_INVALID
    workers: int | None = None  # None: every usable core (local) or every CPU of the cluster (ray)
    engine: str = "local"
    address: str | None = None
    failures: Path | None = None  # default: transcode-failures.jsonl in the output folder

    def failures_path(self) -> Path:
        if self.failures is not None:
            return self.failures
        one_file_out = self.input.is_file() and not is_manifest(self.input) and not self.output.is_dir() \
            and not str(self.output).endswith(os.sep)
        return (self.output.parent if one_file_out else self.output) / FAILURES_NAME


def run_job(spec: JobSpec, *, progress: IO[str] | None = None, bar: IO[str] | None = None,
            log_item: Callable[[Outcome], None] | None = None) -> JobSummary:
    """Run a job; failures are recorded, not raised. ``summary.interrupted`` tells of a Ctrl-C."""
    engine = engine_class(spec.engine)(spec.workers, spec.address)
    plan = Plan(spec.input, spec.output, spec.options, spec.include, spec.exclude)
    summary = JobSummary(total=plan.count())
    reporter = Reporter(summary, failures_path=spec.failures_path(), progress=progress, bar=bar,
                        log_item=log_item)

    def work_items() -> Iterator[WorkItem]:
        # Engines pull items from this (main) thread, so inputs that cannot be planned are reported at once.
        for entry in plan:
            if isinstance(entry, WorkItem):
                yield entry
            else:
                reporter.add(entry)

    outcomes = engine.run(work_items(), spec.overwrite)
    try:
        for outcome in outcomes:
            reporter.add(outcome)
    except KeyboardInterrupt:
        summary.interrupted = True
        print("\ninterrupted: letting started items finish...", file=sys.stderr)
        outcomes.close()
    finally:
        summary.ignored = plan.ignored
        reporter.close()
    return summary


def dry_run(spec: JobSpec, out: IO[str]) -> JobSummary:
    """Say what a run would do, item by item, without writing anything."""
    plan = Plan(spec.input, spec.output, spec.options, spec.include, spec.exclude)
    summary = JobSummary()
    for entry in plan:
        summary.total += 1
        if isinstance(entry, WorkItem):
            early = decide(entry, spec.overwrite)
            if early is None:
                out.write(f"{entry.direction.value} {entry.source} -> {entry.output}\n")
                summary.done += 1
                continue
            entry = early
        summary.add(entry)
        word = "skip" if entry.status is Status.SKIPPED else "fail"
        out.write(f"{word} {entry.source} -> {entry.output or '-'}: {entry.reason}\n")
    summary.ignored = plan.ignored
    return summary
