#!/bin/sh
# The validation and test splits of the cross-source recipes (issue 16): real recordings of sources that
# training never used (whole packages held out where a class has three or more, else whole sources; see
# training/synth/bank.py), the recording-level split beside them (held-out recordings of training sources,
# for comparison), and SoundFont scenes with up to 3 overlapping events. Needs $S; the bank is data/bank.
$S --out data/xsource/val_real      --classes home13_real --clips 16 --split val  --seed 1201 --sources file
$S --out data/xsource/test_real     --classes home13_real --clips 30 --split test --seed 1301 --sources file
$S --out data/xsource/val_rec       --classes home13_real --clips 16 --split val  --seed 1202 --sources file \
   --holdout recording
$S --out data/xsource/test_rec      --classes home13_real --clips 30 --split test --seed 1302 --sources file \
   --holdout recording
$S --out data/xsource/val_sf        --classes home13      --clips 8  --split val  --seed 1002
$S --out data/xsource/test_sf       --classes home13      --clips 20 --split test --seed 1101
