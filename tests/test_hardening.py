"""What a bad-input campaign found (issue 14), each kept fixed by a test that reproduces it.

Decompression bombs, device outputs, inputs that are endless or claim
gigabytes, formats that passed silently but wrong, files that ``codec info``
called fine but nothing decoded, messages that said the wrong thing, a
killed encoder's leftovers, Python API misuse found only after the work,
and families of damaged files (truncations, flips, rewrites behind the
checksums) that must each end in exit 0 or 3, never a traceback.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import random
import signal
import stat
import struct
import subprocess
import sys
import time
import tracemalloc
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import codec
from codec.cli import exitcodes
from codec.cli.main import main
from codec.container import build_container, parse_container
from codec.container.header import MAGIC, parse_header
from codec.container.packet import LAYOUT_1_1, PacketType, encode_packet_head
from codec.errors import BadInputError, CorruptStreamError, UsageError
from codec.io.atomic import TEMP_PREFIX, stale_temporaries

FUZZ = Path(__file__).resolve().parent.parent / "fuzz"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """Run the command line in this process; every outcome must be an exit code, never a traceback."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "internal error" not in err, err
    return code, out, err


def pattern(h: int, w: int) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([(x * 255 // max(w - 1, 1)), (y * 255 // max(h - 1, 1)),
                     ((x + 2 * y) * 7) % 200 + 30], axis=2).astype(np.uint8)


@pytest.fixture(scope="module")
def coded() -> bytes:
    """A real small .nmc file of the current image model."""
    return codec.encode_image(pattern(16, 16), quality=3)


@pytest.fixture
def nmc(tmp_path, coded) -> Path:
    path = tmp_path / "small.nmc"
    path.write_bytes(coded)
    return path


@pytest.fixture
def png(tmp_path) -> Path:
    path = tmp_path / "small.png"
    Image.fromarray(pattern(16, 16)).save(path)
    return path


def forged(data: bytes, **source_changes) -> bytes:
    """The same packet under a header whose source description says something else (checksums recomputed)."""
    f = parse_container(data)
    header = replace(f.header, source=replace(f.header.source, **source_changes))
    return build_container(header, [f.packets[0].segments])


def peak_memory(fn) -> tuple[object, int]:
    """``fn()``'s result and the peak bytes Python allocated while it ran."""
    tracemalloc.start()
    try:
        result = fn()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# -- 1. decompression bombs -----------------------------------------------------------------------------

def png_file(width: int, height: int, bit_depth: int, colour_type: int, idat: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def zeros_zlib(row_bytes: int, rows: int) -> bytes:
    """A valid zlib stream of ``rows`` rows of zeros (filter byte included), made without compressing them all:
    after a full flush deflate restarts, so one flushed block of zero rows can be repeated."""
    per_block = 1000
    assert rows % per_block == 0
    block = bytes((row_bytes + 1) * per_block)
    c = zlib.compressobj(9)
    first = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
    repeated = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
    end = c.flush(zlib.Z_FINISH)[:-4]
    total = (row_bytes + 1) * rows
    adler = ((total % 65521) << 16) | 1  # Adler-32 of `total` zero bytes
    return first + repeated * (rows // per_block - 1) + end + struct.pack(">I", adler)


@pytest.fixture
def no_pixel_decoding(monkeypatch):
    """Fail the test if Pillow starts decoding pixel data."""
    from PIL import ImageFile

    def refuse(self, *args, **kwargs):
        raise AssertionError("pixels were decoded before the size was checked")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)


def test_png_claiming_100000_square_is_refused_from_its_header(tmp_path, capsys, no_pixel_decoding):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_file(100000, 100000, 8, 2, zlib.compress(bytes(3 * 100000 + 1) * 2)))
    assert bomb.stat().st_size < 1024
    (code, _, err), peak = peak_memory(lambda: run(capsys, "encode", str(bomb), "-o", str(tmp_path / "b.nmc")))
    assert code == exitcodes.BAD_INPUT
    assert "100000x100000" in err and "exceeds" in err
    assert peak < 16 << 20
    assert not (tmp_path / "b.nmc").exists()


def test_real_20000_square_grey_png_is_refused_before_decoding(tmp_path, capsys, no_pixel_decoding):
    big = tmp_path / "grey.png"
    big.write_bytes(png_file(20000, 20000, 8, 0, zeros_zlib(20000, 20000)))
    assert big.stat().st_size < 1 << 20  # a few hundred KB for 400 megapixels
    (code, _, err), peak = peak_memory(lambda: run(capsys, "encode", str(big), "-o", str(tmp_path / "g.nmc")))
    assert code == exitcodes.BAD_INPUT and "20000x20000" in err
    assert peak < 16 << 20


def test_default_pixel_limit_and_max_pixels(tmp_path, capsys, no_pixel_decoding):
    big = tmp_path / "80mp.png"  # over the default limit (67 MP), within the format's (268 MP)
    big.write_bytes(png_file(10000, 8000, 8, 0, zeros_zlib(10000, 8000)))
    code, _, err = run(capsys, "encode", str(big), "-o", str(tmp_path / "x.nmc"))
    assert code == exitcodes.BAD_INPUT
    assert "pixel limit of 67 MP" in err and "--max-pixels" in err


def test_max_pixels_raises_or_lowers_the_limit(tmp_path, capsys, png):
    out = str(tmp_path / "x.nmc")
    code, _, err = run(capsys, "encode", str(png), "-o", out, "--max-pixels", "200")
    assert code == exitcodes.BAD_INPUT and "16x16" in err and "--max-pixels" in err
    assert run(capsys, "encode", str(png), "-o", out, "--max-pixels", "256")[0] == exitcodes.OK
    for bad in ("0", "lots", str(1 << 40)):
        assert run(capsys, "encode", str(png), "-o", out, "-y", "--max-pixels", bad)[0] == exitcodes.USAGE_ERROR
    with pytest.raises(BadInputError, match="pixel limit"):
        codec.encode_image(pattern(16, 16), max_pixels=100)


def test_memory_error_reading_an_input_is_bad_input(tmp_path, capsys, monkeypatch, png, nmc):
    from codec.container import reader
    from codec.io import image_input

    def exhausted(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(image_input, "_from_pil", exhausted)
    code, _, err = run(capsys, "encode", str(png), "-o", str(tmp_path / "m.nmc"))
    assert code == exitcodes.BAD_INPUT and "memory" in err
    monkeypatch.setattr(reader.ContainerReader, "_read_checked", exhausted)
    for argv in (["decode", str(nmc), "-o", str(tmp_path / "m.png")], ["info", str(nmc)]):
        code, _, err = run(capsys, *argv)
        assert code == exitcodes.BAD_INPUT and "memory" in err
    assert not (tmp_path / "m.nmc").exists() and not (tmp_path / "m.png").exists()


# -- 2. outputs that are devices or standard output -------------------------------------------------------

needs_devices = pytest.mark.skipif(not (os.path.exists("/dev/null") and os.path.exists("/dev/full")),
                                   reason="needs /dev/null and /dev/full")


def _still_a_device(path: str) -> bool:
    return stat.S_ISCHR(os.stat(path).st_mode)


@needs_devices
def test_encode_into_dev_null_never_replaces_it(capsys, png):
    for flags in ([], ["-y"], ["-n"]):
        code, _, err = run(capsys, "encode", str(png), "-o", "/dev/null", *flags)
        assert code == exitcodes.OK, err
        assert _still_a_device("/dev/null")
    assert not list(Path("/dev").glob(TEMP_PREFIX + "*"))


@needs_devices
def test_decode_into_dev_null_takes_its_format_from_format(capsys, nmc):
    code, _, err = run(capsys, "decode", str(nmc), "-o", "/dev/null")
    assert code == exitcodes.USAGE_ERROR and "--format" in err and "no extension" in err
    for flags in ([], ["-y"]):
        assert run(capsys, "decode", str(nmc), "-o", "/dev/null", "--format", "png", *flags)[0] == exitcodes.OK
    assert run(capsys, "decode", str(nmc), "-o", "/dev/null", "--format", ".PNG")[0] == exitcodes.OK
    code, _, err = run(capsys, "decode", str(nmc), "-o", "/dev/null", "--format", "gif")
    assert code == exitcodes.USAGE_ERROR and "cannot be written as 'gif'" in err
    assert _still_a_device("/dev/null")


@needs_devices
def test_full_device_is_an_output_error(capsys, png, nmc):
    for argv in (["encode", str(png), "-o", "/dev/full"], ["decode", str(nmc), "-o", "/dev/full", "--format", "png"]):
        code, _, err = run(capsys, *argv)
        assert code == exitcodes.OUTPUT_ERROR
        assert err == "codec: error: cannot write /dev/full: No space left on device\n"
        assert _still_a_device("/dev/full")


def test_encode_to_standard_output_writes_the_file(tmp_path, png, coded):
    result = subprocess.run([sys.executable, "-m", "codec.cli.main", "encode", str(png), "-o", "-", "-q", "3"],
                            capture_output=True, timeout=300)
    assert result.returncode == 0, result.stderr.decode()
    assert b"Traceback" not in result.stderr
    assert result.stdout.startswith(MAGIC) and result.stdout == coded  # the encoder is deterministic
    assert not list(tmp_path.glob(TEMP_PREFIX + "*"))


def test_decode_from_standard_input_to_standard_output(monkeypatch, capsys, coded):
    stdin = io.TextIOWrapper(io.BytesIO(coded))
    stdout = io.TextIOWrapper(io.BytesIO())
    monkeypatch.setattr(sys, "stdin", stdin)
    monkeypatch.setattr(sys, "stdout", stdout)
    code = main(["decode", "-", "-o", "-", "--format", "png"])
    monkeypatch.undo()
    assert code == exitcodes.OK, capsys.readouterr().err
    written = stdout.buffer.getvalue()
    assert written.startswith(b"\x89PNG")
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(written))), codec.decode_image(coded))


