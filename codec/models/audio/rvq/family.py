"""Declaration of the RVQ audio family: released models, rate controls and the header's codec parameters.

Kept free of torch: the registry imports it to list models and to check files.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from codec.container.header import FileHeader
from codec.container.source import MediaType
from codec.errors import CorruptStreamError, UsageError
from codec.models.base import Exactness, Family, Model, ModelEntry, Option, RateControl, TrainRequest

WEIGHTS_DIR = Path(__file__).resolve().parents[3] / "weights"
FORMAT = "nmc-audio-rvq-v1"
PARAMS_VERSION = 1
#: -q 1..8: total bitrates (all channels together) in bits per second
LEVEL_BITRATES = (1500, 3000, 4500, 6000, 9000, 12000, 18000, 24000)
DEFAULT_LEVEL = 4
#: channel transforms (codec_params byte 2): 0 none (mono), 1 orthonormal DCT-II across channels
TRANSFORM_NONE, TRANSFORM_DCT = 0, 1
DEFAULT_PACKET_FRAMES = 48
_PARAMS = struct.Struct("<BBBI")


def level_bitrate(quality: float) -> float:
    """Bitrate of a (possibly fractional) quality level: geometric between the levels."""
    low = int(quality)
    if low >= len(LEVEL_BITRATES):
        return float(LEVEL_BITRATES[-1])
    a, b = LEVEL_BITRATES[low - 1], LEVEL_BITRATES[low]
    return float(a * (b / a) ** (quality - low))


def nearest_level(bitrate: float) -> int:
    return min(range(1, len(LEVEL_BITRATES) + 1), key=lambda q: abs(LEVEL_BITRATES[q - 1] - bitrate))


def encode_params(packet_frames: int, transform: int, target_bps: int) -> bytes:
    """``codec_params`` (bitstream/models/rvq.md): u8 version 1, u8 frames per packet, u8 channel transform,
    u32 target bitrate (informative)."""
    return _PARAMS.pack(PARAMS_VERSION, packet_frames, transform, min(target_bps, 2 ** 32 - 1))


def decode_params(data: bytes) -> dict[str, int]:
    if len(data) != _PARAMS.size or data[0] != PARAMS_VERSION:
        raise CorruptStreamError(f"codec parameters are not those of an RVQ audio model ({_PARAMS.size} bytes, "
                                 f"version {PARAMS_VERSION})")
    _, frames, transform, target = _PARAMS.unpack(data)
    if not 1 <= frames <= 255:
        raise CorruptStreamError(f"frames per packet {frames} outside 1..255")
    if transform not in (TRANSFORM_NONE, TRANSFORM_DCT):
        raise CorruptStreamError(f"unknown channel transform {transform}")
    return {"packet_frames": frames, "channel_transform": transform, "target_bitrate": target}


def _packet_frames(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"--packet-frames takes a whole number of frames, got {text!r}") from None
    if not 1 <= value <= 255:
        raise UsageError(f"--packet-frames must be 1..255, got {value}")
    return value


class RvqAudioFamily(Family):
    name = "rvq"
    media = MediaType.AUDIO
    formats = (FORMAT,)
    default_rank = 0
    exactness = Exactness.ENTROPY
    weights_dir = WEIGHTS_DIR
    encode_options = (
        Option(("--packet-frames",), "packet_frames",
               f"latent frames per packet (75 per second; default {DEFAULT_PACKET_FRAMES} = 0.64 s): smaller "
               f"packets seek finer and cost more header bytes", type=_packet_frames, metavar="N"),
    )
    models: tuple[ModelEntry, ...] = (
        ModelEntry("rvq-audio-small", 1, "rvq-audio-small.r1.safetensors",
                   "35becfeefadf18c6d088cc057bf05832a7a380bbd7e9b4a833c7ce8cb4465f0e",
                   "2.5 M parameters, 24 kHz core, 1.5-24 kbit/s, mono to 8 channels; CPU-trained"),
        ModelEntry("rvq-audio-small", 2, "rvq-audio-small.r2.safetensors",
                   "341f917d67ec7ae1c193505ec64c6ee573d46c5cbd8733c4aeed911f312479b3",
                   "r1 trained 10.9 k more CPU steps, the last 6 k with a mel loss that sees quiet highs"),
    )

    def rate_control(self, entry: ModelEntry) -> RateControl:
        return RateControl(qualities=len(LEVEL_BITRATES), default_quality=DEFAULT_LEVEL, continuous=True,
                           target="bitrate", presets=("fast",))

    def load(self, entry: ModelEntry, weights: bytes | None) -> Model:
        from codec.models.audio.rvq.session import RvqAudioModel

        return RvqAudioModel(self, entry, weights)

    def train(self, request: TrainRequest) -> None:
        from codec.models.audio.rvq.training import train

        train(request)

    def check_params(self, header: FileHeader) -> dict[str, Any]:
        params = decode_params(header.codec_params)
        if params["channel_transform"] == TRANSFORM_NONE and header.source.channels != 1:
            raise CorruptStreamError("channel transform 0 (none) is for mono files only")
        return params


FAMILY = RvqAudioFamily()
