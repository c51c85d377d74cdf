"""Per-frame PSNR-YUV and bits of one clip, ours beside a baseline: where error propagation (drift) shows.

``python -m codec.eval.video_frames CLIP --frames 32 --quality 4 --qp 30 --out DIR`` codes the clip
with our default video model at ``--quality`` and with x264 medium low delay at ``--qp``, and writes
``DIR/frames.json`` (per-frame PSNR-YUV and bits of each) and ``DIR/frames.png``. Bits per frame are
the payload of each frame's packet: for ours the container packet (segments and their framing), for
x264 the demuxed H.264 access unit.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from codec.eval.codecs.pyav_ld import decode_clip, encode_clip
from codec.eval.codecs.x264 import X264
from codec.eval.media.video import load
from codec.eval.video_metrics import frame_metrics
from codec.io.atomic import write_bytes_atomic


def ours(clip, quality: float, path: Path) -> tuple[list[int], list]:
    import codec
    from codec.container import ContainerReader

    codec.encode(clip, path, media="video", quality=quality, overwrite=True)
    with open(path, "rb") as f:
        bits = [8 * p.size for p in ContainerReader(f).packets()]
    return bits, codec.decode(path)


def baseline(clip, qp: int, path: Path) -> tuple[list[int], list]:
    import av

    x264 = X264("medium")
    encode_clip(clip, path, encoder=x264.encoder, muxer=x264.muxer, options=x264.encoder_options(qp))
    with av.open(str(path)) as container:
        bits = [8 * p.size for p in container.demux(video=0) if p.size]
    return bits, decode_clip(path)


def per_frame(clip, decoded) -> list[float]:
    return [round(frame_metrics(r, d, matrix=clip.matrix, full_range=clip.full_range)["psnr_yuv"], 4)
            for r, d in zip(clip.frames, decoded)]


def plot(results: dict, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6), dpi=110, sharex=True)
    for name, r in results.items():
        top.plot(r["psnr_yuv"], marker="o", markersize=3, label=f"{name} ({r['mean_psnr_yuv']:.2f} dB, "
                                                              f"{r['kbits'] :.1f} kbit)")
        bottom.plot([b / 1000 for b in r["bits"]], marker="o", markersize=3, label=name)
    top.set_ylabel("PSNR-YUV (dB)")
    bottom.set_ylabel("kbit per frame")
    bottom.set_yscale("log")
    bottom.set_xlabel("frame")
    top.set_title(title, fontsize=8)
    top.legend(fontsize=8)
    top.grid(True, alpha=0.3)
    bottom.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip", type=Path)
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--quality", type=float, default=4)
    parser.add_argument("--qp", type=int, default=30)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    clip = load(args.clip, frames=args.frames)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, run in ((f"ours -q {args.quality:g}", lambda p: ours(clip, args.quality, p)),
                          (f"x264 medium LD qp {args.qp}", lambda p: baseline(clip, args.qp, p))):
            bits, decoded = run(Path(tmp) / "coded")
            psnrs = per_frame(clip, decoded)
            results[name] = {"bits": bits, "psnr_yuv": psnrs, "kbits": sum(bits) / 1000,
                             "mean_psnr_yuv": sum(psnrs) / len(psnrs)}
    args.out.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(args.out / "frames.json", json.dumps({"clip": args.clip.name, "frames": len(clip.frames),
                                                             "results": results}, indent=1).encode(), overwrite=True)
    plot(results, f"{args.clip.name}, {len(clip.frames)} frames: per-frame PSNR-YUV and bits", args.out / "frames.png")


if __name__ == "__main__":
    main()
