"""Audio: read with soundfile (WAV, FLAC, Ogg) or PyAV (MP3, M4A/AAC, Opus, pipes, anything FFmpeg reads),
as float32 blocks of shape (samples, channels); written as WAV or FLAC; rate in kbit/s.

Every source is streamed in blocks of about a second, so memory does not
grow with the length of the file. Integer samples are scaled to [-1, 1)
(int16 / 32768 and so on); float sources are passed through. The sample
rate and channel count are kept as they are: the header records them and
the decoder restores them. Rates the installed models cannot map exactly,
and sources without samples, are refused with one line that says why.
"""

from __future__ import annotations

import contextlib
import math
import os
import struct
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from codec.container.source import MAX_CHANNELS, MAX_SAMPLE_RATE, MediaType, SourceInfo
from codec.errors import BadInputError, UsageError
from codec.io.atomic import STDOUT, output_file
from codec.media.base import MediaSink, MediaSource, Medium
from codec.models.base import Option

BLOCK_SECONDS = 1.0
#: extensions libsndfile reads here (exact PCM); every other audio file goes through PyAV
SOUNDFILE_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".oga", ".aiff", ".aif"})
PYAV_EXTENSIONS = frozenset({".mp3", ".m4a", ".aac", ".opus", ".mka", ".webm", ".wma", ".ac3", ".mp2"})
OUTPUT_FORMATS = ("wav", "flac")
#: WAVE speaker-position bits of FFmpeg's channel names (SPEC: channel_layout)
SPEAKER_BITS = {"FL": 0, "FR": 1, "FC": 2, "LFE": 3, "BL": 4, "BR": 5, "FLC": 6, "FRC": 7, "BC": 8, "SL": 9,
                "SR": 10, "TC": 11, "TFL": 12, "TFC": 13, "TFR": 14, "TBL": 15, "TBC": 16, "TBR": 17}
#: layouts assumed when a source does not say: mono and stereo only (others stay 0, "unspecified order")
DEFAULT_LAYOUTS = {1: 0x4, 2: 0x3}


@dataclass(frozen=True)
class AudioClip:
    """Audio held in memory: (samples, channels) float32 at ``sample_rate`` (what ``codec eval audio`` loads)."""

    samples: np.ndarray
    sample_rate: int
    name: str = "audio"

    @property
    def channels(self) -> int:
        return self.samples.shape[1]

    @property
    def seconds(self) -> float:
        return self.samples.shape[0] / self.sample_rate


def layout_mask(names: list[str]) -> int:
    """The WAVE mask of FFmpeg channel names, or 0 when a name has no bit or repeats."""
    bits = [SPEAKER_BITS.get(n) for n in names]
    if None in bits or len(set(bits)) != len(bits):
        return 0
    return sum(1 << b for b in bits)


def check_rate(rate: int, channels: int) -> None:
    """Refuse what no header can carry (the model refuses what it cannot map, in its own words)."""
    if not 1 <= rate <= MAX_SAMPLE_RATE:
        raise BadInputError(f"sample rate {rate} Hz outside 1..{MAX_SAMPLE_RATE}")
    if not 1 <= channels <= MAX_CHANNELS:
        raise BadInputError(f"{channels} channels: audio files hold 1 to {MAX_CHANNELS}")


def to_float(block: np.ndarray) -> np.ndarray:
    """Samples of any PCM type as float32 in [-1, 1)."""
    if block.dtype.kind == "f":
        return block.astype(np.float32, copy=False)
    if block.dtype.kind == "i":
        return (block.astype(np.float64) / (1 << (8 * block.dtype.itemsize - 1))).astype(np.float32)
    if block.dtype.kind == "u":     # unsigned 8-bit PCM
        half = 1 << (8 * block.dtype.itemsize - 1)
        return ((block.astype(np.float64) - half) / half).astype(np.float32)
    raise BadInputError(f"unsupported sample type {block.dtype}")


class ClipSource(MediaSource):
    """An in-memory clip, handed out in blocks."""

    def __init__(self, clip: AudioClip) -> None:
        samples = np.asarray(clip.samples)
        if samples.ndim == 1:
            samples = samples[:, None]
        if samples.ndim != 2 or samples.shape[0] == 0:
            raise BadInputError("audio must be a non-empty (samples, channels) array")
        rate = int(clip.sample_rate)
        check_rate(rate, samples.shape[1])
        self.samples = to_float(samples)
        if not np.isfinite(self.samples).all():
            raise BadInputError("audio holds NaN or infinite samples")
        self.block = max(1, int(rate * BLOCK_SECONDS))
        self.length = math.ceil(samples.shape[0] / self.block)
        self.info = SourceInfo(sample_rate=rate, channels=samples.shape[1],
                               channel_layout=DEFAULT_LAYOUTS.get(samples.shape[1], 0), duration=samples.shape[0])

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(0, self.samples.shape[0], self.block):
            yield self.samples[i:i + self.block]


