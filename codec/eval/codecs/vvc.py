"""H.266/VVC intra through an installed encoder: Fraunhofer ``vvencapp`` or VTM ``EncoderApp``.

Neither ships on PyPI, so the codec is located on PATH or given by option,
and reported unavailable (the run skips it with a notice) when absent. The
encoders read raw planar Y'CbCr, written here with the explicit conversion of
:mod:`codec.eval.colour`: 4:2:0 for vvenc (what it codes), 4:4:4 for VTM (as
the published VTM anchors are made). The raw ``.266`` stream is decoded with
FFmpeg's native VVC decoder through PyAV.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from codec.eval.codecs.base import Codec
from codec.eval.codecs.pyav_intra import decode_intra, ffmpeg_version
from codec.eval.colour import Conversion

VVENC = "vvencapp"
VTM = "EncoderApp"


class Vvc(Codec):
    """``tool`` is a path or a name looked up on PATH; its file name says which encoder it is
    (a name containing "EncoderApp" is VTM, anything else is taken as vvencapp)."""

    name = "vvc"
    extension = "266"
    rate_parameter = "qp"
    rate_points = (50, 46, 42, 37, 33, 29, 25, 21)

    def __init__(self, tool: str | None = None, vtm_config: str | None = None) -> None:
        self.tool = tool
        self.vtm_config = vtm_config

    @functools.cached_property
    def _executable(self) -> str | None:
        if self.tool:
            return shutil.which(self.tool)
        return shutil.which(VVENC) or shutil.which(VTM)

    @property
    def _is_vtm(self) -> bool:
        return VTM in Path(self._executable or self.tool or VVENC).name

    @property
    def label(self) -> str:  # type: ignore[override]
        return "VVC intra (VTM 4:4:4)" if self._is_vtm else "VVC intra (vvenc 4:2:0)"

    @property
    def conversion(self) -> Conversion:
        return Conversion(matrix="bt601", full_range=True, chroma="444" if self._is_vtm else "420")

    def unavailable(self) -> str | None:
        if self._executable:
            return None
        if self.tool:
            return f"VVC encoder {self.tool!r} not found or not executable"
        return f"no {VVENC} or {VTM} on PATH (install Fraunhofer vvenc or VTM, or give one with --vvc-encoder)"

    def version(self) -> str:
        return f"{_tool_version(self._executable)}; decoded by {ffmpeg_version()} (native VVC decoder)"

    def settings(self) -> dict:
        if self._is_vtm:
            return {"encoder": "VTM EncoderApp", "config": Path(self.vtm_config).name if self.vtm_config else None,
                    "arguments": " ".join(self._vtm_args(0, 0, "<rate point>", Path("in.yuv"), Path("out.266")))}
        return {"encoder": "vvencapp",
                "arguments": " ".join(self._vvenc_args(0, 0, "<rate point>", Path("in.yuv"), Path("out.266")))}

    def colour(self) -> dict:
        return self.conversion.describe()

    def _vvenc_args(self, width, height, qp, source: Path, out: Path) -> list[str]:
        return ["-i", str(source), "-s", f"{width}x{height}", "-c", "yuv420", "-r", "1", "-f", "1",
                "--preset", "medium", "--qp", str(qp), "-o", str(out)]

    def _vtm_args(self, width, height, qp, source: Path, out: Path) -> list[str]:
        config = ["-c", self.vtm_config] if self.vtm_config else []
        return config + ["-i", str(source), "-b", str(out), "-o", "", "-wdt", str(width), "-hgt", str(height),
                         "-fr", "1", "-f", "1", "-q", str(qp), "--IntraPeriod=1",
                         "--InputBitDepth=8", "--InternalBitDepth=8", "--OutputBitDepth=8",
                         "--InputChromaFormat=444", "--ChromaFormatIDC=444", "--ConformanceWindowMode=1"]

    def encode(self, item: np.ndarray, rate_point: int, path: Path) -> None:
        height, width = item.shape[:2]
        planes = self.conversion.to_planes(item)
        with tempfile.TemporaryDirectory() as tmp:
            source = Path(tmp) / "in.yuv"
            source.write_bytes(b"".join(p.tobytes() for p in planes))
            build = self._vtm_args if self._is_vtm else self._vvenc_args
            result = subprocess.run([self._executable, *build(width, height, rate_point, source, path)],
                                    capture_output=True, text=True, cwd=tmp)
        if result.returncode != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
            raise RuntimeError(f"{Path(self._executable).name} failed ({result.returncode}): {tail[0]}")

    def decode(self, path: Path) -> np.ndarray:
        return decode_intra(path, self.conversion)


@functools.cache
def _tool_version(executable: str) -> str:
    """First line of the tool's version output that names a version, else its file name."""
    for flag in ("--version", "--help"):
        try:
            result = subprocess.run([executable, flag], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        for line in (result.stdout + result.stderr).splitlines():
            if "version" in line.lower():
                return line.strip()
    return Path(executable).name


def codecs(**tools: str | None) -> list[Codec]:
    """The VVC codec, using ``tools["vvc_encoder"]`` and ``tools["vtm_config"]`` when given."""
    return [Vvc(tools.get("vvc_encoder"), tools.get("vtm_config"))]
