"""What the engine needs to know about a kind of media."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Medium:
    """The medium-specific half of an evaluation.

    ``rate_key`` and ``quality_keys`` name fields of what ``rate`` and
    ``measure`` return: curves are drawn and Bjøntegaard deltas taken over
    them. ``conditions`` is written into every result file.
    """

    name: str
    #: files of a dataset folder that are items of this medium
    suffixes: frozenset[str]
    #: read one item; raises codec.errors.BadInputError when it cannot
    load: Callable[[Path], np.ndarray]
    #: distortion metrics of a decoded item against its reference
    measure: Callable[[np.ndarray, np.ndarray], dict[str, float]]
    #: rate figures from a file size in bytes and the reference item
    rate: Callable[[int, np.ndarray], dict[str, float]]
    rate_key: str
    rate_label: str
    quality_keys: tuple[str, ...]
    quality_labels: dict[str, str]
    conditions: dict
