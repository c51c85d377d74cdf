"""The unit of work of a batch job and its outcome: small picklable records.

Both cross process (and machine) boundaries, so they hold only paths, a few
options and short strings; memory per item stays a few hundred bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path


class Direction(str, Enum):
    ENCODE = "encode"  # media file -> .nmc
    DECODE = "decode"  # .nmc -> media file


@dataclass(frozen=True)
class ItemOptions:
    """Coding options; a manifest line may override the job's defaults per item."""

    quality: float | None = None
    bpp: float | None = None
    model: str | None = None
    format: str | None = None  # output media format when decoding (png, webp, ...)
    bitrate: str | None = None  # video and audio: target bitrate ("500k")
    preset: str | None = None  # encoder effort (fast when None)
    device: str | None = None  # where models run: cpu (when None) or cuda

    def overridden_by(self, other: "ItemOptions") -> "ItemOptions":
        """These options with every field ``other`` sets replaced; a rate given per item replaces both rates."""
        changes = {k: v for k, v in vars(other).items() if v is not None}
        if {"quality", "bpp", "bitrate"} & set(changes):
            for name in ("quality", "bpp", "bitrate"):
                changes.setdefault(name, None)
        return replace(self, **changes)


@dataclass(frozen=True)
class WorkItem:
    source: Path
    output: Path
    direction: Direction
    kind: str  # name of the medium (codec.media): from the source's extension, or the header when decoding
    options: ItemOptions = field(default_factory=ItemOptions)


class Status(str, Enum):
    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"


class FailureCategory(str, Enum):
    """Why an item failed; decides the job's exit code (internal > output > input)."""

    INPUT = "input"
    OUTPUT = "output"
    INTERNAL = "internal"


@dataclass(frozen=True)
class Outcome:
    source: str
    output: str
    status: Status
    reason: str = ""
    category: FailureCategory | None = None
    bytes_in: int = 0
    bytes_out: int = 0
    seconds: float = 0.0
