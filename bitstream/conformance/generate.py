"""Regenerate the conformance files and their manifest.

Run ``python bitstream/conformance/generate.py`` only when the format or a
shipped model changes on purpose: the files pin the bytes a version-1.0
writer produces, and ``tests/test_conformance.py`` checks that every reader
still accepts, decodes or refuses each of them exactly as ``manifest.json``
says. Media files carry the hash of their exact decoded latent (normative:
integer arithmetic) and of their decoded pixels on the platform that made
them, with the pixels as a PNG (synthesis is floating point, so another
platform may differ by one level at a few pixels).
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
from codec.container.summary import summarize
from codec.container.reader import parse_container
from codec.container.varint import encode_varint

HERE = Path(__file__).resolve().parent
DIGEST = hashlib.sha256(b"conformance model").digest()


def _file(header: FileHeader, packets: list[tuple[list[bytes], int, bool]]) -> bytes:
    buf = io.BytesIO()
    with ContainerWriter(buf, header) as writer:
        for segments, pts, ra in packets:
            writer.write_packet(segments, pts=pts, random_access=ra)
    return buf.getvalue()


def valid_files() -> dict[str, bytes]:
    image = FileHeader(MediaType.IMAGE, "conformance-image", DIGEST, SourceInfo.srgb_image(768, 512),
                       codec_params=b"\x03", quality=3, encoder="conformance")
    video = FileHeader(MediaType.VIDEO, "conformance-video", DIGEST,
                       SourceInfo(width=352, height=288, bit_depth=8, components=3,
                                  chroma_format=ChromaFormat.YUV420, colour_primaries=1, transfer=1, matrix=1,
                                  full_range=False, time_base=Fraction(1, 90000),
                                  frame_rate=Fraction(30000, 1001), frame_count=4, duration=12012))
    audio = FileHeader(MediaType.AUDIO, "conformance-audio", DIGEST,
                       SourceInfo(sample_rate=48000, channels=2, channel_layout=0x3, duration=96000))
    newer = FileHeader(MediaType.IMAGE, "conformance-image", DIGEST, SourceInfo.srgb_image(1, 1),
                       version=(1, 9), unknown_fields=((4000 << 1, b"added in 1.9"),))
    return {
        "container/image-one-packet.nmc": _file(image, [([b"\x01\x02\x03", b"segment two"], 0, True)]),
        "container/video-four-frames.nmc": _file(video, [([b"I"], 0, True), ([b"P1"], 3003, False),
                                                         ([b"P2"], 6006, False), ([b"I2"], 9009, True)]),
        "container/audio-two-packets.nmc": _file(audio, [([b"a" * 100], 0, True), ([b"b" * 50], 48000, True)]),
        "container/newer-minor-optional-field.nmc": _file(newer, [([b""], 0, True)]),
    }


def _with_header_fields(data: bytes, fields: bytes, version: tuple[int, int] = (1, 0)) -> bytes:
    (old_len,) = struct.unpack_from("<I", data, 10)
    head = data[:8] + bytes(version) + struct.pack("<I", len(fields)) + fields
    return head + struct.pack("<I", crc32c(head)) + data[14 + old_len + 4:]


def invalid_files(valid: dict[str, bytes]) -> dict[str, tuple[bytes, str]]:
    base = valid["container/image-one-packet.nmc"]
    (flen,) = struct.unpack_from("<I", base, 10)
    fields = base[14:14 + flen]
    flipped = bytearray(base)
    flipped[len(base) - 20] ^= 0x10
    return {
        "invalid/major-version-2.nmc": (_with_header_fields(base, fields, (2, 0)), "UnsupportedVersionError"),
        "invalid/unknown-critical-field.nmc": (
            _with_header_fields(base, fields + encode_varint((4001 << 1) | 1) + b"\x01\x00"),
            "UnsupportedVersionError"),
        "invalid/truncated.nmc": (base[:-7], "CorruptStreamError"),
        "invalid/packet-bit-flip.nmc": (bytes(flipped), "CorruptStreamError"),
        "invalid/header-bit-flip.nmc": (base[:20] + bytes([base[20] ^ 1]) + base[21:], "CorruptStreamError"),
        "invalid/not-nmc.nmc": (b"\x89PNG\r\n\x1a\n" + bytes(32), "CorruptStreamError"),
    }


def image_files() -> dict[str, bytes]:
    """One file per quality level of each shipped image model, from a scikit-image photo crop."""
    import codec
    from codec.zoo import IMAGE_MODELS
    from skimage import data as skdata

    photo = skdata.astronaut()[40:104, 180:252]  # 64 x 72
    return {f"image/{model}-q{q}.nmc": codec.encode_image(photo, quality=q, model=model)
            for model in IMAGE_MODELS for q in range(1, 9)}


def image_expectations(name: str, data: bytes) -> dict:
    """The exact decoded latent (normative) and the decoded pixels of this platform, as hashes and a PNG."""
    from PIL import Image

    import codec
    from codec.zoo import coder_for

    f = parse_container(data)
    coder = coder_for(f.header.model_id, f.header.model_digest)
    latent = coder.decode_latent(f.packets[0].segments, f.header.source.height, f.header.source.width)
    pixels = codec.decode_image(data)
    png = name.replace(".nmc", ".expected.png")
    Image.fromarray(pixels).save(HERE / png)
    return {"latent_sha256": hashlib.sha256(latent.numpy().astype("<i8").tobytes()).hexdigest(),
            "decode_sha256": hashlib.sha256(pixels.tobytes()).hexdigest(), "expected_decode": png}


def main() -> None:
    manifest = []
    for name, data in image_files().items():
        (HERE / name).parent.mkdir(parents=True, exist_ok=True)
        (HERE / name).write_bytes(data)
        manifest.append({"file": name, "expect": "decode", "sha256": hashlib.sha256(data).hexdigest(),
                         "info": summarize(parse_container(data)), **image_expectations(name, data)})
    valid = valid_files()
    for name, data in valid.items():
        manifest.append({"file": name, "expect": "valid", "sha256": hashlib.sha256(data).hexdigest(),
                         "info": summarize(parse_container(data))})
    for name, (data, error) in invalid_files(valid).items():
        manifest.append({"file": name, "expect": "error", "error": error,
                         "sha256": hashlib.sha256(data).hexdigest()})
        valid[name] = data
    for name, data in valid.items():
        path = HERE / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (HERE / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")



if __name__ == "__main__":
    main()
