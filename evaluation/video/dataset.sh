#!/bin/sh
# The three evaluation clips of shared/data/README.md, linked into one dataset folder for codec eval video.
#   sh evaluation/video/dataset.sh OUT_DIR [SHARED_DATA_VIDEO]
set -e
out=${1:?usage: dataset.sh OUT_DIR [SHARED_DATA_VIDEO]}
data=$(realpath "${2:-$(dirname "$0")/../../../shared/data/video}")
mkdir -p "$out"
ln -sf "$data/h264/CVPCMNL1_SVA_C.264" "$out/mobile_calendar_cif.264"
ln -sf "$data/h264/test_cif_I_CABAC_slice.264" "$out/foreman_cif.264"
ln -sf "$data/mp4/carphone_pristine.mp4" "$out/carphone_qcif.mp4"
