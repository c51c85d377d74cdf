"""What a job tells its user while it runs and when it ends.

* a one-line progress bar on stderr (only on a terminal): files done/total,
  files/s, MB/s of input, ETA and failures so far;
* ``--progress FILE``: one JSON object per finished item with the same
  counters, then a final ``"event": "end"`` line, flushed as written, for
  other programs to follow;
* the failures file: one JSON object per failed item (input, output, reason,
  category), created at the first failure so a clean run leaves none;
* a summary line at the end.

Only counters are kept, never per-item results, so memory does not grow
with the number of files.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO

from codec.batch.items import FailureCategory, Outcome, Status


@dataclass
class JobSummary:
    total: int = 0
    done: int = 0
    skipped: int = 0
    failed: int = 0
    ignored: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    elapsed: float = 0.0
    interrupted: bool = False
    categories: dict[str, int] = field(default_factory=dict)

    @property
    def finished(self) -> int:
        return self.done + self.skipped + self.failed

    def add(self, outcome: Outcome) -> None:
        if outcome.status is Status.DONE:
            self.done += 1
            self.bytes_in += outcome.bytes_in
            self.bytes_out += outcome.bytes_out
        elif outcome.status is Status.SKIPPED:
            self.skipped += 1
        else:
            self.failed += 1
            key = (outcome.category or FailureCategory.INPUT).value
            self.categories[key] = self.categories.get(key, 0) + 1

    def rates(self) -> dict[str, float | None]:
        """files/s and MB/s of coded input so far, and the ETA in seconds (None before any rate is known)."""
        t = max(self.elapsed, 1e-9)
        files_per_s = self.finished / t
        eta = (self.total - self.finished) / files_per_s if files_per_s > 0 and self.total else None
        return {"files_per_s": files_per_s, "mb_per_s": self.bytes_in / 1e6 / t, "eta_s": eta}


class Reporter:
    """Feeds outcomes to the bar, the progress file and the failures file."""

    def __init__(self, summary: JobSummary, *, failures_path: Path, progress: IO[str] | None,
                 bar: IO[str] | None, log_item=None) -> None:
        self.summary = summary
        self._failures_path = failures_path
        self._failures: IO[str] | None = None
        self._progress = progress
        self._bar = bar
        self._log_item = log_item
        self._start = time.monotonic()
        self._last_draw = 0.0
        failures_path.unlink(missing_ok=True)  # a previous run's failures are not this run's

    def add(self, outcome: Outcome) -> None:
        s = self.summary
        s.add(outcome)
        s.elapsed = time.monotonic() - self._start
        if outcome.status is Status.FAILED:
            self._record_failure(outcome)
        if self._log_item is not None:
            self._log_item(outcome)
        if self._progress is not None:
            line = {"event": "item", "input": outcome.source, "output": outcome.output,
                    "status": outcome.status.value, **self._counters()}
            self._progress.write(json.dumps(line) + "\n")
            self._progress.flush()
        self._draw()

    def close(self) -> JobSummary:
        s = self.summary
        s.elapsed = time.monotonic() - self._start
        self._draw(force=True)
        if self._bar is not None:
            self._bar.write("\n")
        if self._progress is not None:
            self._progress.write(json.dumps({"event": "end", "interrupted": s.interrupted, **self._counters()}) + "\n")
            self._progress.flush()
        if self._failures is not None:
            self._failures.close()
        return s

    def _counters(self) -> dict:
        s = self.summary
        counters = {k: v for k, v in asdict(s).items() if k not in ("categories", "interrupted")}
        return {**counters, **{k: (round(v, 3) if v is not None else None) for k, v in s.rates().items()}}

    def _record_failure(self, outcome: Outcome) -> None:
        if self._failures is None:
            self._failures_path.parent.mkdir(parents=True, exist_ok=True)
            self._failures = open(self._failures_path, "a", encoding="utf-8")
        category = (outcome.category or FailureCategory.INPUT).value
        self._failures.write(json.dumps({"input": outcome.source, "output": outcome.output,
                                         "reason": outcome.reason, "category": category}) + "\n")
        self._failures.flush()

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if self._bar is None or (not force and now - self._last_draw < 0.2):
            return
        self._last_draw = now
        s = self.summary
        r = s.rates()
        width = 24
        filled = int(width * s.finished / s.total) if s.total else width
        eta = _clock(r["eta_s"]) if r["eta_s"] is not None else "--:--"
        self._bar.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {s.finished}/{s.total} "
                        f"{r['files_per_s']:.2f} files/s {r['mb_per_s']:.2f} MB/s ETA {eta} "
                        f"failed {s.failed}\x1b[K")
        self._bar.flush()


def summary_line(s: JobSummary, failures_path: Path) -> str:
    r = s.rates()
    parts = [f"{s.done} done", f"{s.skipped} skipped (already complete)", f"{s.failed} failed"]
    if s.ignored:
        parts.append(f"{s.ignored} ignored (not media)")
    text = (f"transcode{' interrupted' if s.interrupted else ''}: {s.finished}/{s.total} files: "
            f"{', '.join(parts)}; {s.bytes_in / 1e6:.1f} MB in, {s.bytes_out / 1e6:.2f} MB out; "
            f"{r['files_per_s']:.2f} files/s, {r['mb_per_s']:.2f} MB/s, {_clock(s.elapsed)}")
    if s.failed:
        text += f"; failures in {failures_path}"
    return text


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


def terminal(stream: IO[str] = sys.stderr) -> IO[str] | None:
    """``stream`` when it is a terminal (the bar rewrites its line), else None."""
    return stream if stream.isatty() else None
