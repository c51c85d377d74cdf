"""Throughput of our rANS coder against constriction and CompressAI, and on a GPU.

Run: ``python benchmarks/bench_entropy.py [--symbols 1000000] [--repeat 5]``
GPU: ``python benchmarks/bench_entropy.py --device cuda`` (64 M symbols by default)

The workload is shaped like a hyperprior latent: each symbol has its own
Gaussian scale, log-uniform in [0.1, 20], the entropy model sees that scale
rounded up to a 64-entry log-spaced table, and the symbol is the rounded
zero-mean Gaussian draw. Every coder codes the same symbols with the same
(quantized-scale) model, and every round trip is verified.

Timings are the best of ``--repeat`` calls of the coder alone. The coders
take turns call by call (one call each per round), so a slow moment of a
shared machine hits all of them alike, and ratios are taken within the run.
Single-threaded coders are compared by the CPU time of the calling thread
(wall-clock ratios in parentheses): on a busy machine the long calls of a
slow coder are preempted more often than short ones, which would flatter
the fast coder by wall clock.
For CompressAI the timing excludes the conversion of arrays to the Python
lists its API takes, which flatters it; the ratios are therefore
conservative.

Thread scaling is only as good as the machine allows: on a shared machine
a second thread may get no core. The run therefore also times a perfectly
parallel job (hashing) on 1 and 2 threads, and reports that ceiling beside
the coder's 2-thread speed-up.

``--device cuda`` adds the CUDA coder (``codec.entropy.cuda``): encode and
decode with symbols and indexes on the GPU, once with the payload moving
to/from host memory (what a file writer or reader does) and once with the
payload left on the GPU, beside our CPU coder on 1 thread and on all cores,
for the same payload (``--substream-size``, default 4096 there). Without a
usable GPU it says so and runs the CPU part. ``--json PATH`` writes the
results for scripts (tools/gpu_check.sh).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.machinery
import importlib.util
import json
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from types import ModuleType
from typing import Any

import numpy as np

from codec.entropy.cdf import gaussian_pmf, log_scale_grid, scale_to_index, table_arrays
from codec.entropy.rans import CdfTables, decode, encode

MIN_SCALE, MAX_SCALE, NUM_SCALES = 0.1, 20.0, 64
SEED = 20240601
# Decode speed of ours (one thread) over each peer that the coder is built to reach.
DECODE_TARGETS = {"CompressAI": 10.0, "constriction": 5.0}
# Decode speed of ours on 2 threads over 1 thread, on 1 M symbols.
TWO_THREAD_TARGET = 1.7
CPU_SUBSTREAM_SIZE = 65536
GPU_SUBSTREAM_SIZE = 4096
GPU_SYMBOLS = 64 * 2**20


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
    encode_cpu_s: float = float("nan")  # CPU time of the calling thread (single-threaded calls)
    decode_cpu_s: float = float("nan")


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


# Best CPU time of the calling thread per call, by the same keys as race()'s
# wall times: what a single-threaded call costs, however busy the machine.
CPU_TIMES: dict[Any, float] = {}


def race(calls: dict[Any, Callable[[], Any]], repeat: int) -> tuple[dict[Any, float], dict[Any, Any]]:
    """Best wall time of each call over ``repeat`` rounds, the calls taking turns; and last results.

    Also records each call's best CPU time of the calling thread in CPU_TIMES.
    """
    best = {name: float("inf") for name in calls}
    results: dict[Any, Any] = {}
    for _ in range(repeat):
        for name, fn in calls.items():
            cpu, start = time.thread_time(), time.perf_counter()
            results[name] = fn()
            best[name] = min(best[name], time.perf_counter() - start)
            CPU_TIMES[name] = min(CPU_TIMES.get(name, float("inf")), time.thread_time() - cpu)
    return best, results


def check_round_trip(coder: str, decoded: Any, symbols: np.ndarray) -> None:
    if not np.array_equal(np.asarray(decoded).ravel(), symbols):
        raise SystemExit(f"{coder}: round trip FAILED")


def thread_name(threads: int) -> str:
    return f"{threads} thread{'s' if threads > 1 else ''}"


def parallel_job(threads: int, chunks: int = 4) -> Callable[[], None]:
    """A perfectly parallel job: SHA-256 of 1 MiB chunks (no GIL held), split over ``threads`` threads.

    Timed beside the coder on 1 and 2 threads, it shows how much a second
    thread can gain on this machine at this moment: about 2x with two free
    cores, near 1x where the second thread gets no core (a shared machine).
    """
    chunk = np.random.default_rng(0).bytes(1 << 20)

    def hash_some(n: int) -> None:
        for _ in range(n):
            hashlib.sha256(chunk).digest()

    def run() -> None:
        pool = [threading.Thread(target=hash_some, args=(chunks // threads,)) for _ in range(threads - 1)]
        for t in pool:
            t.start()
        hash_some(chunks // threads)
        for t in pool:
            t.join()

    return run


def bench_ours(w: Workload, threads: list[int], repeat: int, substream_size: int) -> tuple[list[Result], float]:
    """Our CPU coder at each thread count, and the machine's 2-thread ceiling, all taking turns."""
    data = encode(w.symbols, w.indexes, w.tables, substream_size=substream_size)
    calls: dict[Any, Callable[[], Any]] = {}
    for t in threads:
        calls["e", t] = lambda t=t: encode(w.symbols, w.indexes, w.tables, substream_size=substream_size, threads=t)
        calls["d", t] = lambda t=t: decode(data, w.indexes, w.tables, threads=t)
    calls["hash", 1], calls["hash", 2] = parallel_job(1), parallel_job(2)
    best, out = race(calls, repeat)
    results = []
    for t in threads:
        name = f"ours, {thread_name(t)}"
        if out["e", t] != data:
            raise SystemExit(f"{name}: the bytes depend on the thread count")
        check_round_trip(name, out["d", t], w.symbols)
        results.append(Result(name, best["e", t], best["d", t], len(data), CPU_TIMES["e", t], CPU_TIMES["d", t]))
    return results, best["hash", 1] / best["hash", 2]


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

    compressed = enc()

    def dec() -> np.ndarray:
        return constriction.stream.stack.AnsCoder(compressed).decode(model, means, stds)

    best, out = race({"constriction enc": enc, "constriction dec": dec}, repeat)
    check_round_trip("constriction", out["constriction dec"], w.symbols)
    return Result("constriction AnsCoder", best["constriction enc"], best["constriction dec"], compressed.nbytes,
                  CPU_TIMES["constriction enc"], CPU_TIMES["constriction dec"])


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
    data = ans.RansEncoder().encode_with_indexes(symbols, indexes, cdfs, lengths, offsets)
    best, out = race({
        "CompressAI enc": lambda: ans.RansEncoder().encode_with_indexes(symbols, indexes, cdfs, lengths, offsets),
        "CompressAI dec": lambda: ans.RansDecoder().decode_with_indexes(data, indexes, cdfs, lengths, offsets),
    }, repeat)
    check_round_trip("CompressAI", out["CompressAI dec"], w.symbols)
    return Result("CompressAI RansEncoder", best["CompressAI enc"], best["CompressAI dec"], len(data),
                  CPU_TIMES["CompressAI enc"], CPU_TIMES["CompressAI dec"])


