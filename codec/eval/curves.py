"""RD curves: points of (rate, qualities), per item and averaged over a dataset."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from codec.eval.media.base import Medium


@dataclass(frozen=True)
class Curve:
    """One codec's (or one published) curve; ``points`` are dicts sorted by rate."""

    name: str
    label: str
    points: tuple[dict, ...]
    published: bool = False

    def series(self, key: str) -> list[float]:
        return [p[key] for p in self.points]


def per_item(records: list[dict], medium: Medium) -> dict[str, dict[str, list[dict]]]:
    """codec -> item -> that item's measurements sorted by rate."""
    table: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        table[r["codec"]][r["item"]].append(r)
    return {codec: {item: sorted(points, key=lambda p: p[medium.rate_key])
                    for item, points in sorted(items.items())}
            for codec, items in table.items()}


def average(name: str, label: str, items: dict[str, list[dict]], rate_points: tuple[int, ...],
            medium: Medium) -> Curve | None:
    """Mean over the items measured at every rate point (others would bias the mean), or None."""
    complete = {item: {p["rate_point"]: p for p in points} for item, points in items.items()}
    complete = {item: by_rate for item, by_rate in complete.items() if set(rate_points) <= set(by_rate)}
    if not complete:
        return None
    keys = (medium.rate_key, *medium.quality_keys)
    points = []
    for rate_point in rate_points:
        measured = [by_rate[rate_point] for by_rate in complete.values()]
        point = {"rate_point": rate_point, "items": len(measured)}
        # a metric missing from any item (cached before it existed) is left out of the mean
        point.update({k: sum(m[k] for m in measured) / len(measured) for k in keys
                      if all(k in m for m in measured)})
        points.append(point)
    return Curve(name, label, tuple(sorted(points, key=lambda p: p[medium.rate_key])))