class SoundfileSource(MediaSource):
    """WAV, FLAC, Ogg and AIFF through libsndfile, block by block."""

    def __init__(self, path: Path) -> None:
        import soundfile as sf

        try:
            self.file = sf.SoundFile(str(path))
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise BadInputError(f"cannot read audio: {_clean(exc, path)}") from None
        rate, channels, frames = self.file.samplerate, self.file.channels, self.file.frames
        try:
            check_rate(rate, channels)
            if frames <= 0:
                raise BadInputError("the file holds no samples")
        except BadInputError:
            self.file.close()
            raise
        self.block = max(1, int(rate * BLOCK_SECONDS))
        self.length = math.ceil(frames / self.block)
        layout = _probe_layout(path, channels)
        self.info = SourceInfo(sample_rate=rate, channels=channels, channel_layout=layout, duration=frames)
        self.path = path

    def __iter__(self) -> Iterator[np.ndarray]:
        import soundfile as sf

        try:
            while True:
                block = self.file.read(self.block, dtype="float32", always_2d=True)
                if block.shape[0] == 0:
                    return
                yield block
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise BadInputError(f"cannot read audio: {_clean(exc, self.path)}") from None

    def close(self) -> None:
        self.file.close()


class PyAvSource(MediaSource):
    """Anything FFmpeg decodes (files, or a pipe), converted to float32 blocks at the stream's own rate."""

    def __init__(self, source: str | Path | BinaryIO, name: str) -> None:
        import av

        self.name = name
        try:
            self.container = av.open(source if hasattr(source, "read") else str(source), "r")
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise BadInputError(f"cannot read audio: {_clean(exc, name)}") from None
        if not self.container.streams.audio:
            self.container.close()
            raise BadInputError("no audio stream")
        self.stream = self.container.streams.audio[0]
        ctx = self.stream.codec_context
        rate, channels = ctx.sample_rate, ctx.layout.nb_channels if ctx.layout else ctx.channels
        try:
            check_rate(rate or 0, channels or 0)
        except BadInputError:
            self.container.close()
            raise
        names = [c.name for c in ctx.layout.channels] if ctx.layout else []
        mask = layout_mask(names) if len(names) == channels else 0
        self.info = SourceInfo(sample_rate=rate, channels=channels,
                               channel_layout=mask or DEFAULT_LAYOUTS.get(channels, 0))
        self.block = max(1, int(rate * BLOCK_SECONDS))

    def __iter__(self) -> Iterator[np.ndarray]:
        import av

        pending: list[np.ndarray] = []
        held = 0
        got = False
        try:
            for frame in self.container.decode(self.stream):
                if frame.sample_rate != self.info.sample_rate or len(frame.layout.channels) != self.info.channels:
                    raise BadInputError("the audio stream changes its sample rate or channel count midway")
                data = frame.to_ndarray()
                block = data.T if frame.format.is_planar else data.reshape(-1, self.info.channels)
                pending.append(to_float(np.ascontiguousarray(block)))
                held += block.shape[0]
                if held >= self.block:
                    got = True
                    yield np.concatenate(pending)
                    pending, held = [], 0
        except av.FFmpegError as exc:
            raise BadInputError(f"cannot decode audio: {_clean(exc, self.name)}") from None
        if pending:
            got = True
            yield np.concatenate(pending)
        if not got:
            raise BadInputError("the audio stream holds no samples")

    def close(self) -> None:
        self.container.close()


def _probe_layout(path: Path, channels: int) -> int:
    """The channel mask FFmpeg reads from a file's header (WAVE_FORMAT_EXTENSIBLE, FLAC, Vorbis)."""
    if channels in DEFAULT_LAYOUTS:
        return DEFAULT_LAYOUTS[channels]
    try:
        import av

        with av.open(str(path)) as c:
            layout = c.streams.audio[0].codec_context.layout
            names = [ch.name for ch in layout.channels]
            return layout_mask(names) if len(names) == channels else 0
    except Exception:  # a layout we cannot learn is recorded as unspecified
        return 0


def _clean(exc: BaseException, path: Path | str) -> str:
    """A library's message without local paths."""
    return str(exc).replace(str(path), Path(str(path)).name)


