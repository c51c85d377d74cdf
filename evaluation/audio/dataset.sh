#!/bin/sh
# The audio scoreboard's items (evaluation sets of shared/data/README.md), linked into two dataset folders
# for codec eval audio: OUT_DIR/speech (three read utterances, 3.0-3.5 s, 16 kHz mono) and OUT_DIR/music
# (the SiSEC 2011 stereo mix and a mono guitar, 44.1 kHz; the scoreboard codes their first 3 s).
#   sh evaluation/audio/dataset.sh OUT_DIR [SHARED_DATA_AUDIO]
set -e
out=${1:?usage: dataset.sh OUT_DIR [SHARED_DATA_AUDIO]}
data=$(realpath "${2:-$(dirname "$0")/../../../shared/data/audio}")
mkdir -p "$out/speech" "$out/music"
for f in sense_and_sensibility_01_austen_64kb-0880.wav sense_and_sensibility_01_austen_64kb-0930.wav 005.wav; do
    ln -sf "$data/speech/pocketsphinx_testdata/$f" "$out/speech/$f"
done
ln -sf "$data/music/sisec2011_mixes/dev1__bearlin-roads__snip_85_99__mix.wav" "$out/music/"
ln -sf "$data/music/pyroomacoustics/guitar_44k.wav" "$out/music/"
