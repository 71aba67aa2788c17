#!/bin/sh
# v6 of the tetrahedron model (issue 16): v4's recipe continued from the control run v5's best epoch on three
# draws of training scenes, the third from the bank with the widened SoundFont classes (bank_recipe.toml);
# selected and tuned on the cross-source validation sets, scored on the cross-source, recording-level and
# SoundFont tests. Resumable: run again to continue. Needs v4's and v5's training scenes (their recipes:
# home13_xsource_v4.sh and `EPOCHS=40 OUT=runs/array_dcase_mic_v5 INIT=assets/models/seddoa_agg2.pt
# training/recipes/array.sh dcase_mic`, which also trains v5). WORKERS synthesis processes (default 2).
set -eu
W=${WORKERS:-2}
seld-bank --out data/bank
seld-synth --out data/xsource/train_v6 --classes home13_real --clips 400 --duration 60 --split train --seed 5000 \
    --workers "$W" --quiet
mkdir -p runs
# the start: v5's best epoch, or where runs/ is gone, v5 as shipped in 363871a (the same weights, tuned thresholds)
if [ -f runs/array_dcase_mic_v5/best.pt ]; then
    ln -sf array_dcase_mic_v5/best.pt runs/home13_xsource_v6_init.pt
elif [ ! -e runs/home13_xsource_v6_init.pt ]; then
    git show 363871a:assets/models/seddoa_agg2.pt > runs/home13_xsource_v6_init.pt
fi
seld-train --config training/configs/home13_xsource_v6.toml --resume
R=runs/home13_xsource_v6
. "$(dirname "$0")/home13_xsource_score.sh"
