"""The interface every evaluated codec implements, whatever the medium.

A codec turns one item (for images: an HxWx3 uint8 RGB array) into a file on
disk at one of its rate points, and that file back into an item. The engine
counts the file's size, so whatever the codec writes (headers, container) is
paid for. Everything that identifies how the codec was run goes into
``settings``/``version``/``colour``: those are written into the results and
are part of the cache key, so changing one re-measures.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np


class Codec(ABC):
    """One codec configuration (e.g. "JPEG with 4:2:0 chroma") over its rate points."""

    #: unique short name used on the command line and in results
    name: str
    #: human-readable name for tables and plots
    label: str
    #: the medium it codes ("image"; later "video", "audio")
    medium: str = "image"
    #: file name extension of what it writes
    extension: str
    #: what a rate point is (e.g. "quality", "qp", "crf")
    rate_parameter: str
    #: the rate points, from low to high rate
    rate_points: tuple[int, ...]
    #: whether ``codec eval`` runs it when no ``--codecs`` are named
    default: bool = True

    def unavailable(self) -> str | None:
        """Why this codec cannot run here (a missing encoder), or None when it can."""
        return None

    @abstractmethod
    def version(self) -> str:
        """Version of the library or tool that encodes (and decodes)."""

    @abstractmethod
    def settings(self) -> dict:
        """Every encoder setting besides the rate point."""

    def colour(self) -> dict | None:
        """The colour conversion applied before encoding, or None when the codec takes RGB itself."""
        return None

    @abstractmethod
    def encode(self, item: np.ndarray, rate_point: int, path: Path) -> None:
        """Write ``item`` coded at ``rate_point`` as a complete file at ``path``."""

    @abstractmethod
    def decode(self, path: Path) -> np.ndarray:
        """Read the file at ``path`` back into an item (for images: HxWx3 uint8 RGB)."""

    def describe(self) -> dict:
        """The codec's entry in the results' conditions."""
        return {
            "label": self.label,
            "medium": self.medium,
            "version": self.version(),
            "settings": self.settings(),
            "colour_conversion": self.colour(),
            "rate_parameter": self.rate_parameter,
            "rate_points": list(self.rate_points),
        }
