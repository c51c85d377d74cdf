"""Video: frames of 8-bit YUV 4:2:0 planes, read from anything FFmpeg reads, .y4m, raw .yuv or a y4m pipe.

Items are :class:`VideoFrame` (three numpy planes and a pts in the source's
time base, one unit per frame). Sources:

- ``.y4m`` files and ``-`` (standard input, a y4m stream) are parsed here,
  so pipes work without FFmpeg (``ffmpeg -i in.mkv -f yuv4mpegpipe - | codec
  encode - --media video``);
- raw ``.yuv`` needs ``-s WxH`` (and ``-r FPS``, default 25): planar 4:2:0;
- anything else goes through PyAV (FFmpeg): mp4, mkv, H.264/HEVC/AV1
  streams, ...

What the codec cannot carry is converted with a note, or refused with one
clear message: other chroma formats and bit depths become 8-bit 4:2:0
(noted), a variable frame rate is coded at its average rate (noted),
interlaced video and sources without frames are refused. ``--start T``
and ``--frames N`` choose a part of the source (encoding) or of the
decoded file (decoding).

Decoded frames are written as ``.y4m``, raw ``.yuv``, or a preview: ``.mkv``
(FFV1, lossless) or ``.mp4`` (H.264, CRF 12, playable everywhere). The rate
of a coded file is in kbit/s.
"""

from __future__ import annotations

import contextlib
import errno
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from codec.container.source import ChromaFormat, MediaType, SourceInfo
from codec.errors import BadInputError, OutputError, UsageError
from codec.io.atomic import output_file
from codec.media.base import MediaSink, MediaSource, Medium
from codec.models.base import Option

UNSPECIFIED = 2          # H.273 "unspecified" primaries, transfer, matrix
DEFAULT_FPS = Fraction(25)
MAX_FPS = Fraction(1000)
Y4M_MAGIC = b"YUV4MPEG2"
#: extensions of containers that may hold audio without video
CONTAINERS = frozenset({".mp4", ".mkv", ".mov", ".webm", ".avi", ".ts", ".mts", ".m2ts", ".mpg", ".mpeg", ".flv",
                        ".wmv", ".ogv", ".nut", ".m4v"})
_Y4M_LINE = 4096         # longest header or frame line accepted
PYAV_EXTENSIONS = frozenset({".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v", ".ts", ".mts", ".m2ts", ".mpg",
                             ".mpeg", ".flv", ".wmv", ".ogv", ".264", ".h264", ".avc", ".265", ".h265", ".hevc",
                             ".ivf", ".obu", ".jsv", ".266", ".vvc", ".nut"})


# -- items ---------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class VideoFrame:
    """One frame: luma ``y`` (H, W) and chroma ``u``, ``v`` ((H+1)//2, (W+1)//2), uint8; ``pts`` in frames."""

    y: np.ndarray
    u: np.ndarray
    v: np.ndarray
    pts: int | None = None

    @property
    def width(self) -> int:
        return int(self.y.shape[1])

    @property
    def height(self) -> int:
        return int(self.y.shape[0])

    @property
    def planes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.y, self.u, self.v

    def to_bytes(self) -> bytes:
        """The planes one after the other (raw I420)."""
        return b"".join(np.ascontiguousarray(p).tobytes() for p in self.planes)

    def to_rgb(self, matrix: int = 6, full_range: bool = False) -> np.ndarray:
        """HxWx3 uint8 RGB (BT.709 for matrix 1, BT.601 otherwise; bilinear chroma)."""
        return yuv420_to_rgb(self.y, self.u, self.v, matrix=matrix, full_range=full_range)

    @classmethod
    def from_rgb(cls, rgb: np.ndarray, *, matrix: int = 6, full_range: bool = False,
                 pts: int | None = None) -> "VideoFrame":
        return cls(*rgb_to_yuv420(rgb, matrix=matrix, full_range=full_range), pts=pts)


def chroma_size(height: int, width: int) -> tuple[int, int]:
    return (height + 1) // 2, (width + 1) // 2


def _coefficients(matrix: int) -> tuple[float, float]:
    return (0.2126, 0.0722) if matrix == 1 else (0.299, 0.114)