def open_audio(source: Any) -> MediaSource:
    if isinstance(source, AudioClip):
        return ClipSource(source)
    if isinstance(source, tuple) and len(source) == 2:
        return ClipSource(AudioClip(np.asarray(source[0]), int(source[1])))
    if isinstance(source, np.ndarray):
        raise UsageError("an audio array needs its sample rate: pass (samples, rate) or an AudioClip")
    if hasattr(source, "read"):
        return PyAvSource(source, "stream")
    if isinstance(source, (str, os.PathLike)):
        if os.fspath(source) == STDOUT:
            return PyAvSource(sys.stdin.buffer, "standard input")
        path = Path(source)
        if not path.exists():
            raise BadInputError(f"{path}: no such file")
        if path.is_dir():
            raise BadInputError(f"{path}: is a folder")
        if path.suffix.lower() in SOUNDFILE_EXTENSIONS:
            try:
                return SoundfileSource(path)
            except BadInputError:
                if path.suffix.lower() not in (".ogg", ".oga"):   # Ogg Opus: libsndfile builds may lack it
                    raise
        return PyAvSource(path, path.name)
    raise UsageError(f"cannot read audio from a {type(source).__name__}")


# -- writing ------------------------------------------------------------------------------------------
def _seconds(name: str):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise UsageError(f"{name} takes seconds, got {text!r}") from None
        if not (math.isfinite(value) and value >= 0):
            raise UsageError(f"{name} must be a non-negative number of seconds, got {text!r}")
        return value
    return parse


def _bits(text: str) -> str:
    if text not in ("16", "24", "float"):
        raise UsageError(f"--sample-format takes 16, 24 or float, got {text!r}")
    return text


class WavWriter:
    """A streaming WAV writer: the RIFF sizes are patched at the end when the output can seek, and left at
    their maximum (what FFmpeg writes to pipes) when it cannot."""

    def __init__(self, stream: BinaryIO, rate: int, channels: int, sample_format: str) -> None:
        self.stream, self.channels, self.fmt = stream, channels, sample_format
        self.width = {"16": 2, "24": 3, "float": 4}[sample_format]
        self.data_bytes = 0
        tag = 3 if sample_format == "float" else 1
        block = channels * self.width
        self.stream.write(b"RIFF" + struct.pack("<I", 0xFFFFFFFF) + b"WAVE" + b"fmt " +
                          struct.pack("<IHHIIHH", 16, tag, channels, rate, rate * block, block, 8 * self.width) +
                          b"data" + struct.pack("<I", 0xFFFFFFFF))

    def write(self, block: np.ndarray) -> None:
        if self.fmt == "float":
            data = np.ascontiguousarray(block, dtype="<f4").tobytes()
        else:
            scale = (1 << (8 * self.width - 1))
            ints = np.clip(np.round(block.astype(np.float64) * scale), -scale, scale - 1).astype("<i4")
            data = ints.tobytes() if self.width == 4 else \
                ints.view(np.uint8).reshape(-1, 4)[:, :self.width].tobytes()
        self.stream.write(data)
        self.data_bytes += len(data)

    def close(self) -> None:
        if self.data_bytes % 2:
            self.stream.write(b"\0")
        try:
            self.stream.seek(4)
        except (OSError, ValueError, AttributeError):
            return
        self.stream.write(struct.pack("<I", min(0xFFFFFFFF, 36 + self.data_bytes + self.data_bytes % 2)))
        self.stream.seek(40)
        self.stream.write(struct.pack("<I", min(0xFFFFFFFF, self.data_bytes)))
        self.stream.seek(0, os.SEEK_END)


class FlacWriter:
    def __init__(self, stream: BinaryIO, rate: int, channels: int, sample_format: str) -> None:
        import soundfile as sf

        if sample_format == "float":
            raise UsageError("FLAC holds integer samples: use --sample-format 16 or 24, or a .wav output")
        self.file = sf.SoundFile(stream, "w", samplerate=rate, channels=channels, format="FLAC",
                                 subtype="PCM_24" if sample_format == "24" else "PCM_16")

    def write(self, block: np.ndarray) -> None:
        self.file.write(np.clip(block, -1.0, 1.0 - 2 ** -23))

    def close(self) -> None:
        self.file.close()


