"""Write a sample photograph shipped by scikit-image, for trying the codec without one's own files.

    python -m codec.samples astronaut.png [--name astronaut|coffee|chelsea|rocket|motorcycle]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image

SAMPLES = {
    "astronaut": lambda d: d.astronaut(),
    "coffee": lambda d: d.coffee(),
    "chelsea": lambda d: d.chelsea(),
    "rocket": lambda d: d.rocket(),
    "motorcycle": lambda d: d.stereo_motorcycle()[0],
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m codec.samples", description=__doc__.splitlines()[0])
    parser.add_argument("output", help="where to write the PNG")
    parser.add_argument("--name", default="astronaut", choices=sorted(SAMPLES))
    args = parser.parse_args(argv)
    try:
        from skimage import data
    except ImportError:
        print("codec.samples: scikit-image is not installed (pip install 'neural-media-codec[samples]')",
              file=sys.stderr)
        return 3
    out = Path(args.output)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(SAMPLES[args.name](data)).save(out)
    except (OSError, ValueError) as exc:
        print(f"codec.samples: cannot write {out}: {exc}", file=sys.stderr)
        return 4
    return 0


if __name__ == "__main__":
    sys.exit(main())
