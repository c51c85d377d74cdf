"""The codec contract: a family outside the package goes through every command, and streaming works.

The toy family (``tests/toy_family.py``) is registered only through the
``CODEC_PLUGINS`` environment variable: no file of the package knows it.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

import codec
from codec import zoo
from codec.cli.main import main
from codec.container import ContainerReader, MediaType
from codec.errors import BadInputError, CorruptStreamError, UsageError


@pytest.fixture
def toy(monkeypatch):
    monkeypatch.setenv(zoo.PLUGINS_VARIABLE, "toy_family")
    import toy_family

    zoo.register_family(toy_family.FAMILY)
    yield toy_family
    zoo.unregister_family("toy")


@pytest.fixture
def photo(tmp_path):
    from skimage import data

    path = tmp_path / "photo.png"
    Image.fromarray(data.astronaut()[100:276, 180:356]).save(path)  # 176x176: MS-SSIM needs > 160
    return path


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def test_toy_family_through_encode_decode_info_and_models(toy, photo, tmp_path, capsys):
    nmc, png = tmp_path / "p.nmc", tmp_path / "back.png"
    assert cli(capsys, "encode", photo, "-o", nmc, "--model", "toy", "-q", 7)[0] == 0
    assert cli(capsys, "decode", nmc, "-o", png)[0] == 0
    original, back = np.asarray(Image.open(photo)), np.asarray(Image.open(png))
    assert np.abs(original.astype(int) - back).max() <= 1  # step 2 at quality 7
    code, out, _ = cli(capsys, "info", "--json", "--check", nmc)
    info = json.loads(out)
    assert code == 0 and info["model"]["id"] == "toy-raw@1" and info["decodable"]["params"] == {"quality": 7}
    code, out, _ = cli(capsys, "models", "--json")
    assert any(m["id"] == "toy-raw@1" and m["exact"] == "samples" for m in json.loads(out))


def test_toy_family_through_transcode_in_worker_processes(toy, photo, tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        Image.open(photo).rotate(90 * i).save(src / f"{i}.png")
    code, _, _ = cli(capsys, "transcode", "-i", src, "-o", tmp_path / "out", "--model", "toy-raw", "-j", 2)
    assert code == 0
    for i in range(3):
        with open(tmp_path / "out" / f"{i}.nmc", "rb") as f:
            assert ContainerReader(f).header.model_id == "toy-raw@1"


def test_toy_family_through_eval(toy, photo, tmp_path, capsys):
    data = tmp_path / "set"
    data.mkdir()
    Image.open(photo).save(data / "a.png")
    code, _, _ = cli(capsys, "eval", "image", "--dataset", data, "--codecs", "nmc-toy-raw,jpeg-420",
                     "--out", tmp_path / "ev", "--quiet")
    assert code == 0
    results = json.loads((tmp_path / "ev" / "results.json").read_text())
    assert len(results["per_item"]["nmc-toy-raw"]["a.png"]) == 8


def test_streaming_write_then_read_with_seek(toy, photo):
    """A multi-packet stream: the toy image family is one packet, so use the container with the reader API."""
    from codec.container import ContainerWriter, FileHeader, SourceInfo
    from fractions import Fraction

    buf = io.BytesIO()
    header = FileHeader(MediaType.VIDEO, "no-such-video-model", bytes(32), SourceInfo(
        width=4, height=4, bit_depth=8, components=3, chroma_format=1, colour_primaries=1, transfer=1, matrix=1,
        full_range=False, time_base=Fraction(1, 25), frame_rate=Fraction(25)))
    with ContainerWriter(buf, header) as w:
        for i in range(50):
            w.write_packet([bytes([i])], pts=i, duration=1, random_access=i % 10 == 0)
    reader = ContainerReader(io.BytesIO(buf.getvalue()))
    entry = [e for e in reader.read_end().index if e.pts <= 33][-1]
    reader.seek_packet(entry.offset)
    assert [p.pts for p in reader.packets()][:3] == [30, 31, 32]


def test_writer_streams_and_an_interrupted_writer_leaves_nothing(toy, photo, tmp_path):
    pixels = np.asarray(Image.open(photo))
    out = tmp_path / "s.nmc"
    with codec.open(out, "w", media="image", model="toy", quality=8, width=176, height=176) as f:
        f.write(pixels)
        assert not out.exists()  # atomic: appears on close
    with codec.open(out) as f:
        assert f.info.model == "toy-raw@1" and f.info.width == 176
        (decoded,) = list(f)
    assert np.array_equal(decoded, pixels)
    broken = tmp_path / "broken.nmc"
    with pytest.raises(KeyboardInterrupt):
        with codec.open(broken, "w", media="image", model="toy", width=176, height=176) as f:
            raise KeyboardInterrupt
    assert not broken.exists() and not list(tmp_path.glob(".nmc-partial-*"))


def test_truncated_stream_reports_packet_and_offset_after_the_intact_packets(tmp_path):
    from codec.container import ContainerWriter
    from container_fixtures import audio_header

    buf = io.BytesIO()
    with ContainerWriter(buf, audio_header()) as w:
        for i in range(6):
            w.write_packet([bytes(100)], pts=i * 100, duration=100)
    data = buf.getvalue()[:-60]  # killed writer: the last packet is cut and there is no end
    reader = ContainerReader(io.BytesIO(data))
    got = []
    with pytest.raises(CorruptStreamError) as info:
        for p in reader.packets():
            got.append(p.pts)
    assert got == [0, 100, 200, 300, 400] and info.value.packet == 5 and info.value.offset > 0


def test_unknown_model_media_mismatch_and_empty_writer(toy, tmp_path):
    with pytest.raises((UsageError, BadInputError), match="codes image, not audio|no audio model is installed"):
        zoo.resolve("toy-raw", MediaType.AUDIO)
    with pytest.raises(UsageError, match="nothing was written"):
        with codec.open(tmp_path / "e.nmc", "w", media="image", model="toy", width=4, height=4):
            pass


def test_family_init_modules_do_not_import_torch():
    import subprocess
    import sys

    code = "import sys, codec.zoo as z; z.families(); z.installed_models(); print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def test_weights_file_outside_the_registry(tmp_path, photo, capsys):
    """--weights codes with a training run's export; its files decode with it, and only with it."""
    import json as _json
    import struct

    from codec.models import weights_file
    from codec.models.image.hyperprior.family import WEIGHTS_DIR

    data = weights_file.read(WEIGHTS_DIR / "hyperprior-vr-small.r1.safetensors")
    (length,) = struct.unpack_from("<Q", data)
    header = _json.loads(data[8:8 + length])
    header["__metadata__"]["info"] = _json.dumps({"note": "a new training run"})
    body = _json.dumps(header).encode()
    body += b" " * (-len(body) % 8)
    retrained = tmp_path / "retrained.safetensors"
    retrained.write_bytes(struct.pack("<Q", len(body)) + body + data[8 + length:])
    released = tmp_path / "copy.safetensors"
    released.write_bytes(data)
    out, back = tmp_path / "r.nmc", tmp_path / "r.png"
    assert cli(capsys, "encode", photo, "-o", out, "--weights", retrained, "-q", 3)[0] == 0
    assert "hyperprior-vr-small@0" in cli(capsys, "info", out)[1]
    code, _, err = cli(capsys, "decode", out, "-o", back)
    assert code == 3 and "does not have" in err
    assert cli(capsys, "decode", out, "-o", back, "--weights", retrained)[0] == 0
    # the released weights under another name are the released model
    assert cli(capsys, "encode", photo, "-o", out, "-y", "--weights", released)[0] == 0
    assert "hyperprior-vr-small@1" in cli(capsys, "info", out)[1]
    # packed as the package ships weights: the same model; a damaged pack is refused in one line
    import lzma

    packed, broken = tmp_path / "copy.safetensors.xz", tmp_path / "broken.safetensors.xz"
    packed.write_bytes(lzma.compress(data))
    broken.write_bytes(b"not xz data")
    assert cli(capsys, "encode", photo, "-o", out, "-y", "--weights", packed)[0] == 0
    assert "hyperprior-vr-small@1" in cli(capsys, "info", out)[1]
    code, _, err = cli(capsys, "encode", photo, "-o", out, "-y", "--weights", broken)
    assert code != 0 and "damaged xz-packed weights file" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("module", ["codec.models.image.hyperprior.session", "codec.models.image.overfit.session",
                                    "codec.models.image.hvae.session", "codec.models.video.dcvc.session",
                                    "codec.models.audio.rvq.session"])
def test_every_family_fingerprints_on_a_named_device(module):
    """tools/gpu_train.sh and the gpu tests call exact_fingerprint(..., device=...) on every family's model."""
    import importlib
    import inspect

    from codec.models.base import Model

    models = [c for c in vars(importlib.import_module(module)).values()
              if inspect.isclass(c) and issubclass(c, Model) and c is not Model]
    assert models
    for cls in models:
        assert "device" in inspect.signature(cls.exact_fingerprint).parameters, cls.__qualname__


def test_a_target_below_the_smallest_file_says_so(photo, tmp_path, capsys):
    """--bpp promises at most that rate; where even the lowest level is larger, the user is told."""
    code, _, err = cli(capsys, "encode", photo, "-o", tmp_path / "p.nmc", "--bpp", "0.001")
    assert code == 0 and "cannot go as low as 0.001 bpp" in err
    code, _, err = cli(capsys, "encode", photo, "-o", tmp_path / "q.nmc", "--bpp", "4")
    assert code == 0 and "cannot go as low" not in err
