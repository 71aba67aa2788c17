#!/bin/sh
# v4 of the shipped model (issue 16): the bank with every allowed package and SoundFont, training scenes from
# its cross-source training split, the cross-source and recording-level eval sets, training (resumable: run
# again to continue), tuning on validation, and the test scores. WORKERS synthesis processes (default 2).
set -eu
W=${WORKERS:-2}
seld-bank --out data/bank
python bench/sources_table.py --bank data/bank --json docs/results/sources.json
S="seld-synth --duration 60 --workers $W --quiet"
$S --out data/xsource/train --classes home13_real --clips 400 --split train --seed 3000
. "$(dirname "$0")/home13_xsource_eval_sets.sh"
seld-train --config training/configs/home13_xsource_v4.toml --resume
R=runs/home13_xsource_v4
seld-eval tune --model $R/best.pt --data data/xsource/val_real --data data/xsource/val_sf --out $R/tuned.pt --overwrite
for t in test_real test_rec test_sf; do
    seld-eval model --model $R/tuned.pt --data data/xsource/$t --per-class --json $R/$t.json
done
