"""Video codec speed beside x264 (low delay, preset medium) in the same run: frames per second, CIF and 720p.

    python benchmarks/bench_video.py [--frames 16] [--threads 2] [--sizes cif,720p] [--device cpu] [--model ID]

Each codec runs in its own process, limited to ``--threads`` threads (torch
intra-op threads and the entropy coder for ours; x264's ``threads``), on the
first frames of real clips when ``shared/data`` is present (Foreman CIF, the
720p street clip), else on a synthetic pan. Times are the wall-clock time of
coding and of decoding the whole clip (the best of ``--repeat`` runs);
ratios are ours over x264 in the same run. Ours codes at ``-q 4``, x264 at
QP 30.

Targets (stated here, checked by reading the table, never by a test): CIF
decode at 5 fps or more on 2 CPU cores; on a GPU (``--device cuda``), 1080p
decode at 30 fps or more.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "video" / "h264"
CLIPS = {"cif": (DATA / "test_cif_I_CABAC_slice.264", (352, 288)),
         "720p": (DATA / "VID_1280x720_cabac_temporal_direct.264", (1280, 720)),
         "1080p": (DATA / "VID_1920x1080_cabac_temporal_direct.264", (1920, 1080))}

WORKER = r"""
import io, json, os, sys, time
spec = json.loads(sys.argv[1])
import numpy as np
from fractions import Fraction
from codec.media.video import MEDIUM, Clip, VideoFrame
if spec["path"]:
    with MEDIUM.open_source(spec["path"], {"frames": spec["frames"]}) as src:
        clip = Clip(tuple(src), src.info.frame_rate)
else:
    w, h = spec["size"]
    rows, cols = np.mgrid[0:h, 0:w + 2 * spec["frames"]]
    base = ((rows * 7 + cols * 3) % 251).astype(np.uint8)
    frames = [VideoFrame(np.ascontiguousarray(base[:, 2 * t: 2 * t + w]), np.full((h // 2, w // 2), 120, np.uint8),
                         np.full((h // 2, w // 2), 130, np.uint8), pts=t) for t in range(spec["frames"])]
    clip = Clip(tuple(frames), Fraction(25))
n = len(clip.frames)
if spec["codec"] == "ours":
    import torch
    torch.set_num_threads(spec["threads"])
    import codec
    kw = {} if spec["model"] is None else {"model": spec["model"]}
    enc = lambda: codec.encode(clip, media="video", quality=4, threads=spec["threads"], **kw)
    dec = lambda data: codec.decode(data, threads=spec["threads"], device=spec["device"])
else:
    import tempfile
    from pathlib import Path
    from codec.eval.codecs.pyav_ld import decode_clip, encode_clip
    from codec.eval.codecs.x264 import X264
    x = X264("medium")
    opts = x.encoder_options(30)
    opts["x264-params"] = opts["x264-params"].replace("threads=1", f"threads={spec['threads']}")
    tmp = Path(tempfile.mkdtemp())
    def enc():
        encode_clip(clip, tmp / "a.264", encoder="libx264", muxer="h264", options=opts)
        return (tmp / "a.264").read_bytes()
    dec = lambda data: decode_clip(tmp / "a.264")
data = enc(); dec(data)
te, td = [], []
for _ in range(spec["repeat"]):
    t0 = time.perf_counter(); data = enc(); te.append(time.perf_counter() - t0)
    t0 = time.perf_counter(); dec(data); td.append(time.perf_counter() - t0)
print(json.dumps({"frames": n, "encode_fps": n / min(te), "decode_fps": n / min(td),
                  "kbps": 8 * len(data) / (n / float(clip.fps)) / 1000}))
"""


def run(codec: str, size: str, args) -> dict:
    path, dims = CLIPS[size]
    spec = {"codec": codec, "path": str(path) if path.exists() else None, "size": dims, "frames": args.frames,
            "threads": args.threads, "repeat": args.repeat, "device": args.device, "model": args.model}
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    out = subprocess.run([sys.executable, "-c", WORKER, json.dumps(spec)], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise SystemExit(f"{codec} at {size} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--sizes", default="cif,720p")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--model", help="video model id (default: the installed default)")
    args = parser.parse_args()
    print("| clip | frames | codec | encode fps | decode fps | kbit/s | encode / x264 | decode / x264 |")
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    for size in args.sizes.split(","):
        x264 = run("x264", size, args)
        ours = run("ours", size, args)
        source = CLIPS[size][0].name if CLIPS[size][0].exists() else "synthetic pan"
        for name, r in ((f"ours ({args.device}, {args.threads} threads)", ours),
                        (f"x264 medium LD ({args.threads} threads)", x264)):
            print(f"| {size} ({source}) | {r['frames']} | {name} | {r['encode_fps']:.2f} | {r['decode_fps']:.2f} | "
                  f"{r['kbps']:.0f} | {r['encode_fps'] / x264['encode_fps']:.3f} | "
                  f"{r['decode_fps'] / x264['decode_fps']:.3f} |")


if __name__ == "__main__":
    main()