# -- 3. inputs that never end or claim gigabytes ----------------------------------------------------------

def test_dev_zero_and_a_sparse_3_gb_file_are_refused_at_once(tmp_path, capsys):
    sparse = tmp_path / "sparse.nmc"
    with open(sparse, "wb") as f:
        f.truncate(3 << 30)
    inputs = [str(sparse)] + (["/dev/zero"] if os.path.exists("/dev/zero") else [])
    for name in inputs:
        for argv in (["decode", name, "-o", str(tmp_path / "x.png")], ["info", name]):
            (code, _, err), peak = peak_memory(lambda: run(capsys, *argv))
            assert code == exitcodes.BAD_INPUT and "bad magic" in err
            assert peak < 16 << 20


def header_then_packet_claiming(coded: bytes, length: int) -> bytes:
    _, header_bytes = parse_header(io.BytesIO(coded).read)
    return coded[:header_bytes] + encode_packet_head(LAYOUT_1_1, PacketType.DATA, 1, 0, 0, length)


def test_packet_claiming_1_gib_in_a_2_gib_sparse_file_is_checked_in_bounded_memory(tmp_path, capsys, coded):
    path = tmp_path / "claims.nmc"
    with open(path, "wb") as f:
        f.write(header_then_packet_claiming(coded, 1 << 30))
        f.truncate(2 << 30)
    (code, _, err), peak = peak_memory(lambda: run(capsys, "decode", str(path), "-o", str(tmp_path / "x.png")))
    assert code == exitcodes.BAD_INPUT and "packet checksum mismatch" in err
    assert peak < 64 << 20, f"{peak >> 20} MiB held for a packet that was not verified"


