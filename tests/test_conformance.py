"""Every conformance file decodes (or is refused) exactly as the manifest says.

This is what keeps old files readable: a change to the reader, the entropy
coder or a model that alters any outcome fails here.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import pytest

from codec import errors
from codec.container import parse_container
from codec.container.summary import summarize

ROOT = Path(__file__).resolve().parents[1] / "bitstream" / "conformance"
MANIFEST = json.loads((ROOT / "manifest.json").read_text())


@pytest.mark.parametrize("entry", MANIFEST, ids=[e["file"] for e in MANIFEST])
def test_conformance_file(entry):
    data = (ROOT / entry["file"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == entry["sha256"], "conformance file was modified"
    if entry["expect"] in ("valid", "decode"):
        assert summarize(parse_container(data)) == entry["info"]
    if entry["expect"] == "decode":
        _check_decode(data, entry)
    elif entry["expect"] == "error":
        with pytest.raises(getattr(errors, entry["error"])):
            parse_container(data)


def _check_decode(data: bytes, entry: dict) -> None:
    import numpy as np
    from PIL import Image

    import codec
    from codec.zoo import coder_for

    f = parse_container(data)
    coder = coder_for(f.header.model_id, f.header.model_digest)
    latent = coder.decode_latent(f.packets[0].segments, f.header.source.height, f.header.source.width)
    assert hashlib.sha256(latent.numpy().astype("<i8").tobytes()).hexdigest() == entry["latent_sha256"]
    pixels = codec.decode_image(data)
    if hashlib.sha256(pixels.tobytes()).hexdigest() != entry["decode_sha256"]:
        expected = np.asarray(Image.open(ROOT / entry["expected_decode"]))
        assert np.abs(pixels.astype(int) - expected.astype(int)).max() <= 1


def test_writer_still_produces_the_conformance_bytes():
    spec = importlib.util.spec_from_file_location("conformance_generate", ROOT / "generate.py")
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    for name, data in generate.valid_files().items():
        assert (ROOT / name).read_bytes() == data, f"writer output changed for {name}"