def bench_cuda(w: Workload, repeat: int, substream_size: int) -> list[Result]:
    """The CUDA coder, symbols and indexes on the GPU; payload via the host, and left on the GPU."""
    from codec.entropy import cuda

    expected = encode(w.symbols, w.indexes, w.tables, substream_size=substream_size,
                      threads=os.cpu_count() or 1)
    d_symbols, d_indexes = cuda.to_device(w.symbols), cuda.to_device(w.indexes)
    d_payload = cuda.to_device(expected)
    out = cuda.empty(w.symbols.size)
    calls = {
        "enc host": lambda: cuda.encode(d_symbols, d_indexes, w.tables, substream_size=substream_size),
        "dec host": lambda: cuda.decode(expected, d_indexes, w.tables, out=out),
        "enc device": lambda: cuda.encode(d_symbols, d_indexes, w.tables, substream_size=substream_size,
                                          output="device"),
        "dec device": lambda: cuda.decode(d_payload, d_indexes, w.tables, out=out),
    }
    for fn in calls.values():  # warm-up: tables to the device, kernels loaded, pool filled
        fn()
    best, results = race(calls, repeat)
    if results["enc host"] != expected or results["enc device"].to_bytes() != expected:
        raise SystemExit("CUDA coder: the payload differs from the CPU coder's")
    check_round_trip("CUDA coder", out.to_numpy(), w.symbols)
    return [
        Result("ours, CUDA, payload in host memory", best["enc host"], best["dec host"], len(expected)),
        Result("ours, CUDA, payload on the GPU", best["enc device"], best["dec device"], len(expected)),
    ]


def print_table(w: Workload, results: list[Result], unit: str) -> None:
    n = w.symbols.size
    scale = 1e9 if unit == "Gsym/s" else 1e6
    print(f"| coder | encode {unit} | decode {unit} | bits/symbol |")
    print("|---|---:|---:|---:|")
    for r in results:
        print(f"| {r.coder} | {n / r.encode_s / scale:.3f} | {n / r.decode_s / scale:.3f} "
              f"| {8 * r.num_bytes / n:.4f} |")