class _Pipe(io.RawIOBase):
    """Bytes arriving as through a pipe: no seeking, short reads."""

    def __init__(self, data: bytes) -> None:
        self._data, self._pos = data, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), 1 << 16, len(self._data) - self._pos)
        buffer[:n] = self._data[self._pos: self._pos + n]
        self._pos += n
        return n


def test_packet_claiming_1_gib_on_a_pipe_costs_the_bytes_that_arrive(coded):
    data = header_then_packet_claiming(coded, 1 << 30) + bytes(5 << 20)
    tracemalloc.start()
    try:
        with pytest.raises(CorruptStreamError, match="truncated inside a packet"):
            codec.decode(io.BufferedReader(_Pipe(data)))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20, f"{peak >> 20} MiB held for 5 MiB that arrived"


# -- 4. and 5. formats that went wrong silently -------------------------------------------------------------

@pytest.mark.parametrize("layout, jpeg_mode", [("RGBA", "RGB"), ("LA", "L")])
def test_opaque_alpha_decodes_to_a_valid_jpeg(tmp_path, capsys, layout, jpeg_mode):
    rgb = pattern(16, 16)
    pixels = np.dstack([rgb if layout == "RGBA" else rgb[:, :, :1], np.full((16, 16), 255, np.uint8)])
    Image.fromarray(pixels.squeeze() if pixels.shape[2] != 2 else pixels, layout).save(tmp_path / "a.png")
    assert run(capsys, "encode", str(tmp_path / "a.png"), "-o", str(tmp_path / "a.nmc"), "-q", "8")[0] == 0
    assert run(capsys, "decode", str(tmp_path / "a.nmc"), "-o", str(tmp_path / "a.jpg"))[0] == exitcodes.OK
    with Image.open(tmp_path / "a.jpg") as im:
        assert im.format == "JPEG" and im.mode == jpeg_mode and im.size == (16, 16)
        im.load()


