"""Growing a trained image model: the old model survives inside the new one, from a checkpoint or a model file."""

from __future__ import annotations

import pytest
import torch
from PIL import Image
from skimage import data as skdata

from codec.cli.main import main
from codec.models.image.hyperprior.network import HyperpriorConfig, HyperpriorImageModel
from codec.nn.integer import quantize_conv
from codec.train.grow import grow_state_dict

OLD = HyperpriorConfig(8, 16, 8, (0.001, 0.01, 0.1))


@pytest.fixture(scope="module")
def trained():
    """A small model with non-trivial weights everywhere (random, then gains spread)."""
    torch.manual_seed(3)
    model = HyperpriorImageModel(OLD)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


def _run(model: HyperpriorImageModel, x: torch.Tensor, level: torch.Tensor):
    torch.manual_seed(7)  # the same training noise for both models
    with torch.no_grad():
        return model(x, level)


def _anchor_parameters(model: HyperpriorImageModel, x: torch.Tensor, level: torch.Tensor):
    with torch.no_grad():
        gain, _ = model.gains(level)
        z = model.h_a(model.g_a(x) * gain)
        hyper = model.h_s(torch.round(z - model.z_loc.view(1, -1, 1, 1)) + model.z_loc.view(1, -1, 1, 1))
        return model.split_parameters(hyper, torch.zeros_like(hyper))


def test_grown_model_keeps_the_old_one_inside(trained):
    new_config = HyperpriorConfig(8, 24, 8, OLD.lambdas)
    grown = HyperpriorImageModel(new_config)
    grown.load_state_dict(grow_state_dict(trained.state_dict(), OLD, new_config))
    x = torch.rand(2, 3, 64, 128)
    level = torch.tensor([0.3, 1.8])
    a, b = _run(trained, x, level), _run(grown, x, level)
    # The entropy path of the old channels is exactly the old one.
    assert torch.allclose(a["z_bits"], b["z_bits"], rtol=1e-5)
    for old_part, new_part in zip(_anchor_parameters(trained, x, level), _anchor_parameters(grown, x, level)):
        assert torch.allclose(old_part, new_part[:, :16], atol=1e-5)
    # The new channels carry content, cost bits, and reach the reconstruction a little from the start.
    gain, _ = grown.gains(level)
    assert (grown.g_a(x) * gain)[:, 16:].abs().mean() > 0.1
    assert (b["y_bits"] > a["y_bits"]).all()
    change = (a["x_hat"] - b["x_hat"]).abs().mean()
    assert 0 < change < 0.1 * a["x_hat"].abs().mean()


def test_levels_move_along_lambda(trained):
    new_config = HyperpriorConfig(8, 16, 8, (0.0001, 0.001, 10 ** -1.5, 0.1, 1.0))
    state = grow_state_dict(trained.state_dict(), OLD, new_config)
    old_gain = trained.log_gain.detach()
    assert torch.allclose(state["log_gain"][1], old_gain[0])
    assert torch.allclose(state["log_gain"][3], old_gain[2])
    assert torch.allclose(state["log_gain"][2], 0.5 * (old_gain[1] + old_gain[2]), atol=1e-6)
    # Extrapolated beyond both ends along the neighbouring segment.
    assert torch.allclose(state["log_gain"][0], 2 * old_gain[0] - old_gain[1], atol=1e-6)
    assert torch.allclose(state["log_gain"][4], 2 * old_gain[2] - old_gain[1], atol=1e-6)


def test_growing_refuses_other_transforms(trained):
    with pytest.raises(ValueError, match="transform"):
        grow_state_dict(trained.state_dict(), OLD, HyperpriorConfig(16, 16, 8, OLD.lambdas))
    with pytest.raises(ValueError, match="shrink"):
        grow_state_dict(trained.state_dict(), OLD, HyperpriorConfig(8, 12, 8, OLD.lambdas))


@pytest.mark.parametrize("transposed", [False, True])
def test_integer_layers_dequantize_to_their_float_weights(transposed):
    torch.manual_seed(0)
    conv = (torch.nn.ConvTranspose2d(6, 4, 5, 2, 2, output_padding=1) if transposed
            else torch.nn.Conv2d(6, 4, 3, 1, 1))
    weight, bias = quantize_conv(conv, 8, 10, relu=False).to_float()
    assert weight.shape == conv.weight.shape
    step = conv.weight.abs().amax(dim=tuple(range(1, 4)) if not transposed else (0, 2, 3)).max() / 2047
    assert (weight - conv.weight).abs().max() <= step
    assert (bias - conv.bias).abs().max() <= 2.0 ** -8


def test_cli_continues_from_a_model_file_or_checkpoint(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for name in ("astronaut", "coffee"):
        Image.fromarray(getattr(skdata, name)()).save(folder / f"{name}.png")
    base = (f'data = ["{folder}"]\ncrop = 64\nbatch = 2\nsteps = 2\nwarmup = 1\nchannels = 8\n'
            f'hyper_channels = 8\ncheckpoint_every = 2\nlog_every = 2\n')
    small, wide = tmp_path / "small.toml", tmp_path / "wide.toml"
    small.write_text(base + "latent_channels = 16\n")
    wide.write_text(base + "latent_channels = 24\nlambdas = [0.0005, 0.005, 0.05]\n")
    model_file = tmp_path / "small.safetensors"
    assert main(["train", "image", "--config", str(small), "--workdir", str(tmp_path / "a")]) == 0
    assert main(["train", "image", "--config", str(small), "--workdir", str(tmp_path / "a"),
                 "--export", str(model_file), "--model-id", "tiny"]) == 0
    for i, source in enumerate([model_file, tmp_path / "a" / "checkpoint.pt"]):
        work = tmp_path / f"wide{i}"
        assert main(["train", "image", "--config", str(wide), "--workdir", str(work),
                     "--init-from", str(source)]) == 0
        state = torch.load(work / "checkpoint.pt", weights_only=False)
        assert state["model_config"]["latent_channels"] == 24 and state["step"] == 2
    assert main(["train", "image", "--config", str(wide), "--workdir", str(tmp_path / "wide0"),
                 "--resume", "--init-from", str(model_file)]) == 2
    assert main(["train", "image", "--config", str(wide), "--workdir", str(tmp_path / "c"),
                 "--init-from", str(tmp_path / "missing.pt")]) == 2
