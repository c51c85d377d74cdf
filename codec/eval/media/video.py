"""Video clips: 8-bit YUV 4:2:0 frames as decoded from the dataset's files; PSNR-YUV, PSNR-RGB, MS-SSIM-Y.

A dataset is a folder of clips: ``.y4m``, raw ``.yuv`` with a sidecar
``<name>.json`` (``{"width": 352, "height": 288, "fps": 30}``), or anything
PyAV decodes (H.264/HEVC streams, mp4, mkv...), taken as the source *after
decoding*. ``--frames N`` keeps the first N frames of every clip. Every
codec codes the same frames at the same frame rate, low delay (no frame
reordering), with one intra frame per clip (the VTM low-delay anchors'
``ip0`` condition); rates are bits of the whole file per pixel of every frame.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

from codec.errors import BadInputError, CodecError
from codec.eval.media.base import Medium
from codec.eval.video_metrics import MAX_PSNR, clip_metrics
from codec.media.video import PYAV_EXTENSIONS, Clip, VideoFrame
from codec.media.video import MEDIUM as VIDEO
from codec.models.base import Option


def _frames(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError("--frames must be at least 1")
    return value


def _sidecar(path: Path) -> dict:
    for candidate in (path.with_suffix(".json"), path.with_name(path.name + ".json")):
        if candidate.exists():
            try:
                data = json.loads(candidate.read_text())
                return {"size": (int(data["width"]), int(data["height"])), "fps": Fraction(str(data.get("fps", 25)))}
            except (ValueError, KeyError, TypeError) as exc:
                raise BadInputError(f"{candidate.name}: not a sidecar of width, height and fps ({exc})") from None
    raise BadInputError(f"{path.name}: raw video needs a sidecar {path.stem}.json with width, height and fps")


def load(path: Path, frames: int | None = None, **options) -> Clip:
    """The clip's first ``frames`` frames (all when None), decoded to 8-bit 4:2:0."""
    source_options = {"frames": frames} if frames else {}
    if path.suffix.lower() == ".yuv":
        source_options.update(_sidecar(path))
    try:
        with VIDEO.open_source(path, source_options) as source:
            items = [VideoFrame(f.y, f.u, f.v, pts=i) for i, f in enumerate(source)]
            info = source.info
    except CodecError as exc:
        raise BadInputError(str(exc).replace(str(path), path.name)) from None
    return Clip(tuple(items), info.frame_rate, bool(info.full_range), info.matrix, info.colour_primaries,
                info.transfer)


def measure(reference: Clip, decoded) -> dict:
    frames = list(decoded.frames if isinstance(decoded, Clip) else decoded)
    return clip_metrics(list(reference.frames), frames, matrix=reference.matrix, full_range=reference.full_range)


def rate(size_bytes: int, reference: Clip) -> dict[str, float]:
    bits = 8 * size_bytes
    first = reference.frames[0]
    frames = len(reference.frames)
    return {"bits": bits, "bpp": bits / (first.width * first.height * frames),
            "kbps": bits / (frames / float(reference.fps)) / 1000}


def item_facts(reference: Clip) -> dict:
    first = reference.frames[0]
    return {"width": first.width, "height": first.height, "frames": len(reference.frames),
            "fps": f"{reference.fps.numerator}/{reference.fps.denominator}"}


MEDIUM = Medium(
    name="video",
    suffixes=frozenset((PYAV_EXTENSIONS | {".y4m", ".yuv"}) - {".nmc"}),
    load=load,
    measure=measure,
    rate=rate,
    rate_key="bpp",
    rate_label="bits per pixel",
    quality_keys=("psnr_yuv", "psnr_y", "psnr_rgb", "ms_ssim_y"),
    quality_labels={"psnr_yuv": "PSNR-YUV 6:1:1 (dB)", "psnr_y": "PSNR-Y (dB)", "psnr_rgb": "PSNR-RGB (dB)",
                    "ms_ssim_y": "MS-SSIM-Y"},
    conditions={
        "decoded_output": "8-bit YUV 4:2:0 frames, each codec's own decoder (PyAV/FFmpeg for the baselines)",
        "source": "every clip decoded to 8-bit YUV 4:2:0 first (PyAV for compressed files) and taken as the "
                  "source; other chroma formats and depths converted by the video medium",
        "bits_counted": "8 x the size in bytes of the whole encoded file on disk (raw elementary streams for "
                        "the baselines, .nmc files for ours); bpp = bits / (width x height x frames), kbps = "
                        "bits / (frames / fps) / 1000",
        "coding": "low delay: frames coded in display order, no B-frames or lookahead reordering, one intra "
                  "frame per clip (ours: intra period 4 s, longer than the clips)",
        "metrics": {
            "psnr_yuv": "per frame (6 PSNR_Y + PSNR_U + PSNR_V) / 8, PSNR per plane 10 log10(255^2 / MSE), "
                        f"identical planes {MAX_PSNR} dB; mean over frames",
            "psnr_y": "per-frame luma PSNR, mean over frames",
            "psnr_rgb": "per frame, reference and decoded YUV converted to 8-bit RGB the same way (BT.709 when "
                        "the clip says so, else BT.601; the clip's range; bilinear chroma upsampling); one MSE "
                        "over the three channels; mean over frames",
            "ms_ssim_y": "MS-SSIM of the luma plane (5 scales, 11x11 Gaussian sigma 1.5; frames with a side of "
                         "160 pixels or less use the scales that fit, weights renormalized); mean over frames",
        },
        "aggregation": "dataset average at each rate point: mean over clips of bpp and of each metric",
    },
    item_facts=item_facts,
    options=(Option(("--frames",), "frames", "code the first N frames of every clip", type=_frames, metavar="N"),),
)