def test_16_bit_rgb_png_is_refused_not_truncated_to_8_bits(tmp_path, capsys):
    samples = np.random.default_rng(0).integers(0, 1 << 16, (6, 5, 3), dtype=np.uint16)
    rows = b"".join(b"\0" + samples[y].astype(">u2").tobytes() for y in range(6))
    path = tmp_path / "deep.png"
    path.write_bytes(png_file(5, 6, 16, 2, zlib.compress(rows)))
    with Image.open(path) as im:
        assert im.mode == "RGB"  # what Pillow does: 8 bits, without a word
    code, _, err = run(capsys, "encode", str(path))
    assert code == exitcodes.BAD_INPUT and "16-bit samples are not supported" in err
    with pytest.raises(BadInputError, match="16-bit"):
        codec.encode_image(path)


def test_forged_two_component_file_decodes_with_its_opaque_alpha(tmp_path, capsys, coded):
    data = forged(coded, components=2)
    grey_alpha = codec.decode_image(data)
    assert grey_alpha.shape == (16, 16, 2) and (grey_alpha[:, :, 1] == 255).all()
    (tmp_path / "la.nmc").write_bytes(data)
    assert run(capsys, "decode", str(tmp_path / "la.nmc"), "-o", str(tmp_path / "la.png"))[0] == exitcodes.OK
    with Image.open(tmp_path / "la.png") as im:
        assert im.mode == "LA"
        assert np.array_equal(np.asarray(im), grey_alpha)


def test_forged_16_bit_file_is_refused_as_corrupt(tmp_path, capsys, coded):
    data = forged(coded, bit_depth=16)
    with pytest.raises(CorruptStreamError, match="16-bit"):
        codec.decode_image(data)
    (tmp_path / "deep.nmc").write_bytes(data)
    code, _, err = run(capsys, "decode", str(tmp_path / "deep.nmc"), "-o", str(tmp_path / "deep.png"))
    assert code == exitcodes.BAD_INPUT
    assert err.startswith(f"codec: error: {tmp_path / 'deep.nmc'}: ") and "16-bit" in err
    assert not (tmp_path / "deep.png").exists()


# -- 6. codec info says whether the file decodes here ------------------------------------------------------

def _info(capsys, path: Path, *flags: str) -> tuple[int, dict | str]:
    code, out, err = run(capsys, "info", "--json", *flags, str(path))
    return code, (json.loads(out) if out else err)


@pytest.mark.parametrize("packets", [0, 2])
def test_image_file_without_exactly_one_packet_is_corrupt(tmp_path, capsys, coded, packets):
    f = parse_container(coded)
    path = tmp_path / "n.nmc"
    path.write_bytes(build_container(f.header, [f.packets[0].segments] * packets))
    code, err = _info(capsys, path)
    assert code == exitcodes.BAD_INPUT and "one data packet" in err
    assert run(capsys, "decode", str(path), "-o", str(tmp_path / "n.png"))[0] == exitcodes.BAD_INPUT


