"""``codec train audio`` with a tiny config on synthesized clips: bursts resume exactly, the adversarial
(GPU) recipe runs, and --export writes a weights file the codec loads."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from codec.cli.main import main
from codec.zoo import load_weights_file

from audio_fixtures import tone

CONFIG = """
steps = {steps}
batch = 2
clip_seconds = 0.4
warmup = 2
checkpoint_every = 1
log_every = 1
adversarial = {adversarial}
restart_every = 2

[network]
encoder_dim = 16
encoder_blocks = 1
decoder_dim = 16
decoder_blocks = 1
decoder_channels = [8, 8, 8, 8]
decoder_dilations = [[1], [1], [1], [1]]
latent_dim = 8
codebooks = 4
codebook_size = 16
codebook_dim = 4

[[categories]]
name = "speech"
folders = ["clips/speech"]
augment = true

[[categories]]
name = "music"
folders = ["clips/music"]
"""


@pytest.fixture()
def workspace(tmp_path):
    import soundfile as sf

    for kind, rate, channels in (("speech", 16000, 1), ("music", 44100, 2)):
        folder = tmp_path / "clips" / kind
        folder.mkdir(parents=True)
        sf.write(folder / f"{kind}.wav", tone(1.5, rate, channels, seed=len(kind)), rate)
    (tmp_path / "clips" / "music" / "madmom").mkdir()    # an evaluation set's name: never read
    sf.write(tmp_path / "clips" / "music" / "madmom" / "eval.wav", np.full((44100, 1), 0.5, np.float32), 44100)
    return tmp_path


def write_config(folder, steps: int, adversarial: bool = False):
    path = folder / f"cfg-{steps}-{adversarial}.toml"
    path.write_text(CONFIG.format(steps=steps, adversarial=str(adversarial).lower()))
    return path


def run(*args) -> int:
    return main([str(a) for a in args])


def test_bursts_resume_exactly_and_export_loads(workspace):
    straight, bursts = workspace / "straight", workspace / "bursts"
    assert run("train", "audio", "--config", write_config(workspace, 3), "--workdir", straight, "--device", "cpu") == 0
    assert run("train", "audio", "--config", write_config(workspace, 2), "--workdir", bursts, "--device", "cpu") == 0
    assert run("train", "audio", "--config", write_config(workspace, 3), "--workdir", bursts, "--resume",
               "--device", "cpu") == 0
    a = torch.load(straight / "checkpoint.pt", weights_only=False)
    b = torch.load(bursts / "checkpoint.pt", weights_only=False)
    assert a["step"] == b["step"] == 3
    for key in a["net"]:
        assert torch.equal(a["net"][key], b["net"][key]), key
    out = workspace / "exported.safetensors"
    assert run("train", "audio", "--config", write_config(workspace, 3), "--workdir", straight,
               "--export", out, "--model-id", "rvq-unit") == 0
    model = load_weights_file(out)
    assert model.loaded.model_id == "rvq-unit" and model.loaded.config.codebooks == 4


@pytest.mark.slow
def test_adversarial_recipe_trains(workspace, capsys):
    assert run("train", "audio", "--config", write_config(workspace, 2, adversarial=True), "--workdir",
               workspace / "gan", "--device", "cpu") == 0
    state = torch.load(workspace / "gan" / "checkpoint.pt", weights_only=False)
    assert "disc" in state and state["step"] == 2


def test_evaluation_sets_are_never_read(workspace):
    from codec.models.audio.rvq.config import AudioTrainConfig
    from codec.models.audio.rvq.data import Category

    cfg = AudioTrainConfig.load(write_config(workspace, 1))
    music = Category("music", cfg.folders(cfg.categories[1]), 1.0, tuple(cfg.exclude), 24000, False)
    assert [s.name for s in music.signals] == ["music.wav"]


def test_mel_loss_sees_quiet_high_bands():
    """A -40 dBFS 6 kHz tone against silence: the default floor charges it, the old 1e-5 floor did not.

    The mel filters have unit area, so quiet highs have band values far below 1e-5;
    with that floor the first CPU stages learned to drop them (8 dB too quiet above 2 kHz).
    """
    from codec.models.audio.rvq.losses import MultiScaleMelLoss

    t = torch.arange(24000) / 24000
    quiet_high = (0.01 * torch.sin(2 * torch.pi * 6000 * t))[None]
    silence = torch.zeros_like(quiet_high)
    seen = MultiScaleMelLoss(24000)(silence, quiet_high)
    clamped = MultiScaleMelLoss(24000, floor=1e-5)(silence, quiet_high)
    assert seen > 0.5 and clamped < 0.15
