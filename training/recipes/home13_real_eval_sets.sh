#!/bin/sh
# The validation and test splits of the shipped model's recipes (sourced by home13_real.sh and
# home13_real_v3.sh, so every version of the model is chosen and scored on the same clips). Needs $S.
$S --out data/home13_real/val_real  --classes home13_real --clips 16 --split val  --seed 1001 --sources file
$S --out data/home13_real/val_sf    --classes home13      --clips 8  --split val  --seed 1002
$S --out data/home13_real/test_real --classes home13_real --clips 30 --split test --seed 1100 --sources file
$S --out data/home13_real/test_sf   --classes home13      --clips 20 --split test --seed 1101
