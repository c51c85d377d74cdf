"""H.266/VVC low delay through an installed encoder: Fraunhofer ``vvencFFapp`` or ``vvencapp``, or VTM ``EncoderApp``.

None ships on PyPI, so the encoder is found on PATH (or given with
``--vvc-encoder``) and the codec is reported unavailable when absent. VTM
needs its low-delay configuration (``--vtm-config
cfg/encoder_lowdelay_vtm.cfg``, random access would reorder frames); both
vvenc applications are run with picture reordering off (``vvencapp``, the
one the image evaluation also takes, through its ``--additional`` options)
and no intra refresh after the first frame. Both read the clip's raw
8-bit 4:2:0 planes, code one intra frame per clip at the clip's frame
rate, and write a raw ``.266`` stream that FFmpeg's native VVC decoder
reads back through PyAV.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
from pathlib import Path

from codec.eval.codecs.base import Codec
from codec.eval.codecs.pyav_intra import ffmpeg_version
from codec.eval.codecs.pyav_ld import decode_clip
from codec.eval.codecs.vvc import _tool_version
from codec.media.video import Clip, VideoFrame

VVENC_FULL = "vvencFFapp"
VVENC_APP = "vvencapp"
VTM = "EncoderApp"


class VvcLowDelay(Codec):
    name = "vvc-ld"
    medium = "video"
    extension = "266"
    rate_parameter = "qp"
    rate_points = (42, 38, 34, 30, 26, 22)

    def __init__(self, tool: str | None = None, vtm_config: str | None = None) -> None:
        self.tool, self.vtm_config = tool, vtm_config

    @functools.cached_property
    def _executable(self) -> str | None:
        if self.tool:
            return shutil.which(self.tool)
        return shutil.which(VVENC_FULL) or shutil.which(VVENC_APP) or shutil.which(VTM)

    @property
    def _encoder(self) -> str:
        """Which of the three applications runs (they take different options)."""
        name = Path(self._executable or self.tool or VVENC_FULL).name
        return VTM if VTM in name else VVENC_APP if VVENC_APP in name else VVENC_FULL

    @property
    def _is_vtm(self) -> bool:
        return self._encoder == VTM

    @property
    def label(self) -> str:  # type: ignore[override]
        return "VVC VTM (low delay)" if self._is_vtm else "VVC vvenc (low delay)"

    def unavailable(self) -> str | None:
        if not self._executable:
            return (f"VVC encoder {self.tool!r} not found" if self.tool else
                    f"no {VVENC_FULL} or {VTM} on PATH (install vvenc or VTM, or give one with --vvc-encoder)")
        if self._is_vtm and not self.vtm_config:
            return "VTM needs its low-delay configuration: --vtm-config cfg/encoder_lowdelay_vtm.cfg"
        return None

    def version(self) -> str:
        return f"{_tool_version(self._executable)}; decoded by {ffmpeg_version()} (native VVC decoder)"

    def settings(self) -> dict:
        args = self._args(0, 0, 0, "1", "<rate point>", Path("in.yuv"), Path("out.266"))
        return {"encoder": "VTM EncoderApp" if self._is_vtm else self._encoder, "arguments": " ".join(args),
                "config": Path(self.vtm_config).name if self.vtm_config else None}

    def colour(self) -> dict:
        return {"conversion": "none: the clip's YUV 4:2:0 planes are coded as they are"}

    def _args(self, width, height, frames, fps: str, qp, source: Path, out: Path) -> list[str]:
        if self._is_vtm:
            return ["-c", str(self.vtm_config), "-i", str(source), "-b", str(out), "-o", "", "-wdt", str(width),
                    "-hgt", str(height), "-fr", fps, "-f", str(frames), "-q", str(qp), "--IntraPeriod=-1",
                    "--InputBitDepth=8", "--InternalBitDepth=8", "--OutputBitDepth=8", "--InputChromaFormat=420"]
        if self._encoder == VVENC_APP:
            return ["-i", str(source), "-s", f"{width}x{height}", "-c", "yuv420", "--fps", fps, "-f", str(frames),
                    "--preset", "medium", "--qp", str(qp), "-rt", "none",
                    "--additional", "PicReordering=0 GOPSize=8 InternalBitDepth=8", "-o", str(out)]
        return ["-i", str(source), "-s", f"{width}x{height}", "--fps", fps, "-f", str(frames),
                "--InputBitDepth=8", "--InternalBitDepth=8", "--preset=medium", f"--QP={qp}",
                "--PicReordering=0", "--GOPSize=8", "--IntraPeriod=-1", "--DecodingRefreshType=idr",
                "-b", str(out)]

    def encode(self, item: Clip, rate_point: int, path: Path) -> None:
        first = item.frames[0]
        fps = f"{item.fps.numerator}/{item.fps.denominator}" if not self._is_vtm else str(round(float(item.fps)))
        with tempfile.TemporaryDirectory() as tmp:
            source = Path(tmp) / "in.yuv"
            with open(source, "wb") as f:
                for frame in item.frames:
                    f.write(frame.to_bytes())
            args = self._args(first.width, first.height, len(item.frames), fps, rate_point, source, path)
            result = subprocess.run([self._executable, *args], capture_output=True, text=True, cwd=tmp)
        if result.returncode != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
            raise RuntimeError(f"{Path(self._executable).name} failed ({result.returncode}): {tail[0]}")

    def decode(self, path: Path) -> list[VideoFrame]:
        return decode_clip(path)


def codecs(**tools) -> list[Codec]:
    """VVC low delay, with ``tools["vvc_encoder"]`` and ``tools["vtm_config"]`` when given."""
    return [VvcLowDelay(tools.get("vvc_encoder"), tools.get("vtm_config"))]