class AudioSink(MediaSink):
    """Writes decoded blocks as WAV or FLAC, keeping only ``[start, start + duration)`` when asked."""

    def __init__(self, target: str | Path | BinaryIO, fmt: str, info: SourceInfo, options: Mapping[str, Any]) -> None:
        rate, channels = info.sample_rate, info.channels
        self.first = int(round((options.get("start") or 0.0) * rate))
        duration = options.get("duration")
        self.stop = None if duration is None else self.first + int(round(duration * rate))
        self.position = 0
        self.stack = contextlib.ExitStack()
        if hasattr(target, "write"):
            stream = target
        else:
            if fmt == "flac" and os.fspath(target) == STDOUT:
                raise UsageError("FLAC cannot be streamed to standard output here; write WAV to a pipe")
            stream = self.stack.enter_context(output_file(target, overwrite=bool(options.get("overwrite"))))
        sample_format = options.get("sample_format") or "16"
        try:
            writer = WavWriter if fmt == "wav" else FlacWriter
            self.writer = writer(stream, rate, channels, sample_format)
        except BaseException as exc:
            self.abort(exc)
            raise
        self.closed = False

    def write(self, item: np.ndarray) -> None:
        n = item.shape[0]
        lo = max(self.first - self.position, 0)
        hi = n if self.stop is None else min(n, self.stop - self.position)
        self.position += n
        if hi > lo:
            self.writer.write(item[lo:hi])

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.writer.close()
        except BaseException as exc:
            self.abort(exc)
            raise
        self.stack.close()

    def abort(self, exc: BaseException | None = None) -> None:
        error = exc or UsageError("writing was abandoned")
        with contextlib.suppress(BaseException):
            self.stack.__exit__(type(error), error, error.__traceback__)


class AudioMedium(Medium):
    name = "audio"
    media_type = MediaType.AUDIO
    rate_unit = "bitrate"
    item_name = "block"
    output_kinds = ("numpy", "torch")
    decode_options = (
        Option(("--start",), "start", "audio: first second to write (decodes from the start, writes from here)",
               type=_seconds("--start"), metavar="T"),
        Option(("--duration",), "duration", "audio: seconds to write at most", type=_seconds("--duration"),
               metavar="D"),
        Option(("--sample-format",), "sample_format", "audio: output samples: 16 (default), 24 or float (WAV)",
               type=_bits, metavar="F"),
    )

    def source_extensions(self) -> frozenset[str]:
        return SOUNDFILE_EXTENSIONS | PYAV_EXTENSIONS

    def output_formats(self) -> tuple[str, ...]:
        return OUTPUT_FORMATS

    def lossless_formats(self) -> tuple[str, ...]:
        return OUTPUT_FORMATS

    def open_source(self, source: Any, options: Mapping[str, Any]) -> MediaSource:
        return open_audio(source)

    def source_info(self, *, samplerate: int, channels: int = 1, channel_layout: int | None = None,
                    **unused: Any) -> SourceInfo:
        if unused:
            raise UsageError(f"audio takes samplerate, channels and channel_layout, not {', '.join(unused)}")
        for name, value in (("samplerate", samplerate), ("channels", channels)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise UsageError(f"{name} must be an integer, got {value!r}")
        try:
            check_rate(samplerate, channels)
        except BadInputError as exc:
            raise UsageError(str(exc)) from None
        layout = DEFAULT_LAYOUTS.get(channels, 0) if channel_layout is None else channel_layout
        if layout and bin(layout).count("1") != channels:
            raise UsageError(f"channel_layout 0x{layout:x} does not have {channels} channels")
        return SourceInfo(sample_rate=samplerate, channels=channels, channel_layout=layout)

    def open_sink(self, target, fmt: str, info: SourceInfo, options: Mapping[str, Any]) -> MediaSink:
        return AudioSink(target, fmt, info, options)

    def rate(self, file_bytes: int, info: SourceInfo, *, frames: int | None = None,
             duration_seconds: float | None = None) -> dict[str, float]:
        seconds = duration_seconds if duration_seconds is not None else \
            (info.duration / info.sample_rate if info.duration else None)
        if not seconds:
            return {"bytes": float(file_bytes)}
        return {"kbit_per_second": 8 * file_bytes / seconds / 1000}

    def verify_file(self, path: Path) -> None:
        import soundfile as sf

        try:
            with sf.SoundFile(str(path)) as f:
                while f.read(1 << 16, dtype="float32").shape[0]:
                    pass
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise BadInputError(f"{path.name} is not a complete audio file: {_clean(exc, path)}") from None

    def conformance_sample(self) -> AudioClip:
        """0.6 s of stereo at 16 kHz: a chirp on the left, a decaying two-tone note on the right."""
        rate = 16000
        t = np.arange(int(0.6 * rate)) / rate
        left = 0.3 * np.sin(2 * np.pi * (200 * t + 1500 * t ** 2))
        right = 0.25 * np.exp(-3 * t) * (np.sin(2 * np.pi * 440 * t) + 0.5 * np.sin(2 * np.pi * 660 * t))
        return AudioClip(np.stack([left, right], axis=1).astype(np.float32), rate, "conformance")

    def to_output(self, item: np.ndarray, info: SourceInfo, kind: str) -> Any:
        if kind == "torch":
            import torch

            return torch.from_numpy(item)
        return item


MEDIUM = AudioMedium()
