"""The shipped image codec end to end: inputs, round trips, exactness, rate control, damage."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data as skdata

import codec
from codec.container import build_container, parse_container
from codec.errors import BadInputError, CorruptStreamError, ModelMismatchError, UsageError
from codec.container import MediaType
from codec.zoo import model_for


def load_image_model():
    """The current image model's coder (the hyperprior family's exact entropy path)."""
    return model_for(None, MediaType.IMAGE).coder


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return skdata.astronaut()[100:197, 150:263]  # 97 x 113: not a multiple of anything


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255 ** 2 / mse))


def test_round_trip_shape_and_quality(photo):
    data, out = codec.round_trip(photo, quality=8)
    assert out.shape == photo.shape and out.dtype == np.uint8
    assert psnr(photo, out) > 28
    assert parse_container(data).header.source.width == 113


def test_higher_quality_costs_more_and_looks_better(photo):
    sizes, psnrs = [], []
    for q in (1, 4, 8):
        data, out = codec.round_trip(photo, quality=q)
        sizes.append(len(data))
        psnrs.append(psnr(photo, out))
    assert sizes == sorted(sizes) and psnrs == sorted(psnrs)


@pytest.mark.parametrize("shape", [(1, 1, 3), (2, 65, 3), (64, 64, 3), (70, 1, 3)])
def test_tiny_and_odd_sizes(shape):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, shape, dtype=np.uint8)
    _, out = codec.round_trip(img, quality=3)
    assert out.shape == shape


def test_input_kinds_agree(photo, tmp_path):
    path = tmp_path / "p.png"
    Image.fromarray(photo).save(path)
    from_array = codec.encode_image(photo, quality=2)
    assert codec.encode_image(path, quality=2) == from_array
    assert codec.encode_image(str(path), quality=2) == from_array
    assert codec.encode_image(Image.fromarray(photo), quality=2) == from_array
    assert codec.encode_image(torch.from_numpy(photo).permute(2, 0, 1), quality=2) == from_array
    assert codec.encode_image(torch.from_numpy(photo).permute(2, 0, 1).float() / 255, quality=2) == from_array


def test_output_kinds(photo):
    data = codec.encode_image(photo, quality=2)
    pixels = codec.decode_image(data)
    assert np.array_equal(np.asarray(codec.decode_image(data, output="pil")), pixels)
    assert np.array_equal(codec.decode_image(data, output="torch").permute(1, 2, 0).numpy(), pixels)


def test_greyscale_and_opaque_alpha_are_restored(photo):
    grey = photo[:, :, 1]
    out = codec.decode_image(codec.encode_image(grey, quality=6))
    assert out.shape == grey.shape and psnr(grey, out) > 25
    rgba = np.concatenate([photo, np.full(photo.shape[:2] + (1,), 255, np.uint8)], axis=2)
    out = codec.decode_image(codec.encode_image(rgba, quality=6))
    assert out.shape == rgba.shape and (out[:, :, 3] == 255).all()


@pytest.mark.parametrize("bad, message", [
    (np.zeros((8, 8, 4), np.uint8), "translucent alpha"),
    (np.zeros((8, 8, 3), np.uint16), "8-bit"),
    (np.zeros((8, 8, 3), np.float32), "8-bit"),
    (np.zeros((0, 8, 3), np.uint8), "empty"),
    (np.zeros((8, 8, 5), np.uint8), "shape"),
    ("/nonexistent/photo.png", "no such file"),
])
def test_refused_inputs(bad, message):
    with pytest.raises(BadInputError, match=message):
        codec.encode_image(bad)


def test_a_wrong_type_is_a_usage_error():
    with pytest.raises(UsageError, match="cannot encode a int"):
        codec.encode_image(12)


def test_sixteen_bit_png_is_refused(tmp_path):
    path = tmp_path / "deep.png"
    Image.fromarray(np.zeros((8, 8), np.uint16)).save(path)
    with pytest.raises(BadInputError, match="16-bit"):
        codec.encode_image(path)


def test_quality_and_bpp_options():
    with pytest.raises(UsageError):
        codec.encode_image(np.zeros((8, 8, 3), np.uint8), quality=9)
    with pytest.raises(UsageError):
        codec.encode_image(np.zeros((8, 8, 3), np.uint8), quality=2, bpp=1.0)


def test_target_bpp_fits_the_budget(photo):
    pixels = photo.shape[0] * photo.shape[1]
    low = len(codec.encode_image(photo, quality=1)) * 8 / pixels
    high = len(codec.encode_image(photo, quality=8)) * 8 / pixels
    target = (low + high) / 2
    got = len(codec.encode_image(photo, bpp=target)) * 8 / pixels
    assert got <= target
    assert got > 0.8 * target


def test_decoding_is_exact_across_threads_and_synthesis_precision(photo):
    coder = load_image_model()
    data = codec.encode_image(photo, quality=5)
    packet = parse_container(data).packets[0]
    h, w = photo.shape[:2]
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        latent_1 = coder.decode_latent(packet.segments, h, w)
        pixels_1 = coder.decompress(packet.segments, h, w, 4.0)
        torch.set_num_threads(2)
        latent_2 = coder.decode_latent(packet.segments, h, w, threads=2)
        pixels_2 = coder.decompress(packet.segments, h, w, 4.0, threads=2)
    finally:
        torch.set_num_threads(before)
    assert torch.equal(latent_1, latent_2)
    assert np.array_equal(pixels_1, pixels_2)
    pixels_64 = coder.decompress(packet.segments, h, w, 4.0, synthesis_dtype=torch.float64)
    assert np.abs(pixels_64.astype(int) - pixels_1.astype(int)).max() <= 1


def test_entropy_parameters_do_not_depend_on_the_band_height(photo, monkeypatch):
    from codec.models.image.hyperprior import integer_path

    coder = load_image_model()
    packet = parse_container(codec.encode_image(photo, quality=7)).packets[0]
    h, w = photo.shape[:2]
    whole = coder.decode_latent(packet.segments, h, w)
    monkeypatch.setattr(integer_path, "BAND_ROWS", 1)
    assert torch.equal(coder.decode_latent(packet.segments, h, w), whole)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_gpu_decodes_the_same_latent_and_pixels(photo):
    coder = load_image_model()
    data = codec.encode_image(photo, quality=5)
    packet = parse_container(data).packets[0]
    h, w = photo.shape[:2]
    assert torch.equal(coder.decode_latent(packet.segments, h, w),
                       coder.decode_latent(packet.segments, h, w, device="cuda").cpu())
    gpu = coder.decompress(packet.segments, h, w, 4.0, device="cuda")
    cpu = coder.decompress(packet.segments, h, w, 4.0)
    assert np.abs(gpu.astype(int) - cpu.astype(int)).max() <= 1


def test_damaged_payload_is_reported(photo):
    data = bytearray(codec.encode_image(photo, quality=3))
    data[len(data) // 2] ^= 0x01
    with pytest.raises(CorruptStreamError, match="checksum"):
        codec.decode_image(bytes(data))


def test_wrong_weights_digest_is_refused(photo):
    f = parse_container(codec.encode_image(photo, quality=3))
    forged = build_container(replace(f.header, model_digest=bytes(32)), [f.packets[0].segments])
    with pytest.raises(ModelMismatchError, match="with weights 0000000000000000.*does not have"):
        codec.decode_image(forged)


def test_unknown_model_is_refused(photo):
    f = parse_container(codec.encode_image(photo, quality=3))
    forged = build_container(replace(f.header, model_id="no-such-model"), [f.packets[0].segments])
    with pytest.raises(BadInputError, match="no-such-model.*does not have"):
        codec.decode_image(forged)


def test_garbage_segments_raise_corrupt_stream(photo):
    f = parse_container(codec.encode_image(photo, quality=3))
    segs = list(f.packets[0].segments)
    segs[1] = segs[1][: len(segs[1]) // 2]
    with pytest.raises(CorruptStreamError, match="packet 0"):
        codec.decode_image(build_container(f.header, [tuple(segs)]))


@pytest.mark.parametrize("target", [0.6, 1.1])
def test_target_bpp_is_the_largest_level_that_fits(photo, target):
    """The search may skip levels, but its answer is proven: one step up would not fit."""
    from codec.models.image.hyperprior.family import LEVEL_STEPS, decode_params

    data = codec.encode_image(photo, bpp=target)
    pixels = photo.shape[0] * photo.shape[1]
    level = decode_params(parse_container(data).header.codec_params)
    assert 8 * len(data) / pixels <= target
    assert level > 0
    if level < 7:
        above = codec.encode_image(photo, quality=level + 1 + 1 / LEVEL_STEPS)
        assert 8 * len(above) / pixels > target
