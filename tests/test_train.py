"""Training: a config runs, checkpoints resume exactly, export gives a working model file."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from PIL import Image
from skimage import data as skdata

from codec.cli.main import main
from codec.errors import UsageError
from codec.train.config import TrainConfig
from codec.train.crops import CropSampler
from codec.train.image_trainer import ImageTrainer


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("train")
    for name in ("astronaut", "coffee", "chelsea"):
        Image.fromarray(getattr(skdata, name)()).save(folder / f"{name}.png")
    return folder


@pytest.fixture
def tiny(image_folder):
    return TrainConfig(data=[str(image_folder)], crop=64, batch=2, steps=6, warmup=2, channels=8,
                       latent_channels=16, hyper_channels=8, checkpoint_every=3, log_every=3)


def test_crops_are_in_range_and_deterministic(image_folder):
    sampler = CropSampler([str(image_folder)], 64, torch.device("cpu"))
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    a, b = sampler.sample(4, g1), sampler.sample(4, g2)
    assert a.shape == (4, 3, 64, 64) and torch.equal(a, b)
    assert 0 <= a.min() and a.max() <= 1 and a.std() > 0.01


def test_resume_is_exact(tmp_path, tiny, image_folder):
    sampler = CropSampler(tiny.data, tiny.crop, torch.device("cpu"))
    straight = ImageTrainer(tiny, tmp_path / "a", torch.device("cpu"))
    (tmp_path / "a").mkdir()
    straight.train(sampler)

    half = dataclasses.replace(tiny)
    first = ImageTrainer(half, tmp_path / "b", torch.device("cpu"))
    (tmp_path / "b").mkdir()
    first.train(sampler, max_seconds=0.0)  # stops after one step, with a checkpoint
    second = ImageTrainer(half, tmp_path / "b", torch.device("cpu"))
    second.load(second.checkpoint_path)
    assert second.step == 1
    second.train(sampler)
    for (name, p), q in zip(straight.model.state_dict().items(), second.model.state_dict().values()):
        assert torch.equal(p, q), name


def test_cli_trains_resumes_and_exports(tmp_path, image_folder, capsys):
    config = tmp_path / "tiny.toml"
    config.write_text(f'data = ["{image_folder}"]\ncrop = 64\nbatch = 2\nsteps = 4\nwarmup = 1\nchannels = 8\n'
                      f'latent_channels = 16\nhyper_channels = 8\ncheckpoint_every = 2\nlog_every = 2\n')
    work = tmp_path / "run"
    assert main(["train", "image", "--config", str(config), "--workdir", str(work), "--steps", "2"]) == 0
    assert main(["train", "image", "--config", str(config), "--workdir", str(work)]) == 2  # exists: needs --resume
    assert main(["train", "image", "--config", str(config), "--workdir", str(work), "--resume"]) == 0
    out = tmp_path / "model.safetensors"
    assert main(["train", "image", "--config", str(config), "--workdir", str(work), "--export", str(out),
                 "--model-id", "tiny"]) == 0

    from codec.models.image.hyperprior.coder import HyperpriorCoder
    from codec.models.image.hyperprior.model_file import load_model_file

    coder = HyperpriorCoder(load_model_file(out))
    img = skdata.astronaut()[:40, :50]
    segments = coder.compress(img, 2.0)
    assert coder.decompress(segments, 40, 50, 2.0).shape == (40, 50, 3)


def test_bad_configs(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('data = ["x"]\nbogus = 1\n')
    with pytest.raises(UsageError, match="unknown keys"):
        TrainConfig.load(bad)
    bad.write_text("crop = 64\n")
    with pytest.raises(UsageError, match="'data'"):
        TrainConfig.load(bad)
    bad.write_text('data = ["x"]\nlambdas = [0.01, 0.001]\n')
    with pytest.raises(UsageError, match="increasing"):
        TrainConfig.load(bad)
    bad.write_text("crop = = 64\n")
    with pytest.raises(UsageError, match="TOML"):
        TrainConfig.load(bad)


def test_shipped_configs_load_and_build_their_model():
    from pathlib import Path

    import codec.train

    configs = sorted((Path(codec.train.__file__).parent / "configs").glob("*.toml"))
    assert len(configs) >= 3
    for path in configs:
        model = TrainConfig.load(path).model_config()
        assert list(model.lambdas) == sorted(model.lambdas) and model.levels >= 6, path.name


@pytest.mark.parametrize("family,config", [
    ("hyperprior", "codec/train/configs/image-cpu.toml"),
    ("hvae", "codec/models/image/hvae/configs/hvae-cpu.toml"),
    ("dcvc", "codec/models/video/dcvc/configs/video-cpu.toml"),
    ("rvq", "codec/models/audio/rvq/configs/audio-cpu.toml"),
])
def test_export_without_a_checkpoint_is_a_usage_error_in_every_family(family, config, tmp_path, capsys):
    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "w.safetensors"
    assert main(["train", family, "--config", str(root / config), "--workdir", str(tmp_path / "empty"),
                 "--export", str(out)]) == 2
    assert "--export: no checkpoint" in capsys.readouterr().err and not out.exists()
