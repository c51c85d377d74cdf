"""The token codec's rate at each quality, and what its learned prior saves against fixed-length indices.

    python benchmarks/bench_vq.py FOLDER [--weights FILE] [--quality 1 2 3 4 5 6] [--rate-only] [--avif 0 5]

For every image of FOLDER (e.g. runs/kodak4) and quality: tokens coded, the
fixed-length cost (``bits`` per token, 2 bits per block for the levels),
the payload the integer prior actually writes (all seven rANS segments),
the whole file in bits per pixel, and the RGB PSNR of the decoded image
(not with ``--rate-only``, which skips the synthesis).
The saving column is ``1 - payload / fixed``, summed over the images.

``--avif Q...``: Pillow's AVIF encoder at those qualities on the same
images, for a baseline below the evaluator's lowest AVIF rate point
(quality 5), with the same bpp and PSNR columns.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np
from PIL import Image


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255 ** 2 / mse))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--weights", help="a weights file (default: the installed vq model)")
    parser.add_argument("--quality", type=float, nargs="+", default=[1, 2, 3, 4, 5, 6])
    parser.add_argument("--rate-only", action="store_true", help="skip decoding (no PSNR column)")
    parser.add_argument("--avif", type=int, nargs="*", default=[])
    args = parser.parse_args()

    import torch

    import codec
    from codec.container import parse_container
    from codec.container.source import MediaType
    from codec.zoo import load_weights_file, model_for

    torch.set_num_threads(1)
    model = load_weights_file(args.weights) if args.weights else model_for("vq", MediaType.IMAGE)
    coder = model.coder
    images = sorted(p for p in Path(args.folder).iterdir() if p.suffix.lower() in (".png", ".ppm", ".bmp"))
    print("| quality | tokens/image | fixed bits | prior payload bits | saving | file bpp | PSNR dB |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for q in args.quality:
        tokens = fixed = payload = pixels = file_bits = 0
        psnrs = []
        for path in images:
            rgb = np.asarray(Image.open(path).convert("RGB"))
            grids = coder.grids_at(coder.analyse(rgb), q - 1)
            n = sum(int(grids.present(s).sum()) for s in range(3))
            tokens += n
            fixed += n * coder.bits + 2 * grids.levels.size
            encoded = codec.encode(rgb, weights=model, quality=q)
            payload += 8 * sum(len(s) for s in parse_container(encoded).packets[0].segments)
            file_bits += 8 * len(encoded)
            pixels += rgb.shape[0] * rgb.shape[1]
            if not args.rate_only:
                psnrs.append(_psnr(codec.decode(encoded, weights=model), rgb))
        psnr = f"{np.mean(psnrs):.2f}" if psnrs else "-"
        print(f"| {q:g} | {tokens / len(images):.0f} | {fixed} | {payload} | {100 * (1 - payload / fixed):.1f} % "
              f"| {file_bits / pixels:.4f} | {psnr} |")
    if args.avif:
        print("\n| AVIF quality (Pillow) | file bpp | PSNR dB |\n| --- | --- | --- |")
        for q in args.avif:
            bits = pixels = 0
            psnrs = []
            for path in images:
                rgb = np.asarray(Image.open(path).convert("RGB"))
                buf = io.BytesIO()
                Image.fromarray(rgb).save(buf, format="AVIF", quality=q)
                bits += 8 * buf.tell()
                pixels += rgb.shape[0] * rgb.shape[1]
                psnrs.append(_psnr(np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")), rgb))
            print(f"| {q} | {bits / pixels:.4f} | {np.mean(psnrs):.2f} |")


if __name__ == "__main__":
    main()