@pytest.mark.parametrize("change, reason", [
    ({"model_id": "no-such-model@1"}, "which this installation does not have"),
    ({"model_digest": bytes(32)}, "with weights 0000000000000000"),
    ({"codec_params": b"\x02\x00\x01"}, "codec parameters"),
    ({"codec_params": b"\x01\xff\xff"}, "quality level"),
])
def test_info_check_names_why_a_file_does_not_decode_here(tmp_path, capsys, coded, change, reason):
    f = parse_container(coded)
    path = tmp_path / "f.nmc"
    path.write_bytes(build_container(replace(f.header, **change), [f.packets[0].segments]))
    code, info = _info(capsys, path)
    assert code == exitcodes.OK  # the container is intact
    assert info["decodable"]["ok"] is False and reason in info["decodable"]["reason"]
    assert _info(capsys, path, "--check")[0] == exitcodes.BAD_INPUT
    code, out, _ = run(capsys, "info", str(path))
    assert code == exitcodes.OK and "decode:   no: " in out
    assert run(capsys, "decode", str(path), "-o", str(tmp_path / "f.png"))[0] == exitcodes.BAD_INPUT


def test_info_check_passes_a_file_that_decodes(capsys, nmc):
    code, info = _info(capsys, nmc, "--check")
    assert code == exitcodes.OK and info["decodable"]["ok"] is True
    assert info["decodable"]["model"].startswith("hyperprior-vr-small@")


def test_info_check_refuses_a_bit_depth_the_family_does_not_decode(tmp_path, capsys, coded):
    path = tmp_path / "deep.nmc"
    path.write_bytes(forged(coded, bit_depth=16))
    code, info = _info(capsys, path, "--check")
    assert code == exitcodes.BAD_INPUT


# -- 7. messages and leftovers ------------------------------------------------------------------------------

