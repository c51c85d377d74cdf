"""Declaration of the overfitted image family: its model, rate controls, presets and header parameters.

Kept free of torch: the registry imports it to list models and to check files.
"""

from __future__ import annotations

from typing import Any

from codec.container.header import FileHeader
from codec.container.source import MediaType
from codec.models.base import Exactness, Family, Model, ModelEntry, RateControl
from codec.models.image.overfit.architecture import DIGEST, MODEL_ID, REVISION
from codec.models.image.overfit.params import LEVELS, CodecParams

PRESETS = ("fast", "medium", "slow")


class OverfitFamily(Family):
    name = "overfit"
    media = MediaType.IMAGE
    default_rank = 50
    exactness = Exactness.ENTROPY
    models = (
        ModelEntry(MODEL_ID, REVISION, None, DIGEST,
                   "overfitted per image (Cool-chic class): 7 latent grids, integer context model, "
                   "networks coded in the file; presets fast/medium/slow"),
    )

    def preset_work(self, preset: str) -> str:
        from codec.models.image.overfit.fit import PRESETS as SCHEDULES

        return repr(SCHEDULES[preset]) if preset in SCHEDULES else ""

    def rate_control(self, entry: ModelEntry) -> RateControl:
        return RateControl(qualities=LEVELS, default_quality=4, continuous=True, target="bpp", presets=PRESETS)

    def load(self, entry: ModelEntry, weights: bytes | None) -> Model:
        from codec.models.image.overfit.session import OverfitModel

        return OverfitModel(self, entry)

    def check_params(self, header: FileHeader) -> dict[str, Any]:
        return CodecParams.from_bytes(header.codec_params).describe()


FAMILY = OverfitFamily()
