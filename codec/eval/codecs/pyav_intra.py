"""One-frame intra coding with a video encoder through PyAV (FFmpeg).

The image is converted to Y'CbCr planes by :mod:`codec.eval.colour` (not by
FFmpeg's scaler), encoded as a single intra frame, and written as a raw
elementary stream (Annex B for HEVC, low-overhead OBU for AV1): the smallest
honest "file" such a codec produces, with every parameter set in it.
Decoding reads that file back with FFmpeg's decoder and converts the planes
back to RGB the same explicit way.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from codec.eval.codecs.base import Codec
from codec.eval.colour import Conversion

# SVT-AV1 prints its configuration to stderr unless told otherwise; keep errors only.
os.environ.setdefault("SVT_LOG", "1")

_PIX_FMT = {"444": "yuv444p", "420": "yuv420p"}


def ffmpeg_version() -> str:
    import av

    return f"PyAV {av.__version__}, libavcodec {'.'.join(map(str, av.library_versions['libavcodec']))}"


def encoder_missing(encoder: str) -> str | None:
    """Why ``encoder`` cannot be used through this PyAV build, or None."""
    try:
        import av
    except ImportError:
        return "PyAV is not installed (pip install av)"
    if encoder not in av.codec.codecs_available:
        return f"this PyAV/FFmpeg build has no {encoder} encoder"
    return None


def _frame(planes: list[np.ndarray], chroma: str):
    import av

    if chroma == "444":
        return av.VideoFrame.from_ndarray(np.stack(planes), format="yuv444p")
    height, width = planes[0].shape
    # yuv420p as one array: the Y rows, then U and V each folded to full-width rows
    packed = np.concatenate([planes[0], planes[1].reshape(-1, width), planes[2].reshape(-1, width)])
    return av.VideoFrame.from_ndarray(packed.reshape(height * 3 // 2, width), format="yuv420p")


def encode_intra(rgb: np.ndarray, path: Path, *, encoder: str, muxer: str, conversion: Conversion,
                 options: dict[str, str]) -> None:
    """Encode ``rgb`` as one intra frame into the raw stream file ``path``."""
    import av

    height, width = rgb.shape[:2]
    if conversion.chroma == "420" and (height % 2 or width % 2):
        raise ValueError(f"4:2:0 coding needs even sides, got {width}x{height}")
    planes = conversion.to_planes(rgb)
    with av.open(str(path), "w", format=muxer) as out:
        stream = out.add_stream(encoder, rate=1, options=options)
        stream.width, stream.height = width, height
        stream.pix_fmt = _PIX_FMT[conversion.chroma]
        stream.codec_context.color_range = 2 if conversion.full_range else 1  # AVCOL_RANGE_JPEG / _MPEG
        for packet in stream.encode(_frame(planes, conversion.chroma)):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def decode_intra(path: Path, conversion: Conversion) -> np.ndarray:
    """Decode the first frame of ``path`` to RGB.

    Decoders may output more than 8 bits per sample (vvenc codes at 10 bits
    internally, and FFmpeg's VVC decoder returns 10-bit planes): such planes
    are scaled to the 8-bit range as floats, so their extra precision is kept
    until the one rounding to 8-bit RGB.
    """
    import av

    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
    bits = frame.format.components[0].bits
    dtype, size = (np.uint8, 1) if bits <= 8 else (np.dtype("<u2"), 2)
    planes = [np.frombuffer(p, dtype).reshape(-1, p.line_size // size)[: h, : w]
              for p, (h, w) in zip(frame.planes, _plane_sizes(frame, conversion.chroma))]
    if bits > 8:
        planes = [p.astype(np.float64) / (1 << (bits - 8)) for p in planes]
    return conversion.to_rgb(planes)


def _plane_sizes(frame, chroma: str) -> list[tuple[int, int]]:
    h, w = frame.height, frame.width
    if chroma == "444":
        return [(h, w)] * 3
    return [(h, w), ((h + 1) // 2, (w + 1) // 2), ((h + 1) // 2, (w + 1) // 2)]


class PyAvIntraCodec(Codec):
    """A baseline that codes one intra frame with an FFmpeg encoder: subclasses name the
    encoder, the raw-stream muxer, the colour conversion and the encoder options per rate point."""

    encoder: str
    muxer: str
    conversion: Conversion

    def encoder_options(self, rate_point: int) -> dict[str, str]:
        raise NotImplementedError

    def unavailable(self) -> str | None:
        return encoder_missing(self.encoder)

    def colour(self) -> dict:
        return self.conversion.describe()

    def encode(self, item: np.ndarray, rate_point: int, path: Path) -> None:
        encode_intra(item, path, encoder=self.encoder, muxer=self.muxer, conversion=self.conversion,
                     options=self.encoder_options(rate_point))

    def decode(self, path: Path) -> np.ndarray:
        return decode_intra(path, self.conversion)
