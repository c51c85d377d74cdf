"""Throughput of our rANS coder against constriction and CompressAI.

Run: ``python benchmarks/bench_entropy.py [--symbols 1000000] [--repeat 3]``

The workload is shaped like a hyperprior latent: each symbol has its own
Gaussian scale, log-uniform in [0.1, 20], the entropy model sees that scale
rounded up to a 64-entry log-spaced table, and the symbol is the rounded
zero-mean Gaussian draw. Every coder codes the same symbols with the same
(quantized-scale) model, and every round trip is verified.

Timings are the best of ``--repeat`` runs of the coder call alone. For
CompressAI that excludes the conversion of arrays to the Python lists its
API takes, which flatters it; the ratios are therefore conservative.
"""

from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from codec.entropy.cdf import gaussian_pmf, log_scale_grid, scale_to_index, table_arrays
from codec.entropy.rans import CdfTables, decode, encode

MIN_SCALE, MAX_SCALE, NUM_SCALES = 0.1, 20.0, 64
SEED = 20240601
# Decode speed of ours (one thread) over each peer that the coder is built to reach.
DECODE_TARGETS = {"CompressAI": 10.0, "constriction": 5.0}


@dataclass
class Workload:
    symbols: np.ndarray  # int32
    indexes: np.ndarray  # int32 table index per symbol
    grid: np.ndarray  # the scale of each table
    arrays: tuple[np.ndarray, np.ndarray, np.ndarray]  # cdfs, cdf_lengths, offsets
    tables: CdfTables
    support: int  # K of the widest table


@dataclass
class Result:
    coder: str
    encode_s: float
    decode_s: float
    num_bytes: int


def make_workload(num_symbols: int, seed: int = SEED) -> Workload:
    """Latent-like symbols with per-symbol scales, as described in the module docstring."""
    rng = np.random.default_rng(seed)
    scales = np.exp(rng.uniform(np.log(MIN_SCALE), np.log(MAX_SCALE), num_symbols))
    symbols = np.rint(rng.normal(0.0, scales)).astype(np.int32)
    grid = log_scale_grid(MIN_SCALE, MAX_SCALE, NUM_SCALES)
    arrays = table_arrays([gaussian_pmf(float(s)) for s in grid])
    indexes = scale_to_index(scales, grid)
    support = int(-np.min(arrays[2]))
    return Workload(symbols, indexes, grid, arrays, CdfTables(*arrays), support)


