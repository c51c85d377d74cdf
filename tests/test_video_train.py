"""``codec train dcvc``: short clips from video files and moving photos, bursts that resume exactly, export."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from codec.cli.main import main
from codec.media.video import MEDIUM
from codec.models.video.dcvc.data import ClipSampler
from codec.models.video.dcvc.model_file import load_model_file
from codec.models.video.dcvc.train_config import VideoTrainConfig
from video_fixtures import moving_clip

CONFIG = """videos = ["videos"]
images = ["photos"]
exclude = ["held_out"]
crop = 64
batch = 2
stages = [[0, 2], [2, 3]]
steps = 4
lr = 1e-3
warmup = 1
bf16 = false
threads = 1
checkpoint_every = 1
log_every = 1
channels = 8
latent_channels = 8
hyper_channels = 8
recon_channels = 8
blocks = 1
"""


@pytest.fixture
def setup(tmp_path):
    (tmp_path / "videos").mkdir()
    (tmp_path / "photos").mkdir()
    for name in ("a.y4m", "held_out.y4m"):
        clip = moving_clip(5, width=96, height=80)
        sink = MEDIUM.open_sink(tmp_path / "videos" / name, "y4m", clip.info(), {})
        for f in clip.frames:
            sink.write(f)
        sink.close()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (120, 140, 3), dtype=np.uint8)).save(tmp_path / "photos" / f"{i}.png")
    config = tmp_path / "cfg.toml"
    config.write_text(CONFIG)
    return tmp_path, config


def test_sampler_cuts_clips_from_video_and_photos_and_leaves_out_excluded_files(setup):
    folder, config = setup
    cfg = VideoTrainConfig.load(config)
    sampler = ClipSampler(cfg.videos, cfg.images, 64, exclude=tuple(cfg.exclude), synthetic=0.5)
    assert sampler.names == ["a.y4m"] and len(sampler.images) == 2
    luma, chroma = sampler.sample(4, 3, torch.Generator().manual_seed(0))
    assert luma.shape == (4, 3, 1, 64, 64) and chroma.shape == (4, 3, 2, 32, 32)
    assert 0 <= float(luma.min()) and float(luma.max()) <= 1


def test_bursts_resume_exactly_and_export_a_working_model(setup, capsys):
    folder, config = setup
    whole, split = folder / "whole", folder / "split"
    assert main(["train", "dcvc", "--config", str(config), "--workdir", str(whole)]) == 0
    assert main(["train", "dcvc", "--config", str(config), "--workdir", str(split), "--steps", "4",
                 "--max-minutes", "0"]) == 0  # stops after its first step
    first = torch.load(split / "checkpoint.pt", weights_only=False)["step"]
    assert 1 <= first < 4
    assert main(["train", "dcvc", "--config", str(config), "--workdir", str(split), "--resume"]) == 0
    a = torch.load(whole / "checkpoint.pt", weights_only=False)
    b = torch.load(split / "checkpoint.pt", weights_only=False)
    assert a["step"] == b["step"] == 4
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    assert main(["train", "dcvc", "--config", str(config), "--workdir", str(whole)]) == 2  # exists: needs --resume
    assert "--resume" in capsys.readouterr().err
    out = folder / "m.safetensors"
    assert main(["train", "dcvc", "--config", str(config), "--workdir", str(whole), "--export", str(out)]) == 0
    model = load_model_file(out)
    assert model.config.channels == 8 and model.metadata["step"] == 4
