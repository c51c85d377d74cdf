"""The media contract: what the package needs to know about a kind of media.

A :class:`Medium` reads source files into items (:class:`MediaSource`), writes
decoded items to files (:class:`MediaSink`), names its rate unit and its
extensions, and says what a complete decoded file is. Model families code
items; media read and write them. The CLI, ``codec.open``, the batch engine
and the evaluator ask the registry in :mod:`codec.media` which medium a file
belongs to and never touch pixels or samples themselves.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from codec.container.source import MediaType, SourceInfo
from codec.models.base import Option


class MediaSource(ABC):
    """An open source: its description and its items (one image, frames, chunks of samples)."""

    info: SourceInfo
    #: how many items iteration yields, when known (for progress bars)
    length: int | None = None

    @abstractmethod
    def __iter__(self) -> Iterator[Any]:
        ...

    def close(self) -> None:
        pass

    def __enter__(self) -> "MediaSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class MediaSink(ABC):
    """Where decoded items go: a media file written atomically, or a stream."""

    @abstractmethod
    def write(self, item: Any) -> None:
        ...

    @abstractmethod
    def close(self) -> None:
        """Finish the output (an atomic file appears under its final name only now)."""

    def abort(self) -> None:
        """Give up: nothing appears under the final name."""


class Medium(ABC):
    name: str
    media_type: MediaType
    #: what a target rate means for this medium, and the CLI option that gives one
    rate_unit: str
    #: what one item is called in messages ("image", "frame", "chunk")
    item_name: str
    #: medium options for ``codec encode`` (source reading) and ``codec decode`` (output writing)
    encode_options: tuple[Option, ...] = ()
    decode_options: tuple[Option, ...] = ()
    #: what the Python API can return decoded items as (see :meth:`to_output`)
    output_kinds: tuple[str, ...] = ("numpy",)

    @abstractmethod
    def source_extensions(self) -> frozenset[str]:
        """Lower-case extensions, with the dot, of files this medium reads."""

    @abstractmethod
    def output_formats(self) -> tuple[str, ...]:
        """Decoded file formats (extensions without the dot); the first is the default."""

    def claims(self, path: Path) -> bool:
        """Whether this medium reads ``path`` (by extension; a medium may look inside)."""
        return path.suffix.lower() in self.source_extensions()

    @abstractmethod
    def open_source(self, source: Any, options: Mapping[str, Any]) -> MediaSource:
        """Open a path (or an in-memory object the medium accepts) for encoding; BadInputError if unusable."""

    @abstractmethod
    def source_info(self, **params: Any) -> SourceInfo:
        """The description of items the caller will hand over one by one (``codec.open(..., "w")``)."""

    @abstractmethod
    def open_sink(self, target: str | Path | BinaryIO, fmt: str, info: SourceInfo,
                  options: Mapping[str, Any]) -> MediaSink:
        """A sink that writes decoded items as ``fmt`` to ``target``."""

    @abstractmethod
    def rate(self, file_bytes: int, info: SourceInfo, *, frames: int | None = None,
             duration_seconds: float | None = None) -> dict[str, float]:
        """Rate figures of a whole coded file (e.g. bits per pixel, kbit/s)."""

    @abstractmethod
    def verify_file(self, path: Path) -> None:
        """Raise BadInputError unless ``path`` is a complete decoded file of this medium."""

    def conformance_sample(self) -> Any:
        """A small source every model of this medium codes for its conformance files."""
        raise NotImplementedError(f"the {self.name} medium has no conformance sample")

    def to_output(self, item: Any, info: SourceInfo, kind: str) -> Any:
        """A decoded item as the Python API returns it (``kind``: 'numpy', 'pil', 'torch', ...)."""
        return item
