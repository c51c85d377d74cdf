"""From INPUT and OUTPUT to a stream of work items whose outputs mirror the input tree.

INPUT is a file, a folder (walked recursively in sorted order, filtered by
include/exclude globs) or a manifest. The direction of each item follows its
extension: media a registered kind reads is encoded to ``.nmc``; ``.nmc`` is
decoded to the format of the kind its header names. Items are produced
lazily; :meth:`Plan.count` walks the input a second time, cheaply, so that
progress can show an ETA without holding the file list.

In a folder, files no kind reads (notes, sidecars) are ignored and counted;
a file named explicitly (INPUT or a manifest line) that no kind reads is a
failure. Within a folder, two inputs that would write the same output (``a.png``
and ``a.jpg``) are both reported rather than one silently skipped.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from codec.batch import kinds
from codec.batch.items import Direction, FailureCategory, ItemOptions, Outcome, Status, WorkItem
from codec.batch.manifest import is_manifest, read_manifest
from codec.batch.outputs import is_temporary
from codec.container import FILE_EXTENSION
from codec.errors import BadInputError, CodecError


@dataclass
class Plan:
    input: Path
    output: Path
    defaults: ItemOptions = ItemOptions()
    include: Sequence[str] = ("*",)
    exclude: Sequence[str] = ()
    ignored: int = field(default=0, init=False)  # folder files no kind reads, known once iterated

    def __post_init__(self) -> None:
        if not self.input.exists():
            raise BadInputError(f"{self.input}: no such file or folder")

    def count(self) -> int:
        """How many items iteration will yield (a cheap pass: no file is opened except a manifest)."""
        if self.input.is_dir():
            return sum(1 for _ in self._folder_files(count_only=True))
        if is_manifest(self.input):
            return sum(1 for _ in read_manifest(self.input))
        return 1

    def __iter__(self) -> Iterator[WorkItem | Outcome]:
        """Work items, or failed outcomes for inputs that cannot even be planned."""
        if self.input.is_dir():
            yield from self._folder_items()
        elif is_manifest(self.input):
            yield from self._manifest_items()
        else:
            out = self.output
            explicit = not (out.is_dir() or str(out).endswith(os.sep))
            yield make_item(self.input, out if explicit else out / self.input.name, self.defaults,
                            rename=not explicit)

    def _folder_files(self, *, count_only: bool = False) -> Iterator[Path]:
        skip = self.output.resolve() if self.output.exists() else None
        for dirpath, dirnames, filenames in os.walk(self.input):
            here = Path(dirpath)
            dirnames[:] = sorted(d for d in dirnames if skip is None or (here / d).resolve() != skip)
            for name in sorted(filenames):
                path = here / name
                rel = path.relative_to(self.input).as_posix()
                if is_temporary(name) or not self._selected(rel, name):
                    continue
                if kinds.is_coded_file(path) or kinds.medium_for_source(path) is not None:
                    yield path
                elif not count_only:
                    self.ignored += 1

    def _selected(self, rel: str, name: str) -> bool:
        def hit(globs: Sequence[str]) -> bool:
            return any(fnmatch.fnmatch(rel, g) or fnmatch.fnmatch(name, g) for g in globs)
        return hit(self.include) and not hit(self.exclude)

    def _folder_items(self) -> Iterator[WorkItem | Outcome]:
        claimed: dict[Path, Path] = {}  # output -> source, for the current folder only (bounded memory)
        for path in self._folder_files():
            if claimed and next(iter(claimed)).parent != self.output / path.parent.relative_to(self.input):
                claimed.clear()
            item = make_item(path, self.output / path.relative_to(self.input), self.defaults, rename=True)
            if isinstance(item, WorkItem):
                other = claimed.setdefault(item.output, item.source)
                if other != item.source:
                    item = rejected(path, f"writes the same output as {other.name} ({item.output.name})",
                                    item.output)
            yield item

    def _manifest_items(self) -> Iterator[WorkItem | Outcome]:
        base = self.input.parent
        for entry in read_manifest(self.input):
            if entry.path is None:
                yield rejected(Path(f"{self.input}:{entry.line}"), entry.error or "bad line")
                continue
            options = self.defaults.overridden_by(entry.options)
            if entry.output is not None:
                yield make_item(entry.path, self.output / entry.output, options, rename=False)
            else:
                yield make_item(entry.path, self.output / _mirrored(entry.path, base), options, rename=True)


def _mirrored(path: Path, base: Path) -> PurePath:
    """A manifest entry's place under OUTPUT: relative to the manifest, or its absolute path re-rooted."""
    try:
        return path.resolve().relative_to(base.resolve())
    except ValueError:
        return PurePath(*path.resolve().parts[1:])


def make_item(source: Path, output: Path, options: ItemOptions, *, rename: bool) -> WorkItem | Outcome:
    """The item for one input; ``rename`` gives ``output`` the extension of the direction's result."""
    try:
        if kinds.is_coded_file(source):
            kind = kinds.medium_in_header(source)
            fmt = options.format if rename or options.format else output.suffix.lstrip(".") or None
            fmt = kinds.check_format(kind, fmt)
            return WorkItem(source, output.with_suffix("." + fmt) if rename else output, Direction.DECODE,
                            kind.name, ItemOptions(format=fmt, device=options.device))
        kind = kinds.medium_for_source(source)
        if kind is None:
            raise BadInputError(f"not a kind of media this package encodes (extension {source.suffix or 'none'!r})")
        if not source.is_file():
            raise BadInputError("no such file")
        return WorkItem(source, output.with_suffix(FILE_EXTENSION) if rename else output, Direction.ENCODE,
                        kind.name, options)
    except CodecError as exc:
        return rejected(source, str(exc), output)


def rejected(source: Path, reason: str, output: Path | None = None) -> Outcome:
    return Outcome(str(source), str(output or ""), Status.FAILED, reason, FailureCategory.INPUT)

