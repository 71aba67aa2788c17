#!/bin/sh
# v3 of the shipped model: v2 trained on for 5 epochs on a fresh draw of training scenes. The validation and
# test splits are home13_real_eval_sets.sh, shared with home13_real.sh, so v2 and v3 are scored on the same clips.
set -eu
W=${WORKERS:-2}
seld-bank --out data/bank
S="seld-synth --duration 60 --workers $W --quiet"
$S --out data/home13_real/train_v3  --classes home13_real --clips 480 --split train --seed 2000
. "$(dirname "$0")/home13_real_eval_sets.sh"
seld-train --config training/configs/home13_seddoa_agg2_v3.toml --resume
seld-eval tune --model runs/home13_real_seddoa_agg2_v3/best.pt --data data/home13_real/val_real \
    --data data/home13_real/val_sf --out runs/home13_real_seddoa_agg2_v3/tuned.pt --overwrite
