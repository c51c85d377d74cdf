"""What the batch engine codes, by medium: a bridge from work items to the media registry and ``codec.stream``.

The engine knows nothing about pixels or samples: a work item names a medium
(``image``, ``video``, ``audio``: the entries of :mod:`codec.media`), and this
module encodes a source file to an ``.nmc`` stream, decodes one to a media
file, and checks that a decoded file is whole. Both directions stream into
the output, so a long video or audio file never sits in memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from codec.batch.items import ItemOptions
from codec.container import FILE_EXTENSION, ContainerReader
from codec.errors import BadInputError, UsageError
from codec.media import Medium, medium_for_path, medium_for_type, medium_named


def is_coded_file(path: Path) -> bool:
    return path.suffix.lower() == FILE_EXTENSION.lower()


def medium_for_source(path: Path) -> Medium | None:
    """The medium that encodes a file with this name, or None."""
    return medium_for_path(path)


def medium_in_header(path: Path) -> Medium:
    """The medium of an ``.nmc`` file, from its header."""
    try:
        with open(path, "rb") as f:
            header = ContainerReader(f).header
    except OSError as exc:
        raise BadInputError(f"cannot read: {exc.strerror or exc}") from None
    return medium_for_type(header.media_type)


def check_format(medium: Medium, fmt: str | None) -> str:
    """The decoded format to write: ``fmt`` if the medium writes it, else the medium's default."""
    if fmt is None:
        return medium.output_formats()[0]
    fmt = fmt.lower().lstrip(".")
    if fmt not in medium.output_formats():
        raise UsageError(f"{medium.name} cannot be decoded to {fmt!r}; choose from {', '.join(medium.output_formats())}")
    return fmt


def encode_to(medium_name: str, source: Path, options: ItemOptions, out: BinaryIO) -> None:
    """Encode ``source`` into the binary stream ``out``."""
    import codec

    medium = medium_named(medium_name)
    rate = {"quality": options.quality}
    if options.bpp is not None or options.bitrate is not None:
        rate = {"bpp": options.bpp} if medium.rate_unit == "bpp" else {"bitrate": options.bitrate or options.bpp}
    codec.encode(source, out, media=medium_name, model=options.model, preset=options.preset or "fast",
                 device=options.device or "cpu", **rate)


def decode_to(source: Path, fmt: str, out: BinaryIO, device: str | None = None) -> None:
    """Decode the ``.nmc`` file ``source`` into ``out`` as ``fmt``."""
    import codec

    codec.decode(source, out, format=fmt, device=device or "cpu")
