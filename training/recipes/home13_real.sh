#!/bin/sh
# The shipped model's data and training, every command in order (2 cores, measured: ~20 min of synthesis,
# ~15 min of feature caching, ~80 min of training). Datasets land under data/ and the run under runs/.
set -eu
W=${WORKERS:-2}
seld-bank --out data/bank
S="seld-synth --duration 60 --workers $W --quiet"
$S --out data/home13_real/train    --classes home13_real --clips 480 --split train --seed 1000
. "$(dirname "$0")/home13_real_eval_sets.sh"
# the first shipped model's test split (old scene settings), for before/after
$S --out data/home13/test --classes home13 --clips 20 --max-overlap 2 --split test --seed 300 \
   --config training/configs/scenes_v1.toml
mkdir -p runs/init
git show 9626782:assets/models/seddoa_agg2.pt > runs/init/seddoa_agg2_v1.pt
seld-train --config training/configs/home13_seddoa_agg2.toml --resume
# the threshold and per-class offsets on both validation sets (the shipped checkpoint is tuned.pt)
seld-eval tune --model runs/home13_real_seddoa_agg2/best.pt --data data/home13_real/val_real \
    --data data/home13_real/val_sf --out runs/home13_real_seddoa_agg2/tuned.pt --overwrite
# the demo scene (assets/demo, clip test_00001): real recordings of the test split whose licences allow shipping it
seld-bank --subset-of data/bank --out data/bank_demo \
    --licence '^(GPL-2\+?|GPL-2, GPL-2\+|MIT|CC-BY-3\.0|Creative Commons Attribution 3\.0 Unported|Creative Commons Zero 1\.0|CC0(-1\.0)?|public-domain)$'
seld-synth --out data/demo_real --classes home13_real --bank data/bank_demo --clips 3 --duration 45 \
    --max-overlap 2 --split test --moving 0.6 --seed 401 --sources file --workers 1 --quiet
