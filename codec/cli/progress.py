"""Progress on the terminal for long work, and the ``-v`` details of what was chosen and how long it took.

A bar appears only on a terminal, only for work that has run longer than a
second, and never with ``--quiet``; piped output stays clean.
"""

from __future__ import annotations

import logging
import sys
import time

from codec.models.base import Progress

log = logging.getLogger("codec")
DELAY_SECONDS = 1.0


class TerminalProgress(Progress):
    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self._bar = None
        self._stage_start = time.monotonic()

    def start(self, total: float | None, unit: str, description: str) -> None:
        self.finish()
        self._stage_start = time.monotonic()
        if self.enabled:
            try:
                from tqdm import tqdm
            except ImportError:  # tqdm comes with the [eval] extra; without it, work goes on without a bar
                self.enabled = False
                return
            self._bar = tqdm(total=total, unit=unit, desc=description, delay=DELAY_SECONDS, leave=False,
                             dynamic_ncols=True, file=sys.stderr)

    def advance(self, amount: float = 1) -> None:
        if self._bar is not None:
            self._bar.update(amount)

    def note(self, message: str) -> None:
        log.debug("%s (%.2fs)", message, time.monotonic() - self._stage_start)
        self._stage_start = time.monotonic()

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def progress_for(args) -> TerminalProgress:
    return TerminalProgress(enabled=not getattr(args, "quiet", False))
