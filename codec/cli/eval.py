"""``codec eval image``: rate-distortion curves and BD-rates of codecs over a dataset.

Media are subcommands (``image`` now; ``video`` and ``audio`` later), all
driving the same engine in ``codec.eval``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from codec.cli import exitcodes
from codec.cli.options import add_declared, add_global_options, declared_values
from codec.errors import UsageError

NAME = "eval"
HELP = "measure rate-distortion curves and BD-rates of codecs over a dataset"


def _codec_list(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError("empty codec list")
    return names


_DESCRIPTIONS = {
    "image": "still images: RGB PSNR, MS-SSIM and FLIP against bits per pixel",
    "video": "video: PSNR-YUV, PSNR-Y, PSNR-RGB and MS-SSIM-Y against kbit/s",
    "audio": "audio: perceptual and signal metrics against kbit/s",
}


def _rate_points(text: str) -> tuple[str, tuple[float, ...]]:
    """``NAME=P,P,...`` -> (name, points); integral points stay int (they are quality/QP settings)."""
    name, _, values = text.partition("=")
    try:
        points = tuple(int(v) if float(v).is_integer() else float(v) for v in values.split(",") if v.strip())
    except ValueError:
        points = ()
    if not name.strip() or not points:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=P,P,... (e.g. avif=0,10,20)")
    return name.strip(), points


def _add_medium(sub, medium) -> None:
    from codec.eval.codecs import all_codecs

    name = medium.name
    p = sub.add_parser(name, help=_DESCRIPTIONS.get(name, name),
                       description="Encode every item of a dataset with each codec at each of its rate points, "
                                   "decode and measure; write JSON, CSV, a Markdown BD table and PNG plots "
                                   "into --out.")
    p.add_argument("--dataset", required=True, metavar="DIR",
                   help=f"folder of {name} files ({', '.join(sorted(medium.suffixes))})")
    p.add_argument("--codecs", type=_codec_list, metavar="A,B,...",
                   help=f"codecs to run (default: every {name} codec that runs by default): "
                        f"{', '.join(n for n, c in all_codecs().items() if c.medium == name)}")
    p.add_argument("--out", type=Path, metavar="DIR",
                   help="results folder (default: eval-results/<dataset name>, never the committed scoreboard "
                        "in evaluation/); results there are replaced, measurements cached in DIR/.cache are reused")
    p.add_argument("-j", "--jobs", type=int, default=1, metavar="N", help="encode N tasks in parallel")
    p.add_argument("--published", action="append", type=Path, default=[], metavar="FILE",
                   help="a published curve (CompressAI JSON format) to draw and compare; repeatable")
    p.add_argument("--anchor", action="append", default=[], metavar="NAME",
                   help="BD anchor: a codec name or a published file's stem (e.g. vtm); repeatable "
                        "(default: x265-444 when it runs, else the first baseline)")
    p.add_argument("--vvc-encoder", metavar="PATH", help="vvencapp or VTM EncoderApp to use for 'vvc' "
                                                          "(default: found on PATH)")
    p.add_argument("--vtm-config", metavar="FILE", help="VTM configuration file (e.g. encoder_intra_vtm.cfg)")
    p.add_argument("--rate-points", action="append", type=_rate_points, default=[], metavar="NAME=P,P,...",
                   help="the rate points of codec NAME instead of its own (e.g. avif=0,10,20 or "
                        "x265-444=51,49,47); repeatable")
    p.add_argument("--no-cache", action="store_true", help="measure everything again")
    p.add_argument("--reuse-partial", action="store_true",
                   help="reuse cached measurements made before a metric was added (that metric stays "
                        "unmeasured for them) instead of measuring them again")
    p.add_argument("--device", default="cpu", help="where our models run: cpu (default) or cuda")
    add_declared(p, medium.options)
    p.set_defaults(medium=name)


def _require_evaluator() -> None:
    """The evaluator needs the [eval] extra (scipy, PyAV, matplotlib, tqdm); say so rather than fail inside."""
    try:
        import codec.eval.codecs  # noqa: F401
        import codec.eval.media  # noqa: F401
        import codec.eval.run  # noqa: F401
    except ModuleNotFoundError as exc:
        raise UsageError(f"codec eval needs the evaluation extra ({exc.name} is not installed): "
                         f"python -m pip install 'neural-media-codec[eval]'") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    _require_evaluator()
    from codec.eval.media import MEDIA

    sub = parser.add_subparsers(dest="medium", metavar="MEDIUM", parser_class=type(parser), required=True)
    for medium in MEDIA.values():
        _add_medium(sub, medium)
    for p in sub.choices.values():
        add_global_options(p, suppress=True)


def _recorded_command(args: argparse.Namespace) -> str:
    """The command line with local paths reduced to names, fit to be committed."""
    words = ["codec", "eval", args.medium, "--dataset", f"<{Path(args.dataset).resolve().name}>"]
    if args.codecs:
        words += ["--codecs", ",".join(args.codecs)]
    words += ["-j", str(args.jobs)]
    for path in args.published:
        words += ["--published", f"<anchors>/{path.name}"]
    for anchor in args.anchor:
        words += ["--anchor", anchor]
    for name, points in args.rate_points:
        words += ["--rate-points", f"{name}={','.join(map(str, points))}"]
    if args.vvc_encoder:
        words += ["--vvc-encoder", Path(args.vvc_encoder).name]
    if args.reuse_partial:
        words.append("--reuse-partial")
    from codec.eval.media import MEDIA

    for option in MEDIA[args.medium].options:
        value = getattr(args, option.dest, None)
        if value is not None:
            words += [option.flags[0], str(value)]
    return shlex.join(words)


def run(args: argparse.Namespace) -> int:
    from codec.eval.codecs import select
    from codec.eval.run import Request, run_evaluation  # numpy/scipy/Pillow only when evaluating

    if args.jobs < 1:
        raise UsageError("-j needs a positive number")
    from codec.eval.media import MEDIA

    options = declared_values(args, MEDIA[args.medium].options)
    tools = {"vvc_encoder": args.vvc_encoder, "vtm_config": args.vtm_config, "device": args.device, **options}
    codecs = select(args.codecs, medium=args.medium, **tools)
    by_name = {c.name: c for c in codecs}
    for name, points in args.rate_points:
        if name not in by_name:
            raise UsageError(f"--rate-points {name}: not among the codecs of this run ({', '.join(by_name)})")
        by_name[name].rate_points = points  # on this run's codec object only
    in_run = {c.name for c in codecs} | {p.stem for p in args.published}
    missing = [a for a in args.anchor if a not in in_run]
    if missing:
        raise UsageError(f"BD anchor {missing[0]!r} is not in this run: add it to --codecs (or --published), "
                         f"or choose one of: {', '.join(sorted(in_run))}")
    out = args.out or Path("eval-results") / Path(args.dataset).resolve().name
    request = Request(medium=args.medium, dataset=Path(args.dataset), codecs=codecs, out=out, jobs=args.jobs,
                      published=tuple(args.published), anchors=tuple(args.anchor),
                      use_cache=not args.no_cache, reuse_partial=args.reuse_partial, progress=not args.quiet and sys.stderr.isatty(),
                      command=_recorded_command(args),
                      options=options)
    results, _ = run_evaluation(request)
    if not args.quiet:
        if any(results["bd"].values()):
            print((out / "bd.md").read_text())
        else:  # one curve: a BD table would have no rows
            print(f"{', '.join(results['average']) or 'nothing'} measured, no other curve in this run to compare "
                  f"with (add codecs with --codecs, or --published curves); results in {out}")
    return exitcodes.OK
