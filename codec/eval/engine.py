"""The evaluation engine: every (item, codec, rate point) measured once, in parallel, resumable.

The engine knows nothing of images: the medium loads, measures and rates,
the codec encodes and decodes. A task runs in a worker process when ``jobs``
is above one; its outcome is a plain dict, so that no exception or codec
state has to cross the process boundary. An item that cannot be loaded is
reported once and left out; a codec failing on one task is reported and the
run goes on.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import as_completed
from dataclasses import dataclass, field
from pathlib import Path

from codec.errors import BadInputError
from codec.parallel import share_cores, spawn_pool, usable_cpus
from codec.eval.cache import Cache, task_key
from codec.eval.codecs.base import Codec
from codec.eval.dataset import Dataset, Item
from codec.eval.media import MEDIA

log = logging.getLogger("codec")


@dataclass(frozen=True)
class Task:
    medium: str
    codec: Codec
    rate_point: int
    item: Item
    key: str
    options: tuple = ()  # the medium's options as (name, value) pairs (picklable, hashable)


@dataclass
class Outcome:
    """Everything measured, and everything that could not be."""

    records: list[dict] = field(default_factory=list)
    broken_items: dict[str, str] = field(default_factory=dict)
    failures: list[dict] = field(default_factory=list)
    skipped_codecs: dict[str, str] = field(default_factory=dict)
    cached: int = 0


def measure_task(task: Task) -> dict:
    """Encode, count, decode and measure one task; errors come back as ``{"error": ...}``."""
    medium = MEDIA[task.medium]
    try:
        reference = medium.load(task.item.path, **dict(task.options))
    except BadInputError as exc:
        return {"error": str(exc), "input_error": True}
    try:
        with tempfile.TemporaryDirectory(prefix="codec-eval-") as tmp:
            coded = Path(tmp) / f"{Path(task.item.name).stem}.{task.codec.extension}"
            start = time.perf_counter()
            task.codec.encode(reference, task.rate_point, coded)
            encoded = time.perf_counter()
            size = coded.stat().st_size
            decoded = task.codec.decode(coded)
            finished = time.perf_counter()
        metrics = medium.measure(reference, decoded)
    except Exception as exc:  # any codec failure is reported for this task, and the run goes on
        return {"error": f"{type(exc).__name__}: {exc}", "input_error": False}
    return {"codec": task.codec.name, "item": task.item.name, "rate_point": task.rate_point,
            "bytes": size, **medium.rate(size, reference), **metrics, **medium.item_facts(reference),
            "encode_seconds": round(encoded - start, 4), "decode_seconds": round(finished - encoded, 4)}


def _run(tasks: list[Task], jobs: int) -> Iterator[tuple[Task, dict]]:
    if jobs <= 1:
        for task in tasks:
            yield task, measure_task(task)
        return
    with spawn_pool(jobs, share_cores, (max(1, usable_cpus() // jobs),)) as pool:
        futures = {pool.submit(measure_task, t): t for t in tasks}
        try:
            for future in as_completed(futures):
                yield futures[future], future.result()
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def evaluate(medium: str, dataset: Dataset, codecs: list[Codec], cache: Cache, *,
             jobs: int = 1, progress: bool = True, options: dict | None = None,
             reuse_partial: bool = False) -> Outcome:
    """Measure every codec at every rate point on every item of ``dataset``.

    A measurement cached before a metric was added lacks it and is measured
    again, unless ``reuse_partial``: then it is reused and that metric stays
    unmeasured for it (for codecs whose encodes take minutes, such as the
    overfitted one).
    """
    outcome = Outcome()
    runnable = []
    for codec in codecs:
        reason = codec.unavailable()
        if reason:
            log.warning(f"skipping {codec.name}: {reason}")
            outcome.skipped_codecs[codec.name] = reason
        else:
            runnable.append(codec)
    pending = []
    for item in dataset.items:
        for codec in runnable:
            for rate_point in codec.rate_points:
                key = task_key(codec, rate_point, item.sha256, options)
                record = cache.get(codec.name, key)
                complete = record is not None and set(MEDIA[medium].quality_keys) <= record.keys()
                if record is None or not (complete or reuse_partial):
                    pending.append(Task(medium, codec, rate_point, item, key, tuple(sorted((options or {}).items()))))
                else:
                    outcome.records.append(record)
    outcome.cached = len(outcome.records)
    if outcome.cached:
        log.info(f"{outcome.cached} measurements from the cache, {len(pending)} to run")
    bar = _progress_bar(len(pending), progress)
    try:
        for task, result in _run(pending, jobs):
            bar.update(1)
            if "error" not in result:
                cache.put(task.codec.name, task.key, result)
                outcome.records.append(result)
            elif result["input_error"]:
                if task.item.name not in outcome.broken_items:
                    log.warning(f"{task.item.name}: {result['error']} (left out)")
                    outcome.broken_items[task.item.name] = result["error"]
            else:
                log.warning(f"{task.codec.name} at {task.codec.rate_parameter} {task.rate_point} "
                            f"on {task.item.name}: {result['error']}")
                outcome.failures.append({"codec": task.codec.name, "item": task.item.name,
                                         "rate_point": task.rate_point, "error": result["error"]})
    finally:
        bar.close()
    return outcome


def _progress_bar(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, disable=not enabled or total == 0, unit="task", dynamic_ncols=True,
                desc="evaluating")
