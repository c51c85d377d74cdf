"""Every conformance file decodes (or is refused) exactly as the manifest says.

This is what keeps old files readable: a change to the reader, the entropy
coder or a model that alters any outcome fails here. It also enforces that
model ids are immutable: every revision ever released stays installed, with
the digest it was released under, and has conformance files.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import pytest

from codec import errors
from codec.container import MediaType, parse_container
from codec.container.summary import summarize

ROOT = Path(__file__).resolve().parents[1] / "bitstream" / "conformance"
MANIFEST = json.loads((ROOT / "manifest.json").read_text())
RELEASED = json.loads((ROOT.parent / "models.json").read_text())


def _generator():
    spec = importlib.util.spec_from_file_location("conformance_generate", ROOT / "generate.py")
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    return generate


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
    from codec.zoo import model_for_header

    f = parse_container(data)
    model = model_for_header(f.header)
    assert model.entry.full_id == entry["model"]
    assert model.exact_fingerprint(f.header, f.packets) == entry["exact_sha256"]
    if f.header.media_type is MediaType.VIDEO:
        # the exact fingerprint (every frame's propagated feature) is normative; pixels are floating point
        assert len(codec.decode(data)) == entry["info"]["frames"]
        return
    if f.header.media_type is MediaType.AUDIO:
        # the exact fingerprint (every packet's RVQ indices) is normative; samples are floating point
        samples = np.concatenate(codec.decode(data))
        source = entry["info"]["source"]
        assert samples.shape == (source["duration"], source["channels"]) and np.isfinite(samples).all()
        return
    pixels = codec.decode_image(data)
    if hashlib.sha256(pixels.tobytes()).hexdigest() != entry["decode_sha256"]:
        # synthesis is floating point: another platform may differ by one level at a few pixels
        expected = np.asarray(Image.open(ROOT / entry["expected_decode"]))
        assert np.abs(pixels.astype(int) - expected.astype(int)).max() <= 1


def test_writer_still_produces_the_conformance_bytes():
    generate = _generator()
    for name, data in {**generate.valid_files(), **generate.valid_files_1_1()}.items():
        assert (ROOT / name).read_bytes() == data, f"writer output changed for {name}"


@pytest.mark.parametrize("release", RELEASED, ids=[f"{r['id']}@{r['revision']}" for r in RELEASED])
def test_every_released_model_is_installed_with_its_digest_and_has_conformance_files(release):
    from codec.zoo import installed_models

    installed = {m.entry.full_id: m for m in installed_models()}
    full_id = f"{release['id']}@{release['revision']}"
    assert full_id in installed, f"{full_id} was released: it must stay installed so its files decode"
    assert installed[full_id].entry.digest == release["digest"], f"{full_id} must keep its released weights"
    files = [e for e in MANIFEST if e.get("model") == full_id and e["expect"] == "decode"]
    assert files, f"{full_id} has no conformance files: run bitstream/conformance/generate.py"


def test_every_installed_model_was_released():
    from codec.zoo import installed_models

    released = {(r["id"], r["revision"], r["digest"]) for r in RELEASED}
    for m in installed_models():
        e = m.entry
        assert (e.id, e.revision, e.digest) in released, f"add {e.full_id} to bitstream/models.json"
