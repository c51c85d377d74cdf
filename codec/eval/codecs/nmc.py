"""Our learned codecs, every installed model and preset, run through the same public API as users call.

Each current model of the medium being evaluated is one codec
(``nmc-<model id>``); each slower preset is another (``nmc-<model id>:slow``),
so the evaluator records encode time per point beside the rate and quality.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codec import __version__
from codec.eval.codecs.base import Codec


class NmcCodec(Codec):
    extension = "nmc"
    rate_parameter = "quality"

    def __init__(self, medium: str, family: str, model_id: str, digest: str, qualities: int, preset: str,
                 device: str = "cpu", preset_work: str = "") -> None:
        self.medium = medium
        self.preset_work = preset_work
        self.device = device
        self.family = family
        self.model_id = model_id
        self.digest = digest
        self.preset = preset
        self.rate_points = tuple(range(1, qualities + 1))
        suffix = "" if preset == "fast" else f":{preset}"
        self.name = f"nmc-{model_id.partition('@')[0]}{suffix}"
        self.label = f"ours: {model_id.partition('@')[0]}" + ("" if preset == "fast" else f" ({preset})")
        #: slower presets run only when named
        self.default = preset == "fast"

    def version(self) -> str:
        return f"codec {__version__}, {self.model_id}, weights sha256 {self.digest[:16]}"

    def settings(self) -> dict:
        return {"model": self.model_id, "family": self.family, "preset": self.preset,
                "preset_work": self.preset_work, "device": self.device,
                "package": __version__,
                "entropy_coder": "rANS, 16-bit tables, integer entropy path"}

    def encode(self, item: Any, rate_point: int, path: Path) -> None:
        import codec

        codec.encode(item, path, media=self.medium, model=self.model_id, quality=rate_point, preset=self.preset,
                     overwrite=True, device=self.device)

    def decode(self, path: Path) -> Any:
        import codec

        return codec.decode(path, device=self.device)


def codecs(**tools: str | None) -> list[Codec]:
    """One codec per current model and preset of every installed family."""
    from codec.zoo import installed_models

    found: list[Codec] = []
    for info in installed_models():
        entry, family = info.entry, info.family
        if info.as_dict()["current"]:
            rc = family.rate_control(entry)
            for preset in rc.presets:
                found.append(NmcCodec(family.media.name.lower(), family.name, entry.full_id, entry.digest,
                                      rc.qualities, preset, tools.get("device") or "cpu",
                                      family.preset_work(preset)))
    return found
