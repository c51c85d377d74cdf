"""Streaming sessions over ``.nmc`` files, in the style of PyAV and soundfile.

>>> with codec.open("clip.nmc", "w", media="video", quality=4, width=352, height=288, fps=30) as f:
...     for frame in frames:
...         f.write(frame)                  # packets are written as they are made
>>> with codec.open("clip.nmc") as f:       # f.info: media, model, source, duration
...     f.seek(2.0)                         # random access through the seek index
...     for frame in f: ...

A writer turns items into packets with the model's encoder session and
writes them through the container as they come, so a long video or audio
stream never sits in memory; a file path is written atomically (it appears
only when :meth:`Writer.close` succeeds). A reader validates the container
as it reads and hands out each item as soon as its packet is decoded, so a
damaged file yields every item before the damage, then raises
:class:`~codec.errors.CorruptStreamError` naming the packet and offset.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import os
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO

from codec import __version__
from codec.container import ContainerReader, ContainerWriter, FileHeader, MediaType, SourceInfo, build_container
from codec.container.packet import Packet
from codec.container.summary import check_file
from codec.errors import BadInputError, CodecError, CorruptStreamError, ModelMismatchError, UsageError
from codec.io.atomic import STDOUT, output_file
from codec.media import all_media, medium_for_type, medium_named
from codec.models.base import DecodeOptions, EncodeOptions, Model, Progress

MODES = ("r", "w")


def open(target: Any, mode: str = "r", **options: Any) -> "Reader | Writer":  # noqa: A001 - mirrors io.open
    """Open an ``.nmc`` file for reading (``"r"``) or writing (``"w"``); see the module docstring.

    Reading takes a path, ``bytes`` or a binary file object, and the options
    ``threads``, ``device``, ``output`` ('numpy', 'pil', 'torch') and a
    model's decode options. Writing takes a path (written atomically), ``-``
    or a binary file object, ``media`` ('image', 'video', 'audio'), ``model``,
    a rate (``quality``, ``bpp`` or ``bitrate``), ``preset``, ``threads``,
    ``device``, ``time_limit``, ``overwrite``, and the source description the
    medium needs (``width``/``height`` for images; ``fps`` for video;
    ``samplerate``/``channels`` for audio).
    """
    if mode == "r":
        return Reader(target, **options)
    if mode == "w":
        return Writer(target, **options)
    raise UsageError(f"mode must be 'r' or 'w', got {mode!r}")


def _rate_target(rate_unit: str, quality: Any, bpp: Any, bitrate: Any) -> float | None:
    """Check the rate arguments' types before any work; return the target rate (None: a quality).

    The range of ``quality`` is the model's to check; a bitrate may be text ('500k'), a bpp may not.
    """
    if quality is not None and (isinstance(quality, bool) or not isinstance(quality, (int, float))
                                or quality != quality):
        raise UsageError(f"quality must be a number, got {quality!r}")
    if bpp is not None and bitrate is not None:
        raise UsageError("give bpp or bitrate, not both")
    if quality is not None and (bpp is not None or bitrate is not None):
        raise UsageError("give a quality or a target rate, not both")
    if rate_unit == "bpp" and bitrate is not None:
        raise UsageError("images take a target in bits per pixel (bpp=), not a bitrate")
    if rate_unit != "bpp" and bpp is not None:
        raise UsageError("this medium takes a bitrate (bitrate=), not bpp")
    value = bpp if bpp is not None else bitrate
    if value is None:
        return None
    if isinstance(value, str) and bitrate is not None:
        value = parse_bitrate(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float("inf"):
        raise UsageError(f"the target rate must be a positive number, got {value!r}")
    return float(value)


def parse_bitrate(text: str) -> float:
    """'6k', '1.5M', '500000' -> bits per second."""
    scale = {"k": 1e3, "m": 1e6}.get(text[-1:].lower(), 1.0)
    number = text[:-1] if scale != 1.0 else text
    try:
        value = float(number) * scale
    except ValueError:
        raise UsageError(f"cannot read the bitrate {text!r}; write e.g. 6k, 500k or 1.5M") from None
    if not value > 0:
        raise UsageError(f"the bitrate must be positive, got {text!r}")
    return value


def _check_model_name(model: Any) -> None:
    if model is not None and not isinstance(model, str):
        raise UsageError(f"model must be a model id string (id, id@revision or a family name), got {model!r}")


def _check_int(name: str, value: Any, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise UsageError(f"{name} must be an integer >= {low}, got {value!r}")
    return value


class Writer:
    """Encodes items into one ``.nmc`` file; use as a context manager (an exception discards the file)."""

    def __init__(self, target: str | os.PathLike[str] | BinaryIO, *, media: str = "image", model: str | None = None,
                 quality: float | None = None, bpp: float | None = None, bitrate: float | str | None = None,
                 preset: str = "fast", threads: int = 1, device: str = "cpu", time_limit: float | None = None,
                 progress: Progress | None = None, overwrite: bool = False, source: SourceInfo | None = None,
                 model_options: dict[str, Any] | None = None, weights: Model | None = None,
                 **source_params: Any) -> None:
        self.medium = medium_named(media)
        _check_int("threads", threads)
        if time_limit is not None and (isinstance(time_limit, bool) or not isinstance(time_limit, (int, float))
                                       or time_limit <= 0):
            raise UsageError(f"time_limit must be a positive number of seconds, got {time_limit!r}")
        target_rate = _rate_target(self.medium.rate_unit, quality, bpp, bitrate)
        _check_model_name(model)
        self.info = source if source is not None else self.medium.source_info(**source_params)
        if weights is not None:
            self.model = weights
        else:
            from codec.zoo import model_for

            self.model = model_for(model, self.medium.media_type)
        extra = dict(model_options or {})
        extra["file_size"] = self._file_size
        self.options = EncodeOptions(quality=quality, target=target_rate, preset=preset, threads=threads,
                                     device=device, time_limit=time_limit, progress=progress or Progress(),
                                     extra=extra)
        self.session = self.model.encoder(self.info, self.options)
        self._stack = contextlib.ExitStack()
        if hasattr(target, "write"):
            self._stream = target
        else:
            self._stream = self._stack.enter_context(output_file(target, overwrite=overwrite, verify=check_file))
        self._container: ContainerWriter | None = None
        self._closed = False
        self.items = 0

    def _header(self) -> FileHeader:
        return FileHeader(self.medium.media_type, self.model.entry.full_id, self.model.digest, self.info,
                          codec_params=self.session.codec_params, quality=self.session.quality,
                          encoder=f"codec {__version__}")

    def _file_size(self, params: bytes, quality: int | None, segments: list[bytes] | tuple[bytes, ...]) -> int:
        """Bytes of a one-packet file with these parameters and segments (for target rates)."""
        header = FileHeader(self.medium.media_type, self.model.entry.full_id, self.model.digest, self.info,
                            codec_params=params, quality=quality, encoder=f"codec {__version__}")
        return len(build_container(header, [tuple(segments)]))

    def write(self, item: Any) -> None:
        """Encode one item (an image, a frame, a block of samples) and write the packets it completes."""
        if self._closed:
            raise UsageError("the writer is closed")
        self._emit(self.session.encode(item))
        self.items += 1

    def _emit(self, packets) -> None:
        for packet in packets:
            if self._container is None:
                self._container = ContainerWriter(self._stream, self._header())
            self._container.write_packet(packet.segments, pts=packet.pts, duration=packet.duration,
                                         random_access=packet.random_access)

    @property
    def bytes_written(self) -> int:
        return 0 if self._container is None else self._container.bytes_written

    def close(self) -> None:
        """Flush the encoder, write the end packet and trailer, and make the file appear."""
        if self._closed:
            return
        try:
            self._emit(self.session.flush())
            if self._container is None:
                raise UsageError(f"nothing was written: give at least one {self.medium.item_name}")
            frames, duration = self.session.totals()
            self._container.close(frames=frames, duration=duration)
        except BaseException as exc:
            self.abort(exc)
            raise
        self._closed = True
        self._stack.close()

    def abort(self, exc: BaseException | None = None) -> None:
        """Discard the output (a file path never appears)."""
        if self._closed:
            return
        self._closed = True
        error = exc or CodecError("writing was abandoned")
        try:
            self._stack.__exit__(type(error), error, error.__traceback__)
        except BaseException:
            pass

    def __enter__(self) -> "Writer":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc is None:
            self.close()
        else:
            self.abort(exc)


@dataclass(frozen=True)
class StreamInfo:
    """What a reader knows before decoding: from the header (and the end packet, when it can seek)."""

    media: str
    model: str
    family: str
    source: SourceInfo
    codec_params: dict
    frames: int | None
    duration_seconds: float | None
    file_bytes: int | None

    @property
    def width(self) -> int | None:
        return self.source.width

    @property
    def height(self) -> int | None:
        return self.source.height

    @property
    def fps(self) -> Fraction | None:
        return self.source.frame_rate

    @property
    def samplerate(self) -> int | None:
        return self.source.sample_rate

    @property
    def channels(self) -> int | None:
        return self.source.channels


class Reader:
    """Decodes one ``.nmc`` file item by item; see the module docstring."""

    def __init__(self, source: str | os.PathLike[str] | bytes | BinaryIO, *, threads: int = 1,
                 device: str = "cpu", output: str = "numpy", progress: Progress | None = None,
                 model_options: dict[str, Any] | None = None, weights: Model | None = None) -> None:
        _check_int("threads", threads)
        if not any(output in m.output_kinds for m in all_media()):
            raise UsageError(f"unknown output kind {output!r}; choose from "
                             f"{', '.join(sorted({k for m in all_media() for k in m.output_kinds}))}")
        self._stack = contextlib.ExitStack()
        self.name = "data"
        try:
            stream, size = self._open(source)
            self.container = ContainerReader(stream, size=size)
            header = self.container.header
            self.header = header
            self.medium = medium_for_type(header.media_type)
            if output not in self.medium.output_kinds:
                raise UsageError(f"output must be one of {', '.join(map(repr, self.medium.output_kinds))} "
                                 f"for {self.medium.name}, got {output!r}")
            self.output = output
            if weights is not None:
                if weights.digest != header.model_digest:
                    raise ModelMismatchError("the file was not coded with the given weights file (digest differs)")
                self.model = weights
            else:
                from codec.zoo import model_for_header

                self.model = model_for_header(header)
            params = self.model.family.check_params(header)
            self.session = self.model.decoder(header, DecodeOptions(threads=threads, device=device,
                                                                    progress=progress or Progress(),
                                                                    extra=dict(model_options or {})))
        except BadInputError as exc:
            self._stack.close()
            raise exc.in_file(self.name) if self.name != "data" else exc
        except BaseException:
            self._stack.close()
            raise
        end = None
        if self.container._seekable and header.media_type is not MediaType.IMAGE:
            try:
                end = self.container.read_end()
            except CorruptStreamError:
                end = None  # a damaged end is reported when iteration reaches it
        self.info = StreamInfo(self.medium.name, header.model_id, self.model.family.name, header.source, params,
                               end.frames if end else header.source.frame_count,
                               self._duration(end), size)
        self.items = 0

    def _open(self, source) -> tuple[BinaryIO, int | None]:
        if isinstance(source, (bytes, bytearray, memoryview)):
            data = bytes(source)
            return io.BytesIO(data), len(data)
        if hasattr(source, "read"):
            return source, None
        if not isinstance(source, (str, os.PathLike)):
            raise UsageError(f"a reader takes a path, bytes or a binary file object, not {type(source).__name__}")
        if os.fspath(source) == STDOUT:
            return sys.stdin.buffer, None
        self.name = os.fspath(source)
        try:
            f = self._stack.enter_context(builtins.open(source, "rb"))
        except FileNotFoundError:
            raise BadInputError("no such file") from None
        except IsADirectoryError:
            raise BadInputError("is a folder") from None
        except OSError as exc:
            raise BadInputError(f"cannot read it: {exc.strerror or exc}") from None
        st = os.fstat(f.fileno())
        return f, st.st_size if stat.S_ISREG(st.st_mode) else None

    def _duration(self, end) -> float | None:
        src = self.header.source
        if self.header.media_type is MediaType.AUDIO:
            samples = (end.duration if end and end.duration else None) or src.duration
            return None if samples is None else samples / src.sample_rate
        if self.header.media_type is MediaType.VIDEO:
            units = (end.duration if end and end.duration else None) or src.duration
            return None if units is None else float(units * src.time_base)
        return None

    def packets(self) -> Iterator[Packet]:
        return self.container.packets()

    def decoded(self) -> Iterator[Any]:
        """The model's items as they come out of the decoder (what a :class:`MediaSink` takes)."""
        try:
            packets = self.container.packets()
            if self.header.media_type is MediaType.IMAGE:
                # One packet: validate the whole file (end packet, trailer) before the model does any work.
                packets = iter(list(packets))
            for packet in packets:
                for item in self.session.decode(packet):
                    self.items += 1
                    yield item
            for item in self.session.flush():
                self.items += 1
                yield item
        except BadInputError as exc:
            raise exc.in_file(self.name) if self.name != "data" else exc

    def __iter__(self) -> Iterator[Any]:
        for item in self.decoded():
            yield self.medium.to_output(item, self.header.source, self.output)

    def seek(self, seconds: float) -> float:
        """Continue from the last random-access point at or before ``seconds``; returns its time."""
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
            raise UsageError(f"seek takes a non-negative number of seconds, got {seconds!r}")
        src = self.header.source
        if self.header.media_type is MediaType.IMAGE:
            raise UsageError("an image cannot be seeked")
        unit = Fraction(1, src.sample_rate) if self.header.media_type is MediaType.AUDIO else src.time_base
        index = self.container.read_end().index
        if not index:
            raise CorruptStreamError("the file has no random-access index")
        target = Fraction(seconds) / unit
        entry = index[0]
        for candidate in index:
            if candidate.pts <= target:
                entry = candidate
        self.container.seek_packet(entry.offset)
        self.session.reset()
        return float(entry.pts * unit)

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> "Reader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def media_of(source: Any, media: str | None) -> str:
    """The medium a source belongs to: given, from a path's extension, or 'image' for arrays and pictures."""
    if media is not None:
        medium_named(media)
        return media
    if isinstance(source, (str, os.PathLike)) and os.fspath(source) != STDOUT:
        from codec.media import medium_for_path, unsupported_source_message

        found = medium_for_path(Path(source))
        if found is None:
            raise BadInputError(unsupported_source_message(Path(source)))
        return found.name
    return "image"


