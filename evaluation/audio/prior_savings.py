"""How many bits the learned prior saves over fixed-length codes, on the evaluation audio.

    python evaluation/audio/prior_savings.py ../shared/data/audio/speech/pocketsphinx_testdata \
        ../shared/data/audio/music/madmom [--model rvq-audio-small] [--qualities 1,4,6,8]

Each file is coded at each quality; for every packet we count the symbols
(RVQ indices), what fixed-length codes would take (log2 of the codebook size
per index), the prior's ideal code length (the sum of -log2 of each index's
table probability) and what the rANS segment really took: the difference
between the last two is the rANS block's own cost per packet (its final
state and framing), which is fixed, so it weighs most at low rates.
Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import codec
from codec.container.reader import parse_container
from codec.models.audio.rvq.coder import unpack
from codec.eval.media.audio import load
from codec.zoo import model_for
from codec.container.source import MediaType


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+")
    parser.add_argument("--model")
    parser.add_argument("--qualities", default="1,2,4,6,8")
    args = parser.parse_args()
    model = model_for(args.model, MediaType.AUDIO)
    size = model.loaded.config.codebook_size
    fixed_bits = math.log2(size)
    print(f"model {model.entry.full_id}: {size} entries per codebook, fixed-length {fixed_bits:.0f} bits per index\n")
    print("| set | quality | indices | fixed-length bits | prior's ideal bits | ideal saving | rANS bits | saving "
          "| rANS block cost per packet | side bytes + container per packet |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for folder in args.folders:
        files = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in (".wav", ".flac"))
        for q in (int(v) for v in args.qualities.split(",")):
            symbols = coded = packets = overhead = ideal = 0
            for path in files:
                data = codec.encode(load(path), media="audio", model=model.entry.full_id, quality=q)
                f = parse_container(data)
                frames = _frames(f)
                geo = model.geometry(f.header.source.sample_rate, f.header.source.channels, frames)
                for p in f.packets:
                    counts, codes = unpack(model.loaded, geo, p.segments)
                    ideal += sum(float(model.loaded.prior.level_bits(codes[c, :n]).sum())
                                 for c, n in enumerate(counts) if n)
                    symbols += sum(p.segments[0]) * frames
                    coded += 8 * len(p.segments[1])
                    packets += 1
                    overhead += len(p.segments[0])
            fixed = symbols * fixed_bits
            saving = 100 * (1 - coded / fixed) if fixed else float("nan")
            ideal_saving = 100 * (1 - ideal / fixed) if fixed else float("nan")
            block = (coded - ideal) / 8 / max(packets, 1)
            print(f"| {Path(folder).name} | {q} | {symbols} | {fixed:.0f} | {ideal:.0f} | {ideal_saving:.1f} % | "
                  f"{coded} | {saving:.1f} % | {block:.1f} B | {overhead / max(packets, 1):.1f} B + container |")


def _frames(f) -> int:
    from codec.models.audio.rvq.family import decode_params

    return decode_params(f.header.codec_params)["packet_frames"]


if __name__ == "__main__":
    main()