def test_a_cut_header_says_truncated(tmp_path, capsys, coded):
    _, header_bytes = parse_header(io.BytesIO(coded).read)
    path = tmp_path / "cut.nmc"
    for n in range(14, header_bytes):
        path.write_bytes(coded[:n])
        code, _, err = run(capsys, "info", str(path))
        assert code == exitcodes.BAD_INPUT
        assert "truncated" in err and "header length" not in err, (n, err)
    for n in (header_bytes + 1, len(coded) // 2, len(coded) - 1):
        path.write_bytes(coded[:n])
        code, _, err = run(capsys, "info", str(path))
        assert code == exitcodes.BAD_INPUT and "truncated" in err, (n, err)


def test_a_cut_stream_says_truncated(coded):
    _, header_bytes = parse_header(io.BytesIO(coded).read)
    for n in (15, header_bytes - 1, header_bytes + 2, len(coded) - 20):
        with pytest.raises(CorruptStreamError, match="truncated"):
            codec.decode(io.BufferedReader(_Pipe(coded[:n])))


@pytest.mark.parametrize("where", [-1, -10, -20])  # the trailer's tag, its checksum, the end packet
def test_image_file_damaged_after_its_packet_leaves_no_output_and_runs_no_model(tmp_path, capsys, coded,
                                                                                  monkeypatch, where):
    from codec.models.image.hyperprior import session

    def refuse(*args, **kwargs):
        raise AssertionError("the model decoded a file whose end was damaged")

    monkeypatch.setattr(session.HyperpriorDecoder, "decode", refuse)
    data = bytearray(coded)
    data[where] ^= 0x10
    (tmp_path / "t.nmc").write_bytes(bytes(data))
    code, _, err = run(capsys, "decode", str(tmp_path / "t.nmc"), "-o", str(tmp_path / "t.png"))
    assert code == exitcodes.BAD_INPUT
    assert not (tmp_path / "t.png").exists()
    assert not list(tmp_path.glob(TEMP_PREFIX + "*"))


def test_killed_encode_leaves_a_partial_that_the_next_encode_removes(tmp_path, capsys, png):
    big = tmp_path / "big.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (1024, 1024, 3), dtype=np.uint8)).save(big)
    out = tmp_path / "out.nmc"
    child = subprocess.Popen([sys.executable, "-m", "codec.cli.main", "encode", str(big), "-o", str(out), "-q", "8"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 180
        while not list(tmp_path.glob(TEMP_PREFIX + "*")):
            assert child.poll() is None, f"the encoder ended before it was killed: {child.stderr.read()}"
            assert time.monotonic() < deadline, "no partial output appeared"
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    leftovers = list(tmp_path.glob(TEMP_PREFIX + "*"))
    assert len(leftovers) == 1 and not out.exists()
    assert stale_temporaries(out) == leftovers  # its lock died with it
    assert run(capsys, "encode", str(png), "-o", str(out))[0] == exitcodes.OK
    assert not list(tmp_path.glob(TEMP_PREFIX + "*"))
    assert parse_container(out.read_bytes()).header.source.width == 16


def test_a_live_writers_partial_is_kept(tmp_path, capsys, png):
    import fcntl

    out = tmp_path / "out.nmc"
    live = tmp_path / f"{TEMP_PREFIX}out.nmc.abcd1234"
    with open(live, "wb") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        assert run(capsys, "encode", str(png), "-o", str(out))[0] == exitcodes.OK
        assert live.exists()
    assert stale_temporaries(out) == [live]


# -- 8. Python API misuse is refused before any work -------------------------------------------------------

@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if a model is loaded or an image is read."""
    from codec import zoo
    from codec.media import image as image_medium

    def refuse(*args, **kwargs):
        raise AssertionError("work was done before the arguments were checked")

    monkeypatch.setattr(zoo, "load_model", refuse)
    monkeypatch.setattr(image_medium, "load_image", refuse)


@pytest.mark.parametrize("call", [
    lambda data: codec.decode_image(data, threads="2"),
    lambda data: codec.decode_image(data, threads=0),
    lambda data: codec.decode_image(None),
    lambda data: codec.decode_image(12),
    lambda data: codec.decode_image(data, output="bogus"),
    lambda data: codec.decode(None),
    lambda data: codec.encode_image(pattern(8, 8), quality="3"),
    lambda data: codec.encode_image(pattern(8, 8), quality=True),
    lambda data: codec.encode_image(pattern(8, 8), quality=float("nan")),
    lambda data: codec.encode_image(pattern(8, 8), bpp="1"),
    lambda data: codec.encode_image(pattern(8, 8), bpp=-1),
    lambda data: codec.encode_image(pattern(8, 8), quality=2, bpp=1.0),
    lambda data: codec.encode_image(pattern(8, 8), threads="2"),
    lambda data: codec.encode_image(pattern(8, 8), model=3),
    lambda data: codec.encode_image(pattern(8, 8), model="no-such-model"),
    lambda data: codec.encode(pattern(8, 8), quality="3"),
    lambda data: codec.encode(pattern(8, 8), bitrate="500k"),
], ids=["threads-str", "threads-0", "decode-none", "decode-int", "output-bogus", "stream-decode-none",
        "quality-str", "quality-bool", "quality-nan", "bpp-str", "bpp-negative", "quality-and-bpp", "enc-threads-str",
        "model-int", "model-unknown", "stream-quality-str", "image-bitrate"])
def test_api_misuse_is_a_usage_error_before_any_work(no_work, coded, call):
    with pytest.raises(UsageError):
        call(coded)


def test_decode_image_reads_a_path(nmc):
    assert codec.decode_image(str(nmc), output="pil").size == (16, 16)
    with pytest.raises(BadInputError, match="no such file"):
        codec.decode_image(str(nmc) + ".missing")


# -- 9. determinism -------------------------------------------------------------------------------------------

def test_decoded_latent_is_the_same_for_every_torch_and_entropy_thread_count(coded):
    import torch

    from codec.zoo import model_for_header

    f = parse_container(coded)
    model = model_for_header(f.header)
    src = f.header.source
    before = torch.get_num_threads()
    latents = []
    try:
        for torch_threads in (1, 2):
            torch.set_num_threads(torch_threads)
            for entropy_threads in (1, 2):
                latents.append(model.coder.decode_latent(f.packets[0].segments, src.height, src.width,
                                                         threads=entropy_threads))
            fingerprint = model.exact_fingerprint(f.header, f.packets)
    finally:
        torch.set_num_threads(before)
    assert all(torch.equal(latents[0], other) for other in latents[1:])
    import hashlib

    assert fingerprint == hashlib.sha256(latents[0].numpy().astype("<i8").tobytes()).hexdigest()


def test_models_json_declares_what_decodes_exactly(capsys):
    code, out, _ = run(capsys, "models", "--json", "--all")
    rows = json.loads(out)
    assert code == exitcodes.OK and rows
    assert {r["exact"] for r in rows} <= {"entropy", "samples"}
    assert {r["exact"] for r in rows if r["family"] == "hyperprior"} == {"entropy"}
    code, out, _ = run(capsys, "models")
    assert "exact" in out.splitlines()[0] and "entropy" in out


# -- damaged files, by family: every outcome is exit 0 or 3 ----------------------------------------------

@pytest.fixture(scope="module")
def damages():
    spec = importlib.util.spec_from_file_location("fuzz_container", FUZZ / "fuzz_container.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def test_two_hundred_damaged_files_end_in_exit_0_or_3(tmp_path, capsys, coded, damages):
    """Every family of damage (truncations, flips, rewrites behind recomputed checksums, entropy blocks)."""
    path, out = tmp_path / "d.nmc", tmp_path / "d.png"
    outcomes: dict[str, set[int]] = {name: set() for name in damages.FAMILIES}
    model_decodes = dict.fromkeys(damages.FAMILIES, 0)

    def command(name: str, *argv: str) -> int:
        code, _, err = run(capsys, *argv)
        assert code in (exitcodes.OK, exitcodes.BAD_INPUT), (name, argv[0], err)
        if code:
            assert err.count("\n") == 1 and err.count("(at ") <= 1, err  # one line, one location
        outcomes[name].add(code)
        return code

    for i in range(200):
        name = damages.FAMILIES[i % len(damages.FAMILIES)]
        path.write_bytes(damages.damage(coded, random.Random(i).randrange, i % len(damages.FAMILIES)))
        intact = command(name, "info", str(path)) == exitcodes.OK
        # A damaged container is refused before the model runs (cheap); an intact one is decoded by the
        # model, which is what takes the time: three of those per family.
        if intact and model_decodes[name] == 3:
            continue
        model_decodes[name] += intact
        command(name, "decode", str(path), "-o", str(out), "-y")
    for name in ("truncation", "byte flip", "header rewrite", "entropy block rewrite", "packet head rewrite"):
        assert exitcodes.BAD_INPUT in outcomes[name], name
    assert sum(model_decodes.values()) >= 10  # the model's own checks were reached too


def test_damaged_entropy_blocks_report_one_location(tmp_path, capsys, coded):
    f = parse_container(coded)
    rng = random.Random(7)
    refused = 0
    for _ in range(12):
        segments = [bytearray(s) for s in f.packets[0].segments]
        k = rng.randrange(len(segments))
        segments[k] = segments[k][: rng.randrange(len(segments[k]))]
        (tmp_path / "e.nmc").write_bytes(build_container(f.header, [tuple(bytes(s) for s in segments)]))
        code, _, err = run(capsys, "decode", str(tmp_path / "e.nmc"), "-o", str(tmp_path / "e.png"), "-y")
        if code:
            refused += 1
            assert code == exitcodes.BAD_INPUT and err.count("(at ") == 1 and "packet 0" in err, err
    assert refused >= 6


def test_another_familys_option_is_a_usage_error_not_ignored(tmp_path, capsys, png, nmc):
    """``--groups`` (hvae) on a hyperprior file and ``--intra-period`` (video) on a photo used to be dropped
    silently; now they are refused, and nothing is written."""
    for argv, flag in ((["decode", str(nmc), "-o", str(tmp_path / "out.png"), "--groups", "2"], "--groups"),
                       (["encode", str(png), "-o", str(tmp_path / "out.nmc"), "--intra-period", "5"],
                        "--intra-period")):
        assert main(argv) == exitcodes.USAGE_ERROR
        err = capsys.readouterr().err
        assert flag in err and "hyperprior" in err and "Traceback" not in err
    assert not list(tmp_path.glob("out*"))
