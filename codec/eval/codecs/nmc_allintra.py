"""Our image codec on every frame (all-intra): what the video model's temporal prediction buys.

Each frame is converted to 8-bit RGB (the clip's matrix and range,
bilinear chroma), coded by the default image model at one quality level,
and converted back to YUV 4:2:0 after decoding. The file is two bytes (the
clip's matrix code point and full-range flag, to convert back), the
complete ``.nmc`` file of the first frame (its header names the model, its
weights digest and the level), then each later frame's entropy-coded
segments with their lengths, so a header is paid once, as in a video file.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

from codec import __version__
from codec.eval.codecs.base import Codec
from codec.media.video import Clip, VideoFrame

_U32 = struct.Struct("<I")


def _image_model():
    from codec.container.source import MediaType
    from codec.zoo import model_for

    return model_for(None, MediaType.IMAGE)


class NmcAllIntra(Codec):
    name = "nmc-allintra"
    label = "ours: image codec on every frame (all-intra)"
    medium = "video"
    extension = "nmci"
    rate_parameter = "quality"

    def __init__(self) -> None:
        self.rate_points = tuple(range(1, 9))

    def unavailable(self) -> str | None:
        from codec.errors import CodecError

        try:
            _image_model()
        except CodecError as exc:
            return f"no image model: {exc}"
        return None

    def version(self) -> str:
        model = _image_model()
        return f"codec {__version__}, {model.entry.full_id}, weights sha256 {model.entry.digest[:16]}"

    def settings(self) -> dict:
        return {"model": _image_model().entry.full_id, "frames": "every frame coded alone at -q <rate point>",
                "file": "matrix and range bytes, the first frame's .nmc file, then each frame's segments (u32 count, u32 lengths, bytes)"}

    def colour(self) -> dict:
        return {"to_rgb": "the clip's matrix (BT.709 when it says so, else BT.601) and range, bilinear chroma",
                "to_yuv": "same matrix and range, 2x2 mean chroma", "rounding": "to 8 bits each way"}

    def encode(self, item: Clip, rate_point: int, path: Path) -> None:
        import codec

        model = _image_model()
        level = rate_point - 1
        out = io.BytesIO()
        out.write(bytes([item.matrix, int(item.full_range)]))
        for i, frame in enumerate(item.frames):
            rgb = frame.to_rgb(matrix=item.matrix, full_range=item.full_range)
            if i == 0:
                first = codec.encode(rgb, media="image", quality=rate_point, weights=model)
                out.write(_U32.pack(len(first)) + first)
                continue
            segments = model.coder.compress(rgb, level)
            out.write(_U32.pack(len(segments)))
            for segment in segments:
                out.write(_U32.pack(len(segment)) + segment)
        path.write_bytes(out.getvalue())

    def decode(self, path: Path) -> list[VideoFrame]:
        import codec

        data = memoryview(path.read_bytes())
        matrix, full_range = data[0], bool(data[1])
        (size,) = _U32.unpack_from(data, 2)
        pos = 6 + size
        with codec.open(bytes(data[6:pos])) as reader:
            model, header = reader.model, reader.header
            level = reader.info.codec_params["level"]
            frames_rgb = [next(iter(reader))]
        height, width = header.source.height, header.source.width
        while pos < len(data):
            (count,) = _U32.unpack_from(data, pos)
            pos += 4
            segments = []
            for _ in range(count):
                (length,) = _U32.unpack_from(data, pos)
                segments.append(bytes(data[pos + 4: pos + 4 + length]))
                pos += 4 + length
            frames_rgb.append(model.coder.decompress(segments, height, width, level))
        return [VideoFrame.from_rgb(rgb, matrix=matrix, full_range=full_range, pts=i)
                for i, rgb in enumerate(frames_rgb)]


def codecs(**tools) -> list[Codec]:
    """The all-intra reference (``tools`` are not used)."""
    return [NmcAllIntra()]
