#!/usr/bin/env bash
# Training bursts of every model family on a lent GPU, within one time budget.
#
#   tools/gpu_train.sh MINUTES [FAMILY ...]
#
# For each family (default: every one in the table below) it trains for its share
# of MINUTES with the family's GPU config, starting from the shipped weights
# (--init-from) or, when $PARTS/<family>/ holds the checkpoint parts of an
# earlier burst, resuming that run exactly. Then it exports the weights file,
# checks that a file coded on the CPU with those weights decodes to the same
# symbols on the GPU, and writes to $OUT/<family>/: the weights file, the
# checkpoint in 15 MB parts (each fits a 16 MiB transfer), train.log and
# exact.txt. Ship new weights only as a new model revision, after `codec eval`
# shows the gain (codec/weights/*.md say how).
#
# Training data: IMAGES, VIDEO and AUDIO (defaults under ../shared/data). A
# device machine receives at most 64 MiB with the working tree: carry subsets.
set -uo pipefail
minutes=${1:?usage: tools/gpu_train.sh MINUTES [FAMILY ...]}
shift
out=${OUT:-gpu-out}
parts=${PARTS:-}
images=${IMAGES:-../shared/data/images/train}
video=${VIDEO:-../shared/data/video}
audio=${AUDIO:-../shared/data/audio}

# family | share of the time | GPU config | shipped weights to start from (empty:
# the family's trainer starts from its config, as the hvae, dcvc and rvq trainers take only a
# training checkpoint) | data. The overfitted family has nothing to train.
table=(
  "hyperprior|2|codec/train/configs/image-gpu.toml|codec/weights/hyperprior-vr-small.r2.safetensors.xz|$images"
  "hvae|2|codec/models/image/hvae/configs/hvae-gpu.toml||$images"
  "dcvc|3|codec/models/video/dcvc/configs/video-gpu.toml||$video"
  "rvq|3|codec/models/audio/rvq/configs/audio-gpu.toml||$audio"
)
declare -A wanted=()
for f in "$@"; do wanted[$f]=1; done
selected=()
total=0
for row in "${table[@]}"; do
  IFS='|' read -r family share _ <<<"$row"
  if [[ $# -eq 0 || -n "${wanted[$family]:-}" ]]; then selected+=("$row"); total=$((total + share)); fi
done
[[ ${#selected[@]} -gt 0 ]] || { echo "no family to train (known: ${table[*]%%|*})" >&2; exit 2; }

python -m pip install -q torch==2.13.0 -e ".[test]" 2>&1 | tail -n 3
status=0
for row in "${selected[@]}"; do
  IFS='|' read -r family share config weights data <<<"$row"
  m=$(python -c "print(round($minutes * $share / $total, 2))")
  work=runs/gpu/$family
  dest=$out/$family
  mkdir -p "$work" "$dest"
  echo "== $family: $m minutes with $config" | tee "$dest/train.log"
  if [[ -n "$parts" && -d "$parts/$family" ]]; then
    cat "$parts/$family"/checkpoint.pt.part-* > "$work/checkpoint.pt"
    start=(--resume)
  elif [[ -n "$weights" ]]; then
    rm -f "$work/checkpoint.pt"
    start=(--init-from "$weights")
  else
    rm -f "$work/checkpoint.pt"
    start=()
  fi
  codec -v train "$family" --config "$config" --workdir "$work" --max-minutes "$m" --data "$data" \
      "${start[@]}" 2>&1 | tee -a "$dest/train.log" || status=1
  split -b 15M -d "$work/checkpoint.pt" "$dest/checkpoint.pt.part-" || status=1
  codec train "$family" --config "$config" --workdir "$work" --export "$dest/$family.safetensors" || status=1
  python - "$family" "$dest/$family.safetensors" >"$dest/exact.txt" 2>&1 <<'PY' || status=1
"""CPU encode -> GPU decode with the new weights: the family's exact output must be identical."""
import sys

import torch

import codec
from codec.container import parse_container
from codec.media import medium_for_type
from codec.zoo import load_weights_file

family, path = sys.argv[1:]
model = load_weights_file(path)
sample = medium_for_type(model.family.media).conformance_sample() if model.family.media.name != "IMAGE" else None
if sample is None:
    from skimage import data as skdata
    sample = skdata.astronaut()[:256, :256]
medium = medium_for_type(model.family.media).name
data = codec.encode(sample, media=medium, weights=model)
f = parse_container(data)
cpu = model.exact_fingerprint(f.header, f.packets)
print(f"{family}: CPU fingerprint {cpu}")
if not torch.cuda.is_available():
    print("no CUDA device: GPU decode not checked")
    sys.exit(0)
gpu = model.exact_fingerprint(f.header, f.packets, device="cuda")
print(f"{family}: GPU fingerprint {gpu}")
codec.decode(data, device="cuda", weights=model)
print("identical" if gpu == cpu else "DIFFERENT: the exact path is not exact on this GPU")
sys.exit(0 if gpu == cpu else 1)
PY
done
exit $status