def encode(source: Any, target: str | os.PathLike[str] | BinaryIO | None = None, *, media: str | None = None,
           source_options: dict[str, Any] | None = None, **options: Any) -> bytes | None:
    """Encode a whole source (a path, or an image as array/PIL/tensor) to ``target``, or to bytes if None."""
    medium = medium_named(media_of(source, media))
    _rate_target(medium.rate_unit, options.get("quality"), options.get("bpp"), options.get("bitrate"))
    _check_int("threads", options.get("threads", 1))
    _check_model_name(options.get("model"))
    if options.get("weights") is None:
        from codec.zoo import resolve

        resolve(options.get("model"), medium.media_type)  # a missing or unknown model: before reading the source
    if source_options is not None and not isinstance(source_options, dict):
        raise UsageError(f"source_options must be a dict, got {type(source_options).__name__}")
    with medium.open_source(source, source_options or {}) as src:
        buf = io.BytesIO() if target is None else target
        with Writer(buf, media=medium.name, source=src.info, **options) as writer:
            for item in src:
                writer.write(item)
        return buf.getvalue() if target is None else None


def decode(source: str | os.PathLike[str] | bytes | BinaryIO, target: str | os.PathLike[str] | BinaryIO | None = None,
           *, format: str | None = None, overwrite: bool = False, **options: Any) -> Any:  # noqa: A002
    """Decode a whole file to ``target`` (format from its extension, or ``format``), or return the items.

    Without a target, an image comes back as one array (or ``output`` kind), and
    video and audio as a list of items: use :func:`open` to stream long files.
    """
    with Reader(source, **options) as reader:
        if target is None:
            items = list(reader)
            return items[0] if reader.medium.name == "image" else items
        from codec.media import medium_for_output

        if format is None:
            format = reader.medium.output_formats()[0] if hasattr(target, "write") else \
                medium_for_output(Path(target), reader.header.media_type)
        sink = reader.medium.open_sink(target, format, reader.header.source, {"overwrite": overwrite})
        try:
            for item in reader.decoded():
                sink.write(item)
        except BaseException:
            sink.abort()
            raise
        sink.close()
        return None
