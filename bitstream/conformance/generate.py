"""Add conformance files for what is new, and refresh the manifest's descriptions.

Run ``python bitstream/conformance/generate.py`` after adding a model revision
or a format case. It never rewrites a conformance file that exists: files
pin the bytes that some release wrote, and ``tests/test_conformance.py``
checks that every reader still accepts, decodes or refuses each of them
exactly as ``manifest.json`` says. For a new media file it records the hash
of the family's exact output (normative: the decoded latent, or the decoded
samples for families whose samples are exact), and of the decoded samples on
the platform that made it, with them as a file when they are an image
(floating-point synthesis may differ by one level at a few pixels on
another platform).

The container cases come in two sets: format 1.0 (the packet layout before
1.1, ``container/`` and ``invalid/``), whose bytes the current writer must
still produce when asked for 1.0, and format 1.1 (``container-1.1/``,
``invalid-1.1/``).
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
from fractions import Fraction
from pathlib import Path

from codec.container import ChromaFormat, ContainerWriter, FileHeader, MediaType, SourceInfo
from codec.container.checksum import crc32c
from codec.container.reader import parse_container
from codec.container.summary import summarize
from codec.container.varint import encode_varint

HERE = Path(__file__).resolve().parent
DIGEST = hashlib.sha256(b"conformance model").digest()
V1_0 = {"version": (1, 0), "packet_layout": 0}


def _file(header: FileHeader, packets: list[tuple], ancillary: dict[int, bytes] | None = None) -> bytes:
    """packets: (segments, pts, random_access) or (segments, pts, random_access, duration)."""
    buf = io.BytesIO()
    with ContainerWriter(buf, header) as writer:
        for i, (segments, pts, ra, *rest) in enumerate(packets):
            writer.write_packet(segments, pts=pts, random_access=ra, duration=rest[0] if rest else 0)
            if ancillary and i in ancillary:
                writer.write_ancillary(200, ancillary[i])
    return buf.getvalue()


def _headers(**version) -> dict[str, FileHeader]:
    image = FileHeader(MediaType.IMAGE, "conformance-image", DIGEST, SourceInfo.srgb_image(768, 512),
                       codec_params=b"\x03", quality=3, encoder="conformance", **version)
    video = FileHeader(MediaType.VIDEO, "conformance-video", DIGEST,
                       SourceInfo(width=352, height=288, bit_depth=8, components=3,
                                  chroma_format=ChromaFormat.YUV420, colour_primaries=1, transfer=1, matrix=1,
                                  full_range=False, time_base=Fraction(1, 90000),
                                  frame_rate=Fraction(30000, 1001), frame_count=4, duration=12012), **version)
    audio = FileHeader(MediaType.AUDIO, "conformance-audio", DIGEST,
                       SourceInfo(sample_rate=48000, channels=2, channel_layout=0x3, duration=96000), **version)
    return {"image": image, "video": video, "audio": audio}


def valid_files() -> dict[str, bytes]:
    """Format 1.0 container cases: the current writer must still produce exactly these bytes."""
    h = _headers(**V1_0)
    newer = FileHeader(MediaType.IMAGE, "conformance-image", DIGEST, SourceInfo.srgb_image(1, 1),
                       version=(1, 9), packet_layout=0, unknown_fields=((4000 << 1, b"added in 1.9"),))
    return {
        "container/image-one-packet.nmc": _file(h["image"], [([b"\x01\x02\x03", b"segment two"], 0, True)]),
        "container/video-four-frames.nmc": _file(h["video"], [([b"I"], 0, True), ([b"P1"], 3003, False),
                                                              ([b"P2"], 6006, False), ([b"I2"], 9009, True)]),
        "container/audio-two-packets.nmc": _file(h["audio"], [([b"a" * 100], 0, True), ([b"b" * 50], 48000, True)]),
        "container/newer-minor-optional-field.nmc": _file(newer, [([b""], 0, True)]),
    }


def valid_files_1_1() -> dict[str, bytes]:
    """Format 1.1 cases: signed pts and durations, ancillary packets, totals, partial index, the trailer."""
    h = _headers()
    newer = FileHeader(MediaType.AUDIO, "conformance-audio", DIGEST, h["audio"].source, version=(1, 9),
                       unknown_fields=((4000 << 1, b"added in 1.9"),))
    return {
        "container-1.1/image-one-packet.nmc": _file(h["image"], [([b"\x01\x02\x03", b"segment two"], 0, True)]),
        "container-1.1/video-negative-pts-durations.nmc": _file(
            h["video"], [([b"I"], -3003, True, 3003), ([b"P1"], 0, False, 3003), ([b"P2"], 3003, False, 3003),
                         ([b"I2"], 6006, True, 3003)]),
        "container-1.1/audio-ancillary-packets.nmc": _file(
            h["audio"], [([b"a" * 100], 0, True, 48000), ([b"b" * 50], 48000, True, 48000)],
            ancillary={0: b"a packet type from a later minor version"}),
        "container-1.1/audio-newer-minor.nmc": _file(newer, [([b"c"], 0, True, 96000)]),
    }


def _with_header_fields(data: bytes, fields: bytes, version: tuple[int, int] = (1, 0)) -> bytes:
    (old_len,) = struct.unpack_from("<I", data, 10)
    head = data[:8] + bytes(version) + struct.pack("<I", len(fields)) + fields
    return head + struct.pack("<I", crc32c(head)) + data[14 + old_len + 4:]


def invalid_files(valid: dict[str, bytes]) -> dict[str, tuple[bytes, str, str]]:
    """Format 1.0 invalid cases: (bytes, error class, where the error is detected)."""
    base = valid["container/image-one-packet.nmc"]
    (flen,) = struct.unpack_from("<I", base, 10)
    fields = base[14:14 + flen]
    flipped = bytearray(base)
    flipped[len(base) - 20] ^= 0x10
    return {
        "invalid/major-version-2.nmc": (_with_header_fields(base, fields, (2, 0)), "UnsupportedVersionError",
                                        "header: version"),
        "invalid/unknown-critical-field.nmc": (
            _with_header_fields(base, fields + encode_varint((4001 << 1) | 1) + b"\x01\x00"),
            "UnsupportedVersionError", "header: fields"),
        "invalid/truncated.nmc": (base[:-7], "CorruptStreamError", "end packet"),
        "invalid/packet-bit-flip.nmc": (bytes(flipped), "CorruptStreamError", "packet 0: checksum"),
        "invalid/header-bit-flip.nmc": (base[:20] + bytes([base[20] ^ 1]) + base[21:], "CorruptStreamError",
                                        "header: checksum"),
        "invalid/not-nmc.nmc": (b"\x89PNG\r\n\x1a\n" + bytes(32), "CorruptStreamError", "header: magic"),
    }


def invalid_files_1_1(valid: dict[str, bytes]) -> dict[str, tuple[bytes, str, str]]:
    video = valid["container-1.1/video-negative-pts-durations.nmc"]
    image = valid["container-1.1/image-one-packet.nmc"]
    bad_trailer = bytearray(video)
    bad_trailer[-1] ^= 0x01
    two_images = _file(_headers()["image"], [([b"a"], 0, True), ([b"b"], 0, True)])
    (flen,) = struct.unpack_from("<I", image, 10)
    audio_field = encode_varint((30 << 1) | 1) + encode_varint(3) + encode_varint(48000)
    image_with_audio_field = _with_header_fields(image, image[14:14 + flen] + audio_field, (1, 1))
    return {
        "invalid-1.1/trailer-tag.nmc": (bytes(bad_trailer), "CorruptStreamError", "trailer"),
        "invalid-1.1/no-trailer.nmc": (video[:-16], "CorruptStreamError", "trailer"),
        "invalid-1.1/image-two-packets.nmc": (two_images, "CorruptStreamError", "packet 1"),
        "invalid-1.1/truncated.nmc": (image[:-30], "CorruptStreamError", "end packet"),
        "invalid-1.1/field-of-another-medium.nmc": (image_with_audio_field, "CorruptStreamError", "header: fields"),
    }


def model_files() -> dict[str, tuple[str, bytes]]:
    """One format 1.1 file per quality level of each model revision that lacks them: name -> (model, bytes)."""
    import codec
    from codec.media import medium_for_type
    from codec.zoo import installed_models

    files = {}
    for info in installed_models():
        family, entry = info.family, info.entry
        medium = medium_for_type(family.media)
        sample = conformance_sample(medium.name)
        rc = family.rate_control(entry)
        qualities = range(1, rc.qualities + 1) if rc.qualities <= 8 else \
            sorted({1, rc.qualities // 3, 2 * rc.qualities // 3, rc.qualities})
        for q in qualities:
            name = f"{medium.name}-1.1/{entry.id}-r{entry.revision}-q{q}.nmc"
            if not (HERE / name).exists():
                files[name] = (entry.full_id, codec.encode(sample, media=medium.name, model=entry.full_id,
                                                           quality=q))
    return files


def conformance_sample(medium: str):
    """The media every model of a medium codes for its conformance files (small, so tests stay fast)."""
    if medium == "image":
        from skimage import data as skdata

        return skdata.astronaut()[40:104, 180:252]  # 64 x 72
    from codec.media import medium_named

    return medium_named(medium).conformance_sample()


def expectations(name: str, data: bytes) -> dict:
    """The family's exact output (normative) and the decoded samples of this platform, as hashes."""
    import codec
    from codec.zoo import model_for_header

    f = parse_container(data)
    model = model_for_header(f.header)
    out = {"model": model.entry.full_id, "exact": model.family.exactness.value,
           "exact_sha256": model.exact_fingerprint(f.header, f.packets)}
    decoded = codec.decode(data)
    if f.header.media_type is MediaType.IMAGE:
        from PIL import Image

        png = name.replace(".nmc", ".expected.png")
        Image.fromarray(decoded).save(HERE / png)
        out.update(decode_sha256=hashlib.sha256(decoded.tobytes()).hexdigest(), expected_decode=png)
    else:
        out["decode_sha256"] = hashlib.sha256(b"".join(_item_bytes(i) for i in decoded)).hexdigest()
    return out


