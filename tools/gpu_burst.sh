#!/usr/bin/env bash
# One GPU training burst of the image model, sized for a lent GPU machine with a time budget.
#
#   tools/gpu_burst.sh MINUTES [CHECKPOINT_PARTS_DIR]
#
# First burst (no parts given): starts from the shipped weights (--init-from) with
# codec/train/configs/image-gpu.toml. Later bursts on the same machine: pass the folder
# holding the checkpoint.pt.part-* files a previous burst wrote, and it resumes exactly.
# The checkpoint (weights, EMA, optimizer: about 115 MB) is too big to send to a fresh
# machine; there, commit the exported model file to codec/weights/ and start a new
# schedule from it with the first form.
# Writes to $OUT (default ./gpu-out): the exported model file, the checkpoint split
# into 15 MB parts (so each fits a 16 MiB transfer), the training log, and the result
# of the CUDA exactness test of the exported weights.
#
# DATA (default ../shared/data/images/train) is the folder of training images. A device
# machine receives at most 64 MiB in all with the working tree (the weights alone are 15 MB):
# carry a subset, e.g. the BSDS500 JPEGs (37 MB); the whole set (about 83 MB) does not fit.
set -euo pipefail
minutes=${1:?usage: tools/gpu_burst.sh MINUTES [CHECKPOINT_PARTS_DIR]}
parts=${2:-}
out=${OUT:-gpu-out}
work=runs/gpu
config=codec/train/configs/image-gpu.toml
data=${DATA:-../shared/data/images/train}
[[ -d "$data" ]] || { echo "no training images at $data: set DATA" >&2; exit 2; }
mkdir -p "$out" "$work"
python -m pip install -q torch==2.13.0 -e ".[test]" 2>&1 | tail -n 3

if [[ -n "$parts" ]]; then
    cat "$parts"/checkpoint.pt.part-* > "$work/checkpoint.pt"
    codec -v train image --config "$config" --workdir "$work" --resume --max-minutes "$minutes" --data "$data" 2>&1 | tee "$out/train.log"
else
    rm -f "$work/checkpoint.pt"
    codec -v train image --config "$config" --workdir "$work" --max-minutes "$minutes" --data "$data" \
        --init-from codec/weights/hyperprior-vr-small.safetensors 2>&1 | tee "$out/train.log"
fi
split -b 15M -d "$work/checkpoint.pt" "$out/checkpoint.pt.part-"
codec train image --config "$config" --workdir "$work" --export "$out/hyperprior-vr-small.safetensors"
# The exactness check runs against the exported weights, without touching the package's copy.
cp codec/weights/hyperprior-vr-small.safetensors "$work/shipped.safetensors"
cp "$out/hyperprior-vr-small.safetensors" codec/weights/hyperprior-vr-small.safetensors
python -m pytest -q tests/test_image_codec.py -k "gpu or exact" 2>&1 | tee "$out/exactness.txt" || true
cp "$work/shipped.safetensors" codec/weights/hyperprior-vr-small.safetensors
