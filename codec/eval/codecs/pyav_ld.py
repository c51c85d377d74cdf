"""Low-delay video coding with an FFmpeg encoder through PyAV: the classical baselines of ``codec eval video``.

The clip's own 8-bit YUV 4:2:0 planes go to the encoder unchanged (no
colour conversion), frames in display order, one thread, one intra frame
(no periodic or scene-cut intra frames), no B-frames and no lookahead
reordering. The output is a raw elementary stream (Annex B for H.264/HEVC,
low-overhead OBUs for AV1), the smallest honest file such an encoder makes;
decoding reads it back with FFmpeg's decoder.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np

from codec.eval.codecs.base import Codec
from codec.eval.codecs.pyav_intra import encoder_missing, ffmpeg_version
from codec.media.video import Clip, VideoFrame

os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its configuration unless told otherwise


def av_frame(frame: VideoFrame, index: int):
    import av

    out = av.VideoFrame(frame.width, frame.height, "yuv420p")
    for plane, data in zip(out.planes, frame.planes):
        np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[: data.shape[0], : data.shape[1]] = data
    out.pts = index
    return out


def encode_clip(clip: Clip, path: Path, *, encoder: str, muxer: str, options: dict[str, str]) -> None:
    import av

    first = clip.frames[0]
    if first.width % 2 or first.height % 2:
        raise ValueError(f"{encoder} needs even sides for 4:2:0, got {first.width}x{first.height}")
    with av.open(str(path), "w", format=muxer) as out:
        stream = out.add_stream(encoder, rate=clip.fps, options=options)
        stream.width, stream.height = first.width, first.height
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1) / clip.fps
        stream.codec_context.color_range = 2 if clip.full_range else 1
        for i, frame in enumerate(clip.frames):
            for packet in stream.encode(av_frame(frame, i)):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def decode_clip(path: Path) -> list[VideoFrame]:
    """Every frame of a stream as 8-bit planes (higher depths are rounded to 8 bits)."""
    import av

    frames = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            frames.append(VideoFrame(*planes_of(frame), pts=len(frames)))
    return frames


def planes_of(frame) -> list[np.ndarray]:
    bits = frame.format.components[0].bits
    h, w = frame.height, frame.width
    sizes = [(h, w), ((h + 1) // 2, (w + 1) // 2), ((h + 1) // 2, (w + 1) // 2)]
    if bits <= 8:
        return [np.frombuffer(p, np.uint8).reshape(-1, p.line_size)[:r, :c].copy() for p, (r, c) in zip(frame.planes, sizes)]
    out = []
    for p, (r, c) in zip(frame.planes, sizes):
        wide = np.frombuffer(p, np.dtype("<u2")).reshape(-1, p.line_size // 2)[:r, :c].astype(np.uint32)
        out.append(np.minimum((wide + (1 << (bits - 9))) >> (bits - 8), 255).astype(np.uint8))
    return out


class PyAvLowDelay(Codec):
    """A low-delay baseline through PyAV; subclasses name the encoder, muxer and options per rate point."""

    medium = "video"
    encoder: str
    muxer: str

    def encoder_options(self, rate_point: int) -> dict[str, str]:
        raise NotImplementedError

    def unavailable(self) -> str | None:
        return encoder_missing(self.encoder)

    def version(self) -> str:
        return f"{ffmpeg_version()}, {self.encoder}"

    def colour(self) -> dict:
        return {"conversion": "none: the clip's YUV 4:2:0 planes are coded as they are"}

    def encode(self, item: Clip, rate_point: int, path: Path) -> None:
        encode_clip(item, path, encoder=self.encoder, muxer=self.muxer, options=self.encoder_options(rate_point))

    def decode(self, path: Path) -> list[VideoFrame]:
        return decode_clip(path)
