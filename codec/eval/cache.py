"""Measurements kept on disk, one small JSON file each, so an interrupted run resumes.

A measurement is keyed by everything that determines it: the codec's name,
version, settings and colour conversion, the rate point, the content hash of
the item and the version of the metrics. Change any of them and the key
changes, so stale measurements are never reused; they are simply not found.
A measurement that lacks one of the medium's metrics (cached before that
metric was added) is measured again by the engine rather than reused.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from codec.eval.codecs.base import Codec
from codec.io.atomic import write_bytes_atomic

#: bump when a metric's definition changes, to re-measure everything
METRICS_VERSION = 1


def task_key(codec: Codec, rate_point: int, item_sha256: str, options: dict | None = None) -> str:
    ident = {"codec": codec.name, "describe": codec.describe(), "rate_point": rate_point,
             "item": item_sha256, "metrics_version": METRICS_VERSION}
    if options:
        ident["options"] = options
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()


class Cache:
    """A folder of measurements; ``None`` as folder keeps nothing."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder

    def _path(self, codec_name: str, key: str) -> Path:
        assert self.folder is not None
        return self.folder / codec_name / f"{key[:32]}.json"

    def get(self, codec_name: str, key: str) -> dict | None:
        if self.folder is None:
            return None
        try:
            return json.loads(self._path(codec_name, key).read_text())
        except (OSError, ValueError):
            return None

    def put(self, codec_name: str, key: str, record: dict) -> None:
        if self.folder is not None:
            write_bytes_atomic(self._path(codec_name, key), json.dumps(record, sort_keys=True).encode(),
                               overwrite=True)