def rgb_to_yuv420(rgb: np.ndarray, *, matrix: int = 6, full_range: bool = False):
    """HxWx3 uint8 RGB -> (y, u, v) uint8 planes; chroma is the 2x2 mean (edges repeated for odd sizes)."""
    kr, kb = _coefficients(matrix)
    x = np.asarray(rgb, dtype=np.float64) / 255
    luma = kr * x[..., 0] + (1 - kr - kb) * x[..., 1] + kb * x[..., 2]
    cb = (x[..., 2] - luma) / (2 * (1 - kb))
    cr = (x[..., 0] - luma) / (2 * (1 - kr))
    ys, cs, off = (255.0, 255.0, 0.0) if full_range else (219.0, 224.0, 16.0)
    h, w = luma.shape
    planes = [luma * ys + off]
    for c in (cb, cr):
        c = np.pad(c, ((0, h % 2), (0, w % 2)), mode="edge")
        planes.append(c.reshape(c.shape[0] // 2, 2, c.shape[1] // 2, 2).mean(axis=(1, 3)) * cs + 128)
    return tuple(np.clip(np.rint(p), 0, 255).astype(np.uint8) for p in planes)


def _upsample(plane: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear 2x upsampling of centre-sited chroma."""
    def axis(p: np.ndarray, size: int, ax: int) -> np.ndarray:
        n = p.shape[ax]
        pos = np.clip((np.arange(size) + 0.5) / 2 - 0.5, 0, n - 1)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, n - 1)
        shape = [1, 1]
        shape[ax] = size
        a, b = np.take(p, lo, axis=ax), np.take(p, hi, axis=ax)
        return a + (b - a) * (pos - lo).reshape(shape)

    return axis(axis(plane.astype(np.float64), height, 0), width, 1)


def yuv420_to_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray, *, matrix: int = 6,
                  full_range: bool = False) -> np.ndarray:
    kr, kb = _coefficients(matrix)
    h, w = y.shape
    ys, cs, off = (255.0, 255.0, 0.0) if full_range else (219.0, 224.0, 16.0)
    luma = (y.astype(np.float64) - off) / ys
    cb = (_upsample(u, h, w) - 128) / cs
    cr = (_upsample(v, h, w) - 128) / cs
    r = luma + 2 * (1 - kr) * cr
    b = luma + 2 * (1 - kb) * cb
    g = (luma - kr * r - kb * b) / (1 - kr - kb)
    return np.clip(np.rint(np.stack([r, g, b], axis=-1) * 255), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class Clip:
    """A whole clip in memory: what ``codec.encode`` takes for video, and what ``codec eval video`` loads."""

    frames: tuple[VideoFrame, ...]
    fps: Fraction = DEFAULT_FPS
    full_range: bool = False
    matrix: int = UNSPECIFIED
    colour_primaries: int = UNSPECIFIED
    transfer: int = UNSPECIFIED

    def info(self) -> SourceInfo:
        if not self.frames:
            raise BadInputError("the clip holds no frames")
        first = self.frames[0]
        return video_info(first.width, first.height, self.fps, full_range=self.full_range, matrix=self.matrix,
                          colour_primaries=self.colour_primaries, transfer=self.transfer,
                          frame_count=len(self.frames))


def video_info(width: int, height: int, fps: Fraction, *, full_range: bool = False, matrix: int = UNSPECIFIED,
               colour_primaries: int = UNSPECIFIED, transfer: int = UNSPECIFIED,
               frame_count: int | None = None) -> SourceInfo:
    """The description of 8-bit 4:2:0 video; one time-base unit is one frame."""
    fps = check_fps(fps)
    return SourceInfo(width=width, height=height, bit_depth=8, components=3, chroma_format=ChromaFormat.YUV420,
                      colour_primaries=colour_primaries, transfer=transfer, matrix=matrix, full_range=full_range,
                      time_base=1 / fps, frame_rate=fps, frame_count=frame_count)


def check_fps(fps: Any) -> Fraction:
    try:
        value = Fraction(fps).limit_denominator(1_000_000) if isinstance(fps, float) else Fraction(fps)
    except (TypeError, ValueError, ZeroDivisionError):
        raise UsageError(f"frame rate must be a positive number, got {fps!r}") from None
    if not 0 < value <= MAX_FPS:
        raise UsageError(f"frame rate must be in (0, {MAX_FPS}] frames per second, got {fps}")
    return value


def as_frame(item: Any, info: SourceInfo, pts: int | None = None) -> VideoFrame:
    """A frame from what a caller hands ``codec.open(..., 'w', media='video')``: a VideoFrame, (y, u, v) planes,
    or an HxWx3 uint8 RGB array (converted with the file's matrix and range); sizes are checked."""
    if isinstance(item, VideoFrame):
        frame = item
    elif isinstance(item, (tuple, list)) and len(item) == 3:
        frame = VideoFrame(*(np.asarray(p) for p in item), pts=pts)
    elif isinstance(item, np.ndarray) and item.ndim == 3 and item.shape[2] == 3:
        if item.dtype != np.uint8:
            raise UsageError(f"RGB frames must be uint8, got {item.dtype}")
        frame = VideoFrame.from_rgb(item, matrix=info.matrix, full_range=bool(info.full_range), pts=pts)
    else:
        raise UsageError("a video frame is a VideoFrame, a (y, u, v) tuple of uint8 planes or an HxWx3 uint8 "
                         f"RGB array, not {type(item).__name__}")
    expected = [(info.height, info.width), chroma_size(info.height, info.width), chroma_size(info.height, info.width)]
    for plane, shape, name in zip(frame.planes, expected, "yuv"):
        if plane.shape != shape or plane.dtype != np.uint8:
            raise UsageError(f"plane {name} is {plane.shape} {plane.dtype}; the file was opened for "
                             f"{info.width}x{info.height} 8-bit 4:2:0 ({name}: {shape} uint8)")
    return frame


# -- reading -------------------------------------------------------------------------------------


def _read_exact(stream: BinaryIO, size: int) -> bytes:
    chunks, left = [], size
    while left:
        data = stream.read(left)
        if not data:
            break
        chunks.append(data)
        left -= len(data)
    return b"".join(chunks)


def _readline(stream: BinaryIO, what: str) -> bytes:
    line = bytearray()
    while len(line) < _Y4M_LINE:
        c = stream.read(1)
        if not c:
            return bytes(line)
        if c == b"\n":
            return bytes(line) + b"\n"
        line += c
    raise BadInputError(f"{what} is longer than {_Y4M_LINE} bytes: not a y4m stream")


def _to_8bit_420(planes: list[np.ndarray], chroma: str, bits: int, height: int, width: int) -> list[np.ndarray]:
    """Planes of another y4m chroma format or depth as 8-bit 4:2:0 (rounded; chroma 2x2 or 2x1 means)."""
    if bits > 8:
        planes = [(p.astype(np.uint32) + (1 << (bits - 9))) >> (bits - 8) for p in planes]
    planes = [np.minimum(p, 255).astype(np.float64) if p is not None else None for p in planes]
    ch, cw = chroma_size(height, width)
    if chroma == "mono":
        planes = [planes[0], np.full((ch, cw), 128.0), np.full((ch, cw), 128.0)]
    elif chroma in ("422", "444"):
        out = [planes[0]]
        for p in planes[1:]:
            if chroma == "444":
                p = np.pad(p, ((0, height % 2), (0, width % 2)), mode="edge")
                p = p.reshape(p.shape[0] // 2, 2, p.shape[1] // 2, 2).mean(axis=(1, 3))
            else:
                p = np.pad(p, ((0, height % 2), (0, 0)), mode="edge")
                p = p.reshape(p.shape[0] // 2, 2, p.shape[1]).mean(axis=1)
            out.append(p)
        planes = out
    return [np.clip(np.rint(p), 0, 255).astype(np.uint8) for p in planes]


_Y4M_CHROMA = re.compile(r"^(420jpeg|420paldv|420mpeg2|420|422|444|mono)(?:p(\d+))?$")


class Y4mSource(MediaSource):
    """A YUV4MPEG2 stream (a file or a pipe), read frame by frame."""

    def __init__(self, stream: BinaryIO, name: str, options: Mapping[str, Any], *, file_size: int | None = None,
                 owned: bool = False) -> None:
        self.stream, self.name, self.owned = stream, name, owned
        self.notes: list[str] = []
        line = _readline(stream, "the y4m header")
        if not line.startswith(Y4M_MAGIC + b" ") or not line.endswith(b"\n"):
            raise BadInputError(f"{name}: not a y4m stream (it must start with 'YUV4MPEG2 ')")
        fields = {}
        for token in line[len(Y4M_MAGIC):].decode("ascii", "replace").split():
            if token[0] == "X":
                key, _, value = token[1:].partition("=")
                fields["X" + key] = value
            else:
                fields[token[0]] = token[1:]
        try:
            width, height = int(fields["W"]), int(fields["H"])
        except (KeyError, ValueError):
            raise BadInputError(f"{name}: y4m header without a valid W and H") from None
        if not (1 <= width <= 65535 and 1 <= height <= 65535 and width * height <= 1 << 28):
            raise BadInputError(f"{name}: y4m frame size {width}x{height} is out of range")
        num, _, den = fields.get("F", "25:1").partition(":")
        try:
            fps = check_fps(Fraction(int(num), int(den or 1)))
        except (ValueError, ZeroDivisionError, UsageError):
            raise BadInputError(f"{name}: invalid y4m frame rate {fields.get('F')!r}") from None
        interlace = fields.get("I", "p")
        if interlace in ("t", "b", "m"):
            raise BadInputError(f"{name}: interlaced video (y4m I{interlace}) is not supported; deinterlace it "
                                f"first, e.g. ffmpeg -i IN -vf bwdif -f yuv4mpegpipe -")
        chroma = fields.get("C", "420jpeg")
        match = _Y4M_CHROMA.match(chroma)
        if not match:
            raise BadInputError(f"{name}: unsupported y4m colour format C{chroma}")
        self.chroma = "420" if match.group(1).startswith("420") else match.group(1)
        self.bits = int(match.group(2) or 8)
        if not 8 <= self.bits <= 16:
            raise BadInputError(f"{name}: unsupported y4m bit depth {self.bits}")
        if self.chroma != "420" or self.bits != 8:
            self.notes.append(f"{chroma} converted to 8-bit 4:2:0 (the codec codes 8-bit 4:2:0)")
        full = fields.get("XCOLORRANGE", "").upper() == "FULL"
        self.width, self.height = width, height
        sample = 2 if self.bits > 8 else 1
        ch, cw = chroma_size(height, width)
        chroma_plane = {"420": ch * cw, "422": height * cw, "444": height * width, "mono": 0}[self.chroma]
        self._plane_sizes = [(height, width)] + ([] if self.chroma == "mono" else
                                                 [{"420": (ch, cw), "422": (height, cw),
                                                   "444": (height, width)}[self.chroma]] * 2)
        self.frame_bytes = sample * (height * width + 2 * chroma_plane)
        self.start, self.limit = _window(options)
        count = None
        if file_size is not None:
            per_frame = len(b"FRAME\n") + self.frame_bytes
            count = max(0, (file_size - len(line)) // per_frame)
            self.length = _clip_count(count, fps, self.start, self.limit)
        self.info = video_info(width, height, fps, full_range=full,
                               frame_count=self.length if file_size is not None else None)

    def __iter__(self) -> Iterator[VideoFrame]:
        skip = math.ceil(self.start * self.info.frame_rate - 1e-9) if self.start else 0
        index = emitted = 0
        while self.limit is None or emitted < self.limit:
            line = _readline(self.stream, "a y4m frame line")
            if not line:
                break
            if not line.startswith(b"FRAME") or not line.endswith(b"\n"):
                raise BadInputError(f"{self.name}: damaged y4m stream at frame {index} (no FRAME marker)")
            data = _read_exact(self.stream, self.frame_bytes)
            if len(data) != self.frame_bytes:
                raise BadInputError(f"{self.name}: y4m stream ends inside frame {index}")
            index += 1
            if index <= skip:
                continue
            yield VideoFrame(*self._planes(data), pts=emitted)
            emitted += 1
        if emitted == 0:
            raise BadInputError(f"{self.name}: no video frames" + (" after --start" if skip else ""))

    def _planes(self, data: bytes) -> list[np.ndarray]:
        dtype = np.dtype("<u2") if self.bits > 8 else np.dtype(np.uint8)
        planes, pos = [], 0
        for h, w in self._plane_sizes:
            n = h * w * dtype.itemsize
            planes.append(np.frombuffer(data, dtype, h * w, pos).reshape(h, w))
            pos += n
        if self.chroma == "420" and self.bits == 8:
            return planes
        return _to_8bit_420(planes + [None] * (3 - len(planes)), self.chroma, self.bits, self.height, self.width)

    def close(self) -> None:
        if self.owned:
            self.stream.close()


class RawYuvSource(MediaSource):
    """Planar 8-bit 4:2:0 frames back to back; the size (and rate) come from options."""

    def __init__(self, path: Path, options: Mapping[str, Any]) -> None:
        size = options.get("size")
        if not size:
            raise UsageError(f"{path.name}: raw .yuv needs its frame size: -s WIDTHxHEIGHT (and -r FPS)")
        width, height = size
        self.notes: list[str] = []
        fps = options.get("fps")
        if fps is None:
            fps = DEFAULT_FPS
            self.notes.append(f"raw video without -r: taken as {DEFAULT_FPS} frames per second")
        ch, cw = chroma_size(height, width)
        self.frame_bytes = height * width + 2 * ch * cw
        self.width, self.height = width, height
        try:
            self.file = open(path, "rb")
        except OSError as exc:
            raise BadInputError(f"cannot read {path}: {exc.strerror or exc}") from None
        total = Path(path).stat().st_size
        count = total // self.frame_bytes
        if total % self.frame_bytes:
            self.notes.append(f"{total % self.frame_bytes} bytes at the end do not make a whole {width}x{height} "
                              f"frame and are ignored (is -s right?)")
        self.start, self.limit = _window(options)
        self.name = path.name
        self.length = _clip_count(count, check_fps(fps), self.start, self.limit)
        if self.length == 0:
            raise BadInputError(f"{path.name}: no video frames" + (" after --start" if self.start else
                                                                  f" (smaller than one {width}x{height} frame)"))
        self.info = video_info(width, height, fps, frame_count=self.length)

    def __iter__(self) -> Iterator[VideoFrame]:
        first = math.ceil(self.start * self.info.frame_rate - 1e-9) if self.start else 0
        self.file.seek(first * self.frame_bytes)
        ch, cw = chroma_size(self.height, self.width)
        for i in range(self.length):
            data = _read_exact(self.file, self.frame_bytes)
            if len(data) != self.frame_bytes:
                raise BadInputError(f"{self.name}: file ends inside frame {first + i}")
            y = np.frombuffer(data, np.uint8, self.height * self.width).reshape(self.height, self.width)
            u = np.frombuffer(data, np.uint8, ch * cw, self.height * self.width).reshape(ch, cw)
            v = np.frombuffer(data, np.uint8, ch * cw, self.height * self.width + ch * cw).reshape(ch, cw)
            yield VideoFrame(y, u, v, pts=i)

    def close(self) -> None:
        self.file.close()


class PyAvSource(MediaSource):
    """Any video FFmpeg decodes; the first video stream, converted to 8-bit 4:2:0 where needed."""

    def __init__(self, path: Path, options: Mapping[str, Any]) -> None:
        import av

        self.name = path.name
        self.notes: list[str] = []
        self.start, self.limit = _window(options)
        try:
            self.container = av.open(str(path))
        except (av.error.FFmpegError, OSError) as exc:
            raise BadInputError(f"{path.name}: not a video FFmpeg can read ({_av_message(exc)})") from None
        try:
            if not self.container.streams.video:
                raise BadInputError(f"{path.name}: holds no video stream")
            self.stream = self.container.streams.video[0]
            self.stream.thread_type = "AUTO"
            self._frames = self._decoded()
            try:
                self._first = next(self._frames)
            except StopIteration:
                raise BadInputError(f"{path.name}: no video frames" + (" after --start" if self.start else ""))
            first = self._first
            if first.interlaced_frame:
                raise BadInputError(f"{path.name}: interlaced video is not supported; deinterlace it first, "
                                    f"e.g. ffmpeg -i {path.name} -vf bwdif out.mkv")
            fps = self.stream.average_rate or self.stream.guessed_rate or self.stream.base_rate
            if not fps:
                fps = DEFAULT_FPS
                self.notes.append(f"no frame rate in the file: taken as {DEFAULT_FPS} frames per second")
            base = self.stream.base_rate
            if base and fps and abs(float(base) - float(fps)) > 0.01 * float(fps):
                self.notes.append(f"variable frame rate ({float(fps):.3f} average, {float(base):.3f} nominal): "
                                  f"frames are coded in order at a constant {float(fps):.3f} fps")
            fmt = first.format.name
            if fmt not in ("yuv420p", "yuvj420p"):
                self.notes.append(f"{fmt} converted to 8-bit 4:2:0 (the codec codes 8-bit 4:2:0)")
            self.full_range = fmt == "yuvj420p" or first.color_range == 2
            self.info = video_info(first.width, first.height, check_fps(fps), full_range=self.full_range,
                                   matrix=_code_point(first.colorspace),
                                   colour_primaries=_code_point(first.color_primaries),
                                   transfer=_code_point(first.color_trc))
            if self.limit is not None:
                self.length = self.limit
        except BaseException:
            self.container.close()
            raise

    def _decoded(self):
        import av

        skip_until = None
        if self.start:
            tb = self.stream.time_base
            if tb:
                with contextlib.suppress(av.error.FFmpegError):
                    self.container.seek(int(self.start / tb), stream=self.stream, backward=True)
            skip_until = self.start
        index = 0
        try:
            for frame in self.container.decode(self.stream):
                if skip_until is not None:
                    t = frame.time if frame.time is not None else index / float(self.stream.average_rate or 25)
                    index += 1
                    if t < skip_until - 1e-6:
                        continue
                yield frame
        except av.error.FFmpegError as exc:
            raise BadInputError(f"{self.name}: cannot be decoded further ({_av_message(exc)})") from None

    def __iter__(self) -> Iterator[VideoFrame]:
        emitted = 0
        frames = self._frames
        pending = [self._first]
        while self.limit is None or emitted < self.limit:
            frame = pending.pop() if pending else next(frames, None)
            if frame is None:
                break
            if (frame.width, frame.height) != (self.info.width, self.info.height):
                raise BadInputError(f"{self.name}: the frame size changes at frame {emitted} "
                                    f"({frame.width}x{frame.height}); the codec needs one size")
            yield VideoFrame(*_planes_420(frame), pts=emitted)
            emitted += 1

    def close(self) -> None:
        self.container.close()


def _av_message(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc)


def _code_point(value: Any) -> int:
    try:
        value = int(value)
    except (TypeError, ValueError):
        return UNSPECIFIED
    return value if 0 <= value <= 255 and value not in (0,) else UNSPECIFIED


def _planes_420(frame) -> list[np.ndarray]:
    if frame.format.name not in ("yuv420p", "yuvj420p"):
        frame = frame.reformat(format="yuv420p")
    h, w = frame.height, frame.width
    ch, cw = chroma_size(h, w)
    return [np.frombuffer(p, np.uint8).reshape(-1, p.line_size)[:rows, :cols].copy()
            for p, (rows, cols) in zip(frame.planes, [(h, w), (ch, cw), (ch, cw)])]


class ClipSource(MediaSource):
    """An in-memory :class:`Clip` (or a sequence of frames at 25 fps)."""

    def __init__(self, clip: Clip, options: Mapping[str, Any]) -> None:
        start, limit = _window(options)
        first = math.ceil(start * clip.fps - 1e-9) if start else 0
        frames = clip.frames[first: None if limit is None else first + limit]
        if not frames:
            raise BadInputError("no video frames" + (" after --start" if start else ""))
        self.clip = Clip(tuple(frames), clip.fps, clip.full_range, clip.matrix, clip.colour_primaries, clip.transfer)
        self.info = self.clip.info()
        self.length = len(frames)
        self.notes: list[str] = []

    def __iter__(self) -> Iterator[VideoFrame]:
        for i, frame in enumerate(self.clip.frames):
            yield as_frame(frame, self.info, pts=i)


def _window(options: Mapping[str, Any]) -> tuple[float, int | None]:
    start = options.get("start") or 0.0
    limit = options.get("frames")
    if start < 0:
        raise UsageError(f"--start must not be negative, got {start}")
    if limit is not None and limit < 1:
        raise UsageError(f"--frames must be at least 1, got {limit}")
    return float(start), limit


def _clip_count(count: int, fps: Fraction, start: float, limit: int | None) -> int:
    first = math.ceil(start * fps - 1e-9) if start else 0
    left = max(0, count - first)
    return left if limit is None else min(left, limit)


# -- writing -------------------------------------------------------------------------------------


class _FileSink(MediaSink):
    """Frames written to ``target`` (atomically for a file path) in a format of its subclass; the decode
    options ``start``/``frames`` keep a part of the decoded frames."""

    def __init__(self, target: str | Path | BinaryIO, info: SourceInfo, options: Mapping[str, Any]) -> None:
        self.target, self.info = target, info
        self.overwrite = bool(options.get("overwrite"))
        self.start, self.limit = _window(options)
        self._first = math.ceil(self.start * info.frame_rate - 1e-9) if self.start else 0
        self._seen = 0
        self.written = 0
        self._stack = contextlib.ExitStack()
        self._out: BinaryIO | None = None

    def _open(self) -> BinaryIO:
        if self._out is None:
            if hasattr(self.target, "write"):
                self._out = self.target
            else:
                self._out = self._stack.enter_context(output_file(self.target, overwrite=self.overwrite))
            self._begin(self._out)
        return self._out

    def write(self, item: VideoFrame) -> None:
        self._seen += 1
        if self._seen <= self._first or (self.limit is not None and self.written >= self.limit):
            return
        with self._output_errors():
            self._frame(self._open(), item)
        self.written += 1

    def close(self) -> None:
        if self.written == 0:
            self.abort()
            raise BadInputError("no frames to write" + (f" from {self.start} s on" if self.start else ""))
        with self._output_errors():
            self._end(self._out)
            self._stack.close()

    @contextlib.contextmanager
    def _output_errors(self):
        """A failing write (a full disk, a closed pipe) is an OutputError naming the output."""
        try:
            yield
        except OSError as exc:
            name = "standard output" if str(self.target) == "-" or hasattr(self.target, "write") else self.target
            if exc.errno == errno.EPIPE:
                raise OutputError(f"{name}: the reading end of the pipe was closed") from None
            raise OutputError(f"cannot write {name}: {exc.strerror or exc}") from None

    def abort(self) -> None:
        error = BadInputError("writing was abandoned")
        with contextlib.suppress(BaseException):
            self._stack.__exit__(type(error), error, None)

    def _begin(self, out: BinaryIO) -> None:
        pass

    def _frame(self, out: BinaryIO, frame: VideoFrame) -> None:
        raise NotImplementedError

    def _end(self, out: BinaryIO) -> None:
        pass


def y4m_header(info: SourceInfo) -> bytes:
    fps = info.frame_rate
    rng = " XCOLORRANGE=FULL" if info.full_range else ""
    return f"YUV4MPEG2 W{info.width} H{info.height} F{fps.numerator}:{fps.denominator} Ip A1:1 C420jpeg{rng}\n".encode()


class Y4mSink(_FileSink):
    def _begin(self, out: BinaryIO) -> None:
        out.write(y4m_header(self.info))

    def _frame(self, out: BinaryIO, frame: VideoFrame) -> None:
        out.write(b"FRAME\n")
        out.write(frame.to_bytes())


class YuvSink(_FileSink):
    def _frame(self, out: BinaryIO, frame: VideoFrame) -> None:
        out.write(frame.to_bytes())


class PreviewSink(_FileSink):
    """``.mkv``: FFV1 (lossless, any size); ``.mp4``: H.264 CRF 12 (high quality, plays anywhere), through PyAV.

    H.264 4:2:0 needs even sides, so an ``.mp4`` preview of odd-sized video
    repeats the last row or column; ``.mkv`` keeps the exact size.
    """

    def __init__(self, target, fmt: str, info: SourceInfo, options: Mapping[str, Any]) -> None:
        super().__init__(target, info, options)
        self.fmt = fmt
        self._container = self._video = None

    def _begin(self, out: BinaryIO) -> None:
        import av

        streaming = hasattr(self.target, "write") or str(self.target) == "-"
        options = {"movflags": "frag_keyframe+empty_moov"} if self.fmt == "mp4" and streaming else {}
        self._container = av.open(out, "w", format="matroska" if self.fmt == "mkv" else "mp4", options=options)
        if self.fmt == "mkv":
            self._video = self._container.add_stream("ffv1", rate=self.info.frame_rate)
        else:
            self._video = self._container.add_stream("libx264", rate=self.info.frame_rate,
                                                     options={"crf": "12", "preset": "medium"})
        self._video.width, self._video.height = self._coded_size()
        self._video.pix_fmt = "yuv420p"
        self._video.time_base = self.info.time_base
        ctx = self._video.codec_context
        ctx.color_range = 2 if self.info.full_range else 1
        with contextlib.suppress(AttributeError, ValueError, TypeError):
            ctx.colorspace = self.info.matrix
            ctx.color_primaries = self.info.colour_primaries
            ctx.color_trc = self.info.transfer

    def _frame(self, out: BinaryIO, frame: VideoFrame) -> None:
        import av

        w, h = self._coded_size()
        if (w, h) != (self.info.width, self.info.height):  # odd sides in .mp4: repeat the last row/column
            planes = [np.pad(p, ((0, s[0] - p.shape[0]), (0, s[1] - p.shape[1])), mode="edge")
                      for p, s in zip(frame.planes, [(h, w)] + [chroma_size(h, w)] * 2)]
        else:
            planes = list(frame.planes)
        av_frame = av.VideoFrame(planes[0].shape[1], planes[0].shape[0], "yuv420p")
        for plane, data in zip(av_frame.planes, planes):
            view = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
            view[: data.shape[0], : data.shape[1]] = data
        av_frame.pts = self.written
        av_frame.time_base = self.info.time_base
        for packet in self._video.encode(av_frame):
            self._container.mux(packet)

    def _coded_size(self) -> tuple[int, int]:
        w, h = self.info.width, self.info.height
        return (w + w % 2, h + h % 2) if self.fmt == "mp4" else (w, h)

    def _end(self, out: BinaryIO) -> None:
        for packet in self._video.encode(None):
            self._container.mux(packet)
        self._container.close()

    def abort(self) -> None:
        if self._container is not None:
            with contextlib.suppress(Exception):
                self._container.close()
        super().abort()


# -- the medium ----------------------------------------------------------------------------------


def _size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not match or not (1 <= int(match.group(1)) <= 65535 and 1 <= int(match.group(2)) <= 65535):
        raise UsageError(f"-s takes WIDTHxHEIGHT (e.g. 352x288), got {text!r}")
    return int(match.group(1)), int(match.group(2))


def _rate(text: str) -> Fraction:
    try:
        value = Fraction(text.replace(":", "/")) if "/" in text or ":" in text else Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise UsageError(f"-r takes frames per second (30, 29.97 or 30000/1001), got {text!r}") from None
    return check_fps(value)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"--start takes seconds, got {text!r}") from None
    if not (value >= 0 and math.isfinite(value)):
        raise UsageError(f"--start must be a non-negative number of seconds, got {text!r}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"--frames takes a number of frames, got {text!r}") from None
    if value < 1:
        raise UsageError(f"--frames must be at least 1, got {value}")
    return value


class VideoMedium(Medium):
    name = "video"
    media_type = MediaType.VIDEO
    rate_unit = "bitrate"
    item_name = "frame"
    output_kinds = ("numpy", "rgb", "torch")
    encode_options = (
        Option(("-s", "--size"), "size", "video: frame size of a raw .yuv input, WIDTHxHEIGHT", type=_size,
               metavar="WxH"),
        Option(("-r", "--fps"), "fps", "video: frame rate of a raw .yuv input (default 25)", type=_rate,
               metavar="FPS"),
        Option(("--start",), "start", "video: skip the source's first T seconds", type=_seconds, metavar="T"),
        Option(("--frames",), "frames", "video: code at most N frames", type=_count, metavar="N"),
    )
    decode_options = (
        Option(("--start",), "start", "video and audio: write the decoded output from T seconds on",
               type=_seconds, metavar="T"),
        Option(("--frames",), "frames", "video: write at most N decoded frames", type=_count, metavar="N"),
    )

    def source_extensions(self) -> frozenset[str]:
        return PYAV_EXTENSIONS | {".y4m", ".yuv"}

    def claims(self, path: Path) -> bool:
        """By extension; a container that may hold audio alone (mp4, mkv, ...) is video only with a video stream."""
        if not super().claims(path):
            return False
        if path.suffix.lower() not in CONTAINERS or not path.is_file():
            return True
        try:
            import av

            with av.open(str(path)) as container:
                return bool(container.streams.video)
        except Exception:  # unreadable: let the reader say what is wrong with it
            return True

    def output_formats(self) -> tuple[str, ...]:
        return ("y4m", "yuv", "mkv", "mp4")

    def open_source(self, source: Any, options: Mapping[str, Any]) -> MediaSource:
        if isinstance(source, Clip):
            return ClipSource(source, options)
        if isinstance(source, Sequence) and not isinstance(source, (str, bytes)) and source \
                and all(isinstance(f, VideoFrame) for f in source):
            return ClipSource(Clip(tuple(source)), options)
        if hasattr(source, "read"):
            return Y4mSource(source, "standard input", options)
        if not isinstance(source, (str, Path)):
            raise BadInputError(f"cannot read video from a {type(source).__name__}; give a path, a Clip or frames")
        path = Path(source)
        if not path.exists():
            raise BadInputError(f"{source}: no such file")
        if path.is_dir():
            raise BadInputError(f"{source}: is a folder")
        suffix = path.suffix.lower()
        if suffix == ".yuv":
            return RawYuvSource(path, options)
        if suffix == ".y4m":
            try:
                f = open(path, "rb")
            except OSError as exc:
                raise BadInputError(f"cannot read {source}: {exc.strerror or exc}") from None
            try:
                return Y4mSource(f, path.name, options, file_size=path.stat().st_size, owned=True)
            except BaseException:
                f.close()
                raise
        return PyAvSource(path, options)

    def source_info(self, *, width: int, height: int, fps: Any = None, frame_rate: Any = None,
                    full_range: bool = False, matrix: int = UNSPECIFIED, colour_primaries: int = UNSPECIFIED,
                    transfer: int = UNSPECIFIED, **unused: Any) -> SourceInfo:
        if unused:
            raise UsageError(f"video takes width, height, fps and colour fields, not {', '.join(unused)}")
        for name, value in (("width", width), ("height", height)):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
                raise UsageError(f"{name} must be an integer 1..65535, got {value!r}")
        rate = fps if fps is not None else frame_rate
        if rate is None:
            raise UsageError("video needs its frame rate: fps=")
        return video_info(width, height, rate, full_range=bool(full_range), matrix=matrix,
                          colour_primaries=colour_primaries, transfer=transfer)

    def open_sink(self, target, fmt: str, info: SourceInfo, options: Mapping[str, Any]) -> MediaSink:
        if fmt == "y4m":
            return Y4mSink(target, info, options)
        if fmt == "yuv":
            return YuvSink(target, info, options)
        if fmt in ("mkv", "mp4"):
            return PreviewSink(target, fmt, info, options)
        raise UsageError(f"cannot write video as {fmt!r}; use one of {', '.join(self.output_formats())}")

    def rate(self, file_bytes: int, info: SourceInfo, *, frames: int | None = None,
             duration_seconds: float | None = None) -> dict[str, float]:
        seconds = duration_seconds or (frames / float(info.frame_rate) if frames else None)
        out = {}
        if seconds:
            out["kbit_per_second"] = 8 * file_bytes / seconds / 1000
        if frames:
            out["bits_per_pixel"] = 8 * file_bytes / (frames * info.width * info.height)
        return out

    def verify_file(self, path: Path) -> None:
        suffix = path.suffix.lower()
        try:
            if suffix == ".y4m":
                with open(path, "rb") as f:
                    for _ in Y4mSource(f, path.name, {}):
                        pass
            elif suffix in (".mkv", ".mp4"):
                import av

                with av.open(str(path)) as container:
                    if not any(True for _ in container.decode(video=0)):
                        raise BadInputError("no frames")
            elif path.stat().st_size == 0:
                raise BadInputError("empty file")
        except BadInputError as exc:
            raise BadInputError(f"{path.name} is not a complete video: {exc}") from None
        except Exception as exc:  # FFmpeg raises many types for damaged files
            raise BadInputError(f"{path.name} is not a complete video: {exc}") from None

    def conformance_sample(self) -> Clip:
        """Four 80x48 frames (not multiples of 64: the model pads) of smooth gradients and a moving square."""
        rows, cols = np.mgrid[0:48, 0:80]
        frames = []
        for t in range(4):
            y = (40 + 2 * cols + rows + 3 * t) % 256
            y[10 + t: 26 + t, 20 + 3 * t: 36 + 3 * t] = 200
            u = np.full((24, 40), 128) + (np.mgrid[0:24, 0:40][1] - 20)
            v = np.full((24, 40), 120) + (np.mgrid[0:24, 0:40][0] - 12) + t
            frames.append(VideoFrame(y.astype(np.uint8), u.astype(np.uint8), v.astype(np.uint8), pts=t))
        return Clip(tuple(frames), Fraction(25))

    def to_output(self, item: VideoFrame, info: SourceInfo, kind: str) -> Any:
        if kind == "numpy":
            return item
        if kind == "rgb":
            return item.to_rgb(matrix=info.matrix, full_range=bool(info.full_range))
        if kind == "torch":
            import torch

            return tuple(torch.from_numpy(np.ascontiguousarray(p)) for p in item.planes)
        raise UsageError(f"video frames come as {', '.join(self.output_kinds)}, not {kind!r}")


MEDIUM = VideoMedium()