def best_time(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Fastest wall time of ``repeat`` calls, and the last call's result."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def check_round_trip(coder: str, decoded: Any, symbols: np.ndarray) -> None:
    if not np.array_equal(np.asarray(decoded), symbols):
        raise SystemExit(f"{coder}: round trip FAILED")


def bench_ours(w: Workload, threads: int, repeat: int) -> Result:
    enc_s, data = best_time(lambda: encode(w.symbols, w.indexes, w.tables, threads=threads), repeat)
    dec_s, out = best_time(lambda: decode(data, w.indexes, w.tables, threads=threads), repeat)
    name = f"ours, {threads} thread{'s' if threads > 1 else ''}"
    check_round_trip(name, out, w.symbols)
    return Result(name, enc_s, dec_s, len(data))


def bench_constriction(w: Workload, repeat: int) -> Result | None:
    """constriction's ANS coder with its vectorized per-symbol QuantizedGaussian."""
    try:
        import constriction
    except ImportError:
        print("> constriction is not installed (pip install constriction): row skipped")
        return None
    # constriction has no escape symbol, so its support must hold every symbol.
    k = max(w.support, int(np.abs(w.symbols).max()))
    model = constriction.stream.model.QuantizedGaussian(-k, k)
    means = np.zeros(w.symbols.size)
    stds = w.grid[w.indexes]

    def enc() -> np.ndarray:
        coder = constriction.stream.stack.AnsCoder()
        coder.encode_reverse(w.symbols, model, means, stds)
        return coder.get_compressed()

    enc_s, compressed = best_time(enc, repeat)
    def dec() -> np.ndarray:
        return constriction.stream.stack.AnsCoder(compressed).decode(model, means, stds)

    dec_s, out = best_time(dec, repeat)
    check_round_trip("constriction", out, w.symbols)
    return Result("constriction AnsCoder", enc_s, dec_s, compressed.nbytes)


def load_compressai_ans() -> ModuleType | None:
    """Load CompressAI's standalone ``ans`` extension without running its ``__init__``.

    Importing ``compressai`` itself pulls in torch and torchvision; the rANS
    extension needs neither, so it is loaded straight from its file.
    """
    spec = importlib.util.find_spec("compressai")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = os.path.join(folder, "ans" + suffix)
            if not os.path.exists(path):
                continue
            ext_spec = importlib.util.spec_from_file_location("compressai.ans", path)
            module = importlib.util.module_from_spec(ext_spec)
            ext_spec.loader.exec_module(module)
            return module
    return None


def bench_compressai(w: Workload, repeat: int) -> Result | None:
    ans = load_compressai_ans()
    if ans is None:
        print("> CompressAI is not installed (pip install --no-deps compressai==1.2.8): row skipped")
        return None
    symbols, indexes = w.symbols.tolist(), w.indexes.tolist()
    cdfs, lengths, offsets = (a.tolist() for a in w.arrays)
    enc_s, data = best_time(
        lambda: ans.RansEncoder().encode_with_indexes(symbols, indexes, cdfs, lengths, offsets), repeat
    )
    dec_s, out = best_time(
        lambda: ans.RansDecoder().decode_with_indexes(data, indexes, cdfs, lengths, offsets), repeat
    )
    check_round_trip("CompressAI", out, w.symbols)
    return Result("CompressAI RansEncoder", enc_s, dec_s, len(data))


def print_report(w: Workload, results: list[Result]) -> None:
    n = w.symbols.size
    ideal = w.tables.information_bits(w.symbols, w.indexes) / n
    print(f"\n{n} symbols, {NUM_SCALES} Gaussian tables for scales {MIN_SCALE}..{MAX_SCALE}; "
          f"information content {ideal:.4f} bits/symbol\n")
    print("| coder | encode Msym/s | decode Msym/s | bits/symbol |")
    print("|---|---:|---:|---:|")
    for r in results:
        enc_rate, dec_rate = n / r.encode_s / 1e6, n / r.decode_s / 1e6
        print(f"| {r.coder} | {enc_rate:.1f} | {dec_rate:.1f} | {8 * r.num_bytes / n:.4f} |")

    ours, peers = results[0], results[2:]
    if not peers:
        return
    print("\n| ours (1 thread) / peer | encode speed | decode speed | size |")
    print("|---|---:|---:|---:|")
    for p in peers:
        print(f"| {p.coder} | {p.encode_s / ours.encode_s:.2f}x | {p.decode_s / ours.decode_s:.2f}x "
              f"| {ours.num_bytes / p.num_bytes:.4f} |")
    print()
    for p in peers:
        peer_name = p.coder.split()[0]
        target = DECODE_TARGETS[peer_name]
        ratio = p.decode_s / ours.decode_s
        verdict = "met" if ratio >= target else "NOT met"
        print(f"target: decode >= {target:g}x {peer_name} on one thread: {ratio:.2f}x, {verdict}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    if args.symbols < 1 or args.repeat < 1:
        parser.error("--symbols and --repeat must be positive")

    w = make_workload(args.symbols)
    results = [bench_ours(w, 1, args.repeat), bench_ours(w, 2, args.repeat)]
    for bench in (bench_constriction, bench_compressai):
        result = bench(w, args.repeat)
        if result is not None:
            results.append(result)
    print_report(w, results)


if __name__ == "__main__":
    main()
