"""A contact sheet: Kodak crops coded by each codec near one target rate, in one small PNG, so a person can look.

    python tools/contact_sheet.py KODAK_DIR [--codecs jpeg-420,webp,avif,x265-444,nmc-hyperprior-vr-small]
        [--bpp 0.05] [--crops kodim05,kodim14,kodim23] [--size 192] [--whole] [--out runs/perceptual/contact-sheet]

Why: at very low rates PSNR and even FLIP disagree with the eye, so a
scoreboard needs pictures next to its numbers. Every crop is coded by every
codec at the setting whose bits per pixel (whole file, headers included, over
the crop's pixels) are nearest to ``--bpp``: the classical codecs' quality or
QP is searched over its whole range, ours over its ``-q`` levels, always
through the evaluator's own codec objects (``codec eval image --codecs``
names), so a tile is exactly what ``codec eval`` would measure at that setting.

By default each crop is coded on its own, as the issue asks. At a few hundred
bytes a file, fixed headers then weigh: a 256x256 crop at 0.05 bpp is 410
bytes in all (a 192x192 one 230), below what several classical codecs' smallest file is. With
``--whole`` each whole Kodak image is coded instead, the setting chosen by the
whole image's bpp (the rate Kodak results are quoted at) and the tile cut
from the decoded image; the metrics are then those of the whole image.

Writes into ``--out``: ``contact_sheet.png`` (rows = crops, columns = the
original and each codec, each tile labelled with the codec and its actual
bpp), ``contact_sheet.json`` (setting, bytes, bpp, RGB PSNR, MS-SSIM and FLIP
of every tile, and the conditions) and ``contact_sheet.md`` (the same as a
table). A crop is the centred ``--size`` square unless given as
``NAME:X,Y`` (top-left corner).
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

DEFAULT_CODECS = ("jpeg-420", "webp", "avif", "x265-444", "nmc-hyperprior-vr-small")
DEFAULT_CROPS = ("kodim05", "kodim14", "kodim23")
#: the settings searched for codecs whose rate points are not a short list of levels (ours are)
SEARCH_RANGES = {"quality": range(0, 101), "qp": range(51, -1, -1), "crf": range(63, -1, -1)}
LABEL_HEIGHT = 30


@dataclass(frozen=True)
class Tile:
    crop: str
    #: what was coded and measured: "crop" or "whole image"
    coded: str
    codec: str
    label: str
    rate_parameter: str
    setting: int | float
    #: the codec's lowest-rate setting: it cannot go nearer a lower target
    lowest_setting: bool
    bytes: int
    bpp: float
    psnr_rgb: float
    ms_ssim_rgb: float
    flip: float


def settings_by_rate(codec) -> list[int]:
    """The settings to search, from the lowest rate to the highest.

    Ours (and any codec with a rate parameter not in :data:`SEARCH_RANGES`) offer their listed
    rate points; the classical codecs their parameter's whole range, so the nearest setting is
    found even where the evaluator's default points are sparse.
    """
    from codec.eval.codecs.nmc import NmcCodec

    if isinstance(codec, NmcCodec) or codec.rate_parameter not in SEARCH_RANGES:
        return list(codec.rate_points)
    return list(SEARCH_RANGES[codec.rate_parameter])


def nearest_setting(codec, item: np.ndarray, target_bpp: float, folder: Path) -> tuple[int, bytes, bool]:
    """The setting of ``codec`` whose file for ``item`` has the bpp nearest ``target_bpp``, that file, and
    whether it is the codec's lowest-rate setting (the target was below what the codec can reach).

    Binary search over :func:`settings_by_rate` for the first setting at or above the target (the
    rate grows with the setting, up to the encoder's own plateaus), then the nearer of it and the one
    below. Settings an encoder rejects are skipped.
    """
    settings = settings_by_rate(codec)
    pixels = item.shape[0] * item.shape[1]
    coded: dict[int, bytes | None] = {}

    def code(index: int) -> bytes | None:
        setting = settings[index]
        if setting not in coded:
            path = folder / f"tile.{codec.extension}"
            try:
                codec.encode(item, setting, path)
                coded[setting] = path.read_bytes()
            except Exception:  # an encoder refusing a setting (e.g. quality 0) just leaves it out
                coded[setting] = None
            path.unlink(missing_ok=True)
        return coded[setting]

    def bpp(index: int) -> float:
        data = code(index)
        return float("nan") if data is None else 8 * len(data) / pixels

    low, high = 0, len(settings) - 1
    while low < high:
        middle = (low + high) // 2
        rate = bpp(middle)
        if rate != rate:  # rejected setting: search above it
            low = middle + 1
        elif rate < target_bpp:
            low = middle + 1
        else:
            high = middle
    candidates = [i for i in (low - 1, low) if 0 <= i < len(settings) and code(i) is not None]
    if not candidates:
        raise RuntimeError(f"{codec.name} could not code the crop at any setting")
    best = min(candidates, key=lambda i: abs(bpp(i) - target_bpp))
    lowest = best == 0 or (best == 1 and code(0) is None)
    return settings[best], code(best), lowest


def crop(image: np.ndarray, size: int, corner: tuple[int, int] | None) -> np.ndarray:
    """The ``size`` square at ``corner`` (x, y), or the centred one."""
    from codec.errors import UsageError

    height, width = image.shape[:2]
    if size > min(height, width):
        raise UsageError(f"--size {size} is larger than a {width}x{height} image")
    x, y = corner if corner else ((width - size) // 2, (height - size) // 2)
    if not (0 <= x <= width - size and 0 <= y <= height - size):
        raise UsageError(f"a {size} square at {x},{y} does not fit a {width}x{height} image")
    return np.ascontiguousarray(image[y:y + size, x:x + size])


def code_tile(codec, name: str, item: np.ndarray, target_bpp: float,
              coded: str = "crop") -> tuple[Tile, np.ndarray]:
    """Code ``item`` with ``codec`` near ``target_bpp``; measure the decoded item as ``codec eval`` does."""
    from codec.eval.media.image import measure

    with tempfile.TemporaryDirectory(prefix="contact-sheet-") as tmp:
        setting, data, lowest = nearest_setting(codec, item, target_bpp, Path(tmp))
        path = Path(tmp) / f"tile.{codec.extension}"
        path.write_bytes(data)
        decoded = codec.decode(path)
    metrics = measure(item, decoded)
    tile = Tile(crop=name, coded=coded, codec=codec.name, label=codec.label, rate_parameter=codec.rate_parameter,
                setting=setting, lowest_setting=lowest, bytes=len(data),
                bpp=8 * len(data) / (item.shape[0] * item.shape[1]),
                psnr_rgb=metrics["psnr_rgb"], ms_ssim_rgb=metrics["ms_ssim_rgb"], flip=metrics["flip"])
    return tile, decoded


def sheet(rows: list[list[tuple[str, np.ndarray]]]) -> bytes:
    """One PNG: a grid of tiles, each with its caption drawn underneath."""
    from PIL import Image, ImageDraw, ImageFont

    size = rows[0][0][1].shape[0]
    columns = max(len(r) for r in rows)
    canvas = Image.new("RGB", (columns * size, len(rows) * (size + LABEL_HEIGHT)), "white")
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=12)
    for r, row in enumerate(rows):
        for c, (caption, pixels) in enumerate(row):
            x, y = c * size, r * (size + LABEL_HEIGHT)
            canvas.paste(Image.fromarray(pixels), (x, y))
            for line, text in enumerate(caption.split("\n")[:2]):
                draw.text((x + 3, y + size + 1 + 14 * line), text, fill="black", font=font)
    out = io.BytesIO()
    canvas.save(out, "PNG", optimize=True)
    return out.getvalue()


def table(tiles: list[Tile], target_bpp: float, whole: bool = False) -> str:
    coded = "the whole image" if whole else "the crop"
    lines = [f"Contact sheet tiles, target {target_bpp} bpp; each codec coded {coded}: bpp (whole file over its "
             f"pixels) and metrics are of {coded} (FLIP: LDR mean error, lower is better)", "",
             "| crop | codec | setting | bytes | bpp | RGB PSNR (dB) | MS-SSIM | FLIP |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for t in tiles:
        floor = " (lowest)" if t.lowest_setting else ""
        lines.append(f"| {t.crop} | {t.label} | {t.rate_parameter} {t.setting}{floor} | {t.bytes} | {t.bpp:.4f} | "
                     f"{t.psnr_rgb:.2f} | {t.ms_ssim_rgb:.4f} | {t.flip:.4f} |")
    return "\n".join(lines) + "\n"


_CROP = re.compile(r"([^,:\s]+)(?::(\d+),(\d+))?(?:,|$)")


def crop_specs(text: str) -> list[tuple[str, tuple[int, int] | None]]:
    """``kodim05,kodim14:10,20`` -> ``[("kodim05", None), ("kodim14", (10, 20))]``; ValueError if malformed."""
    specs, at = [], 0
    while at < len(text):
        match = _CROP.match(text, at)
        if not match:
            raise ValueError(text)
        name, x, y = match.groups()
        specs.append((name, (int(x), int(y)) if x else None))
        at = match.end()
    if not specs:
        raise ValueError(text)
    return specs


def make(kodak: Path, codec_names: list[str], crops: list[tuple[str, tuple[int, int] | None]],
         size: int, target_bpp: float, out: Path, whole: bool = False) -> list[Path]:
    """Build the sheet, its JSON and its Markdown in ``out``; return the files written."""
    from codec.errors import BadInputError, UsageError
    from codec.eval import flip
    from codec.eval.codecs import select
    from codec.eval.conditions import software_and_machine
    from codec.eval.media.image import IMAGE, load
    from codec.io.atomic import write_bytes_atomic

    if not kodak.is_dir():
        raise UsageError(f"{kodak} is not a folder")
    if not target_bpp > 0:
        raise UsageError("--bpp must be above 0")
    codecs = select(codec_names, "image")
    missing = {c.name: why for c in codecs if (why := c.unavailable())}
    if missing:
        raise UsageError("cannot run " + "; ".join(f"{n}: {w}" for n, w in missing.items()))
    tiles, rows = [], []
    found = {p.stem: p for p in sorted(kodak.iterdir()) if p.suffix.lower() in IMAGE.suffixes}
    missing_images = [name for name, _ in crops if name not in found]
    if missing_images:  # before any coding
        raise BadInputError(f"no image {', '.join(missing_images)} in {kodak.name} (the crops are named with --crops)")
    for name, corner in crops:
        image = load(found[name])
        original = crop(image, size, corner)
        row = [(f"{name} original\n{size}x{size}" + (" of whole" if whole else ""), original)]
        for codec in codecs:
            try:
                if whole:
                    tile, decoded = code_tile(codec, name, image, target_bpp, "whole image")
                    decoded = crop(decoded, size, corner)
                else:
                    tile, decoded = code_tile(codec, name, original, target_bpp)
            except Exception as exc:  # a codec failing: one message naming it, not a traceback
                raise RuntimeError(f"{codec.name} on {name}: {type(exc).__name__}: {exc}") from None
            tiles.append(tile)
            floor = " (lowest)" if tile.lowest_setting else ""
            row.append((f"{codec.name}\n{tile.bpp:.3f} bpp{floor}, FLIP {tile.flip:.3f}", decoded))
            print(f"{name} {codec.name}: {tile.rate_parameter} {tile.setting}, {tile.bpp:.4f} bpp, "
                  f"PSNR {tile.psnr_rgb:.2f} dB, FLIP {tile.flip:.4f}", file=sys.stderr, flush=True)
        rows.append(row)
    conditions = {
        "target_bpp": target_bpp, "crop_size": size,
        "coded": "each whole image (bpp and metrics of the whole image; tiles cut from the decoded image)"
                 if whole else "each crop on its own (bpp and metrics of the crop)",
        "crops": {name: list(corner) if corner else "centred" for name, corner in crops},
        "selection": "per crop and codec, the setting whose file bpp is nearest the target (classical codecs: "
                     "binary search over the whole quality/QP range; ours: the -q levels)",
        "codecs": {c.name: c.describe() for c in codecs},
        "metrics": IMAGE.conditions["metrics"], "flip_version": flip.version(),
        "software": software_and_machine(),
    }
    files = {"contact_sheet.png": sheet(rows),
             "contact_sheet.json": json.dumps({"conditions": conditions, "tiles": [asdict(t) for t in tiles]},
                                              indent=1).encode(),
             "contact_sheet.md": table(tiles, target_bpp, whole).encode()}
    out.mkdir(parents=True, exist_ok=True)
    for file, data in files.items():
        write_bytes_atomic(out / file, data, overwrite=True)
    return [out / f for f in files]


def main(argv: list[str] | None = None) -> int:
    from codec.cli.exitcodes import BAD_INPUT, INTERNAL_ERROR, OUTPUT_ERROR, USAGE_ERROR
    from codec.errors import CodecError, OutputError, UsageError

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kodak", type=Path, help="folder of the Kodak images (kodimNN.png)")
    parser.add_argument("--codecs", default=",".join(DEFAULT_CODECS),
                        help="codecs as codec eval image names them (default: %(default)s)")
    parser.add_argument("--bpp", type=float, default=0.05, help="target bits per pixel (default: %(default)s)")
    parser.add_argument("--crops", default=",".join(DEFAULT_CROPS),
                        help="image names, each NAME or NAME:X,Y (top-left corner) (default: %(default)s)")
    parser.add_argument("--size", type=int, default=192, help="side of the square crops (default: %(default)s)")
    parser.add_argument("--whole", action="store_true",
                        help="code each whole image near --bpp and cut the tile from the decoded image")
    parser.add_argument("--out", type=Path, default=Path("runs/perceptual/contact-sheet"))
    args = parser.parse_args(argv)
    try:
        try:
            crops = crop_specs(args.crops)
        except ValueError:
            raise UsageError(f"--crops {args.crops!r}: expected NAME or NAME:X,Y, comma-separated") from None
        if args.size <= 160:
            raise UsageError("--size must be above 160 pixels (MS-SSIM's five scales need it)")
        files = make(args.kodak, [n for n in args.codecs.split(",") if n], crops, args.size, args.bpp, args.out,
                     args.whole)
    except CodecError as exc:
        print(f"contact_sheet: {exc}", file=sys.stderr)
        return USAGE_ERROR if isinstance(exc, UsageError) else OUTPUT_ERROR if isinstance(exc, OutputError) \
            else BAD_INPUT
    except OSError as exc:
        print(f"contact_sheet: cannot write {args.out}: {exc.strerror}", file=sys.stderr)
        return OUTPUT_ERROR
    except RuntimeError as exc:  # a codec failed: a bug of that codec, reported in one line
        print(f"contact_sheet: {exc}", file=sys.stderr)
        return INTERNAL_ERROR
    for path in files:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
