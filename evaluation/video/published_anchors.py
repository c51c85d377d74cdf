"""Published VTM-17.0 low-delay anchors as curves ``codec eval video --published`` reads, written outside the repo.

    python evaluation/video/published_anchors.py OUT_DIR [--anchors ../shared/anchors]

Reads ``video/dcvc/derived_vtm17_LDB_allf_ip-1_class_avg.csv`` (VTM 17.0 low-delay B, all frames, one
intra frame, class averages weighted by frames, from the DCVC project's per-sequence results) and
writes one JSON curve per HEVC class C (832x480) and D (416x240), the classes nearest our CIF/QCIF
clips, with ``bpp``, ``psnr-yuv`` (6:1:1) and ``psnr-y``. The figures are published ones on *other
sequences*; the files stay out of the repository (the anchors' README asks for that).
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

SOURCE = "video/dcvc/derived_vtm17_LDB_allf_ip-1_class_avg.csv"
CLASSES = {"HEVC_C": "832x480", "HEVC_D": "416x240"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--anchors", type=Path, default=Path(__file__).resolve().parents[3] / "shared" / "anchors")
    args = parser.parse_args()
    rows = list(csv.DictReader(open(args.anchors / SOURCE)))
    args.out.mkdir(parents=True, exist_ok=True)
    for cls, size in CLASSES.items():
        points = sorted((r for r in rows if r["cls"] == cls), key=lambda r: float(r["bpp"]))
        curve = {"name": f"VTM-17.0 low-delay B, HEVC class {cls[-1]} ({size}), other sequences",
                 "description": f"{SOURCE}: YUV 4:2:0, all frames, intra period -1, QP "
                                f"{points[-1]['qp']}..{points[0]['qp']}; PSNR (6Y+U+V)/8",
                 "results": {"bpp": [float(r["bpp"]) for r in points],
                             "psnr-yuv": [float(r["psnr_yuv611"]) for r in points],
                             "psnr-y": [float(r["psnr_y"]) for r in points]}}
        (args.out / f"vtm17-ldb-{cls[-1].lower()}.json").write_text(json.dumps(curve, indent=1))


if __name__ == "__main__":
    main()