def _item_bytes(item) -> bytes:
    import numpy as np

    if hasattr(item, "planes"):
        return b"".join(np.ascontiguousarray(p).tobytes() for p in item.planes)
    return np.ascontiguousarray(item).tobytes()


def main() -> None:
    path = HERE / "manifest.json"
    old = {e["file"]: e for e in json.loads(path.read_text())} if path.exists() else {}
    entries: dict[str, dict] = {}

    def keep(name: str, data: bytes, entry: dict) -> None:
        target = HERE / name
        if target.exists():
            if target.read_bytes() != data:
                raise SystemExit(f"{name}: the writer no longer produces these bytes; conformance files are "
                                 f"never rewritten (fix the writer, or add a new case)")
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        entries[name] = {"file": name, "sha256": hashlib.sha256(data).hexdigest(), **entry}

    for group, valid, invalid in (("1.0", valid_files(), invalid_files), ("1.1", valid_files_1_1(), invalid_files_1_1)):
        for name, data in valid.items():
            keep(name, data, {"expect": "valid", "format": group, "info": summarize(parse_container(data))})
        for name, (data, error, where) in invalid(valid).items():
            keep(name, data, {"expect": "error", "format": group, "error": error, "detected_at": where})
    # Media files: existing ones keep their recorded expectations; only their description is refreshed.
    for name, entry in old.items():
        if entry["expect"] == "decode":
            data = (HERE / name).read_bytes()
            entries[name] = {**entry, "info": summarize(parse_container(data))}
    for name, (model, data) in model_files().items():
        keep(name, data, {"expect": "decode", "format": "1.1", "info": summarize(parse_container(data))})
        entries[name].update(expectations(name, data))
    ordered = sorted(entries.values(), key=lambda e: (e["expect"] != "decode", e["file"]))
    path.write_text(json.dumps(ordered, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
