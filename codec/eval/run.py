"""One evaluation from start to finish: dataset -> measurements -> curves -> deltas -> files."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from codec.errors import BadInputError
from codec.eval.bdtable import bd_against
from codec.eval.cache import Cache
from codec.eval.codecs.base import Codec
from codec.eval.conditions import software_and_machine
from codec.eval.curves import average, per_item
from codec.eval.dataset import open_dataset
from codec.eval.engine import Outcome, evaluate
from codec.eval.media import MEDIA
from codec.eval.published import load_published
from codec.eval.report import write_report

log = logging.getLogger("codec")

DEFAULT_ANCHOR = "x265-444"


@dataclass(frozen=True)
class Request:
    """What to evaluate; ``command`` is the command line to record (without local paths)."""

    medium: str
    dataset: Path
    codecs: list[Codec]
    out: Path
    jobs: int = 1
    published: tuple[Path, ...] = ()
    anchors: tuple[str, ...] = ()
    use_cache: bool = True
    progress: bool = True
    command: str = ""
    options: dict = field(default_factory=dict)  # the medium's options (e.g. frames)
    reuse_partial: bool = False  # reuse cached measurements that lack metrics added since


def run_evaluation(request: Request) -> tuple[dict, list[Path]]:
    """Run ``request`` and write its result files; return the results and the files written."""
    medium = MEDIA[request.medium]
    dataset = open_dataset(request.dataset, medium.suffixes)
    published = [load_published(p) for p in request.published]
    cache = Cache(request.out / ".cache" if request.use_cache else None)
    outcome = evaluate(request.medium, dataset, request.codecs, cache, jobs=request.jobs,
                       progress=request.progress, options=request.options, reuse_partial=request.reuse_partial)
    if not outcome.records:
        raise BadInputError("nothing could be measured: " + _why_nothing(outcome))
    items = per_item(outcome.records, medium)
    measured = [c for c in request.codecs if c.name in items]
    curves = [curve for c in measured
              if (curve := average(c.name, c.label, items[c.name], c.rate_points, medium)) is not None]
    curves += [curve for curve, _ in published]
    anchors = list(request.anchors) or default_anchors(curves)
    results = {
        "conditions": {
            "dataset": dataset.describe(),
            "medium": {"name": medium.name, **medium.conditions, "quality_labels": medium.quality_labels,
                       "options": request.options},
            "software": software_and_machine(),
            "command": request.command,
            "jobs": request.jobs,
        },
        "codecs": {c.name: c.describe() for c in measured},
        "skipped_codecs": outcome.skipped_codecs,
        "broken_items": outcome.broken_items,
        "failures": outcome.failures,
        "published": {curve.name: {**source, "label": curve.label, "points": list(curve.points)}
                      for curve, source in published},
        "average": {c.name: list(c.points) for c in curves if not c.published},
        "bd": {a: medium.report.bd(a, curves) if medium.report else
               bd_against(a, curves, medium.quality_keys[0],
                          next((k for k in medium.quality_keys if k.startswith("ms_ssim")), None),
                          medium.bd_keys, medium.lower_is_better)
               for a in anchors},
        "per_item": items,
    }
    request.out.mkdir(parents=True, exist_ok=True)
    files = (medium.report.write if medium.report else write_report)(request.out, results, curves, anchors)
    log.info(f"{len(outcome.records)} measurements ({outcome.cached} cached), "
             f"{len(outcome.broken_items)} unreadable items, {len(outcome.failures)} failed tasks, "
             f"{len(outcome.skipped_codecs)} codecs skipped; results in {request.out}")
    return results, files


def default_anchors(curves) -> list[str]:
    """x265 intra when it ran, else the first measured baseline (not one of ours), else the first curve."""
    measured = [c.name for c in curves if not c.published]
    if DEFAULT_ANCHOR in measured:
        return [DEFAULT_ANCHOR]
    baselines = [n for n in measured if not n.startswith("nmc-")]
    return (baselines or measured)[:1]


def _why_nothing(outcome: Outcome) -> str:
    reasons = [f"{name} skipped ({why})" for name, why in outcome.skipped_codecs.items()]
    reasons += [f"{name} unreadable" for name in outcome.broken_items]
    reasons += [f"{f['codec']} failed on {f['item']}" for f in outcome.failures[:3]]
    return "; ".join(reasons) or "no codec selected"