def report_cpu(w: Workload, ours_rows: list[Result], peers: list[Result], ceiling: float) -> dict[str, Any]:
    """The CPU table, ours (1 thread, 2 threads, ...) against the peers, and the targets."""
    n = w.symbols.size
    ideal = w.tables.information_bits(w.symbols, w.indexes) / n
    print(f"\n{n} symbols, {NUM_SCALES} Gaussian tables for scales {MIN_SCALE}..{MAX_SCALE}; "
          f"information content {ideal:.4f} bits/symbol\n")
    print_table(w, ours_rows + peers, "Msym/s")
    ours, two = ours_rows[0], ours_rows[1]
    summary: dict[str, Any] = {"symbols": n, "information_bits_per_symbol": ideal}
    if peers:
        # Single-threaded calls compare by the CPU time of the calling thread,
        # which a busy machine does not inflate (long calls are preempted more
        # often than short ones, so wall-clock ratios drift with the load).
        print("\n| ours (1 thread) / peer, by CPU time (wall clock) | encode speed | decode speed | size |")
        print("|---|---:|---:|---:|")
        for p in peers:
            print(f"| {p.coder} | {p.encode_cpu_s / ours.encode_cpu_s:.2f}x ({p.encode_s / ours.encode_s:.2f}x) "
                  f"| {p.decode_cpu_s / ours.decode_cpu_s:.2f}x ({p.decode_s / ours.decode_s:.2f}x) "
                  f"| {ours.num_bytes / p.num_bytes:.4f} |")
        print()
        for p in peers:
            peer_name = p.coder.split()[0]
            target = DECODE_TARGETS[peer_name]
            ratio = p.decode_cpu_s / ours.decode_cpu_s
            verdict = "met" if ratio >= target else "NOT met"
            summary[f"decode_vs_{peer_name}"] = ratio
            summary[f"decode_vs_{peer_name}_wall"] = p.decode_s / ours.decode_s
            print(f"target: decode >= {target:g}x {peer_name} on one thread: {ratio:.2f}x, {verdict}")
    scaling = ours.decode_s / two.decode_s
    verdict = "met" if scaling >= TWO_THREAD_TARGET else "NOT met"
    summary |= {"decode_2_threads_over_1": scaling, "machine_2_thread_ceiling": ceiling}
    print(f"target: decode on 2 threads >= {TWO_THREAD_TARGET:g}x 1 thread: {scaling:.2f}x, {verdict} "
          f"(a perfectly parallel job got {ceiling:.2f}x on 2 threads in the same rounds: "
          "the most this machine allowed)")
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=None,
                        help=f"symbols to code (default 1000000; {GPU_SYMBOLS} with --device cuda)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="cuda: race the CUDA coder against ours on the CPU")
    parser.add_argument("--gpu", dest="device", action="store_const", const="cuda", help="same as --device cuda")
    parser.add_argument("--substream-size", type=int, default=None,
                        help=f"symbols per substream (default {CPU_SUBSTREAM_SIZE}; "
                             f"{GPU_SUBSTREAM_SIZE} with --device cuda)")
    parser.add_argument("--peers", action=argparse.BooleanOptionalAction, default=None,
                        help="race constriction and CompressAI too (default: on for cpu, off for cuda)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    gpu_mode = args.device == "cuda"
    n = args.symbols or (GPU_SYMBOLS if gpu_mode else 1_000_000)
    substream_size = args.substream_size or (GPU_SUBSTREAM_SIZE if gpu_mode else CPU_SUBSTREAM_SIZE)
    peers = (not gpu_mode) if args.peers is None else args.peers
    if n < 1 or args.repeat < 1 or substream_size < 1:
        parser.error("--symbols, --repeat and --substream-size must be positive")

    report: dict[str, Any] = {"device": args.device, "substream_size": substream_size}
    w = make_workload(n)
    cores = os.cpu_count() or 1
    threads = [1, 2] + ([cores] if gpu_mode and cores > 2 else [])
    ours_cpu, ceiling = bench_ours(w, threads, args.repeat, substream_size)
    peer_rows = []
    if peers:
        for bench in (bench_constriction, bench_compressai):
            result = bench(w, args.repeat)
            if result is not None:
                peer_rows.append(result)
    report["cpu"] = report_cpu(w, ours_cpu, peer_rows, ceiling)
    results = ours_cpu + peer_rows

    if gpu_mode:
        from codec.entropy import cuda

        status = cuda.info()
        report["cuda"] = status
        print(f"\nCUDA coder: compiled={status['compiled']}, devices={status['devices'] or 'none'}")
        if not status["devices"]:
            print(f"no GPU: {status['reason']}; CUDA rows skipped")
        else:
            gpu_results = bench_cuda(w, args.repeat, substream_size)
            print(f"\n{n} symbols, {substream_size} per substream ({-(-n // substream_size)} substreams, "
                  f"4 lanes); symbols and indexes in GPU memory for the CUDA rows\n")
            print_table(w, ours_cpu + gpu_results, "Gsym/s")
            print("\n| CUDA / ours on the CPU | encode speed | decode speed |")
            print("|---|---:|---:|")
            for g in gpu_results:
                for c in ours_cpu:
                    print(f"| {g.coder} / {c.coder} | {c.encode_s / g.encode_s:.2f}x "
                          f"| {c.decode_s / g.decode_s:.2f}x |")
            results += gpu_results
    report["results"] = [
        {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in asdict(r).items()}
        | {"encode_gsym_s": n / r.encode_s / 1e9, "decode_gsym_s": n / r.decode_s / 1e9}
        for r in results
    ]
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
