"""What the engine needs to know about a kind of media."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from codec.models.base import Option


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
    #: read one item (``load(path, **options)``); raises codec.errors.BadInputError when it cannot
    load: Callable[..., Any]
    #: distortion metrics of a decoded item against its reference
    measure: Callable[[Any, Any], dict[str, float]]
    #: rate figures from a file size in bytes and the reference item
    rate: Callable[[int, Any], dict[str, float]]
    rate_key: str
    rate_label: str
    quality_keys: tuple[str, ...]
    quality_labels: dict[str, str]
    conditions: dict
    #: facts about a reference item recorded with each measurement (e.g. width and height)
    item_facts: Callable[[Any], dict] = field(default=lambda reference: {})
    #: ``codec eval <medium>`` options of this medium (e.g. ``--frames``); their values reach ``load``,
    #: the codecs (as keyword arguments of each codec module's ``codecs()``) and the recorded conditions
    options: tuple[Option, ...] = ()
    #: quality keys besides the first PSNR and MS-SSIM whose BD deltas are reported too
    bd_keys: tuple[str, ...] = ()
    #: quality keys where a lower value is better (an error, not a fidelity): BD tables handle the sign
    lower_is_better: frozenset[str] = frozenset()
    #: a medium whose rate is not bpp or whose metrics are not PSNR-like brings its own BD tables and files:
    #: an object with ``bd(anchor, curves) -> dict`` and ``write(out, results, curves, anchors) -> [Path]``
    report: Any = None
