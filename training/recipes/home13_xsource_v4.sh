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
mkdir -p runs
[ -f runs/seddoa_agg2_v1.pt ] || git show 9626782:assets/models/seddoa_agg2.pt > runs/seddoa_agg2_v1.pt  # v1, the start
seld-train --config training/configs/home13_xsource_v4.toml --resume
R=runs/home13_xsource_v4
. "$(dirname "$0")/home13_xsource_score.sh"
# the demo scene (assets/demo, clip test_00001): real recordings of the cross-source test split whose licences
# can be mixed into one GPL-3+ work (GPL-2+, GPL-3+, permissive, CC-BY; see assets/demo/README.md)
seld-bank --subset-of data/bank --out data/bank_demo \
    --licence '^(GPL-2\+|GPL-3\+|GPL-3\.0-or-later|MIT|BSD-3-clause|CC-BY-[34]\.0|Creative Commons Attribution 3\.0 Unported|Creative Commons Zero 1\.0|CC0(-1\.0)?|public-domain)$'
seld-synth --out data/demo_real_v4 --classes home13_real --bank data/bank_demo --clips 3 --duration 45 \
    --max-overlap 2 --split test --moving 0.6 --seed 401 --sources file --workers 1 --quiet
cp data/demo_real_v4/mic/test_00001.flac assets/demo/demo_scene.flac
cp data/demo_real_v4/metadata/test_00001.csv assets/demo/demo_scene.csv
python bench/demo_sources.py --clip data/demo_real_v4/scenes/test_00001.json --bank data/bank_demo \
    --out assets/demo/demo_scene_sources.tsv
