#!/bin/sh
# Tunes run $R's best checkpoint on the cross-source validation sets (issue 16) and scores it once on each test:
# $R/tuned.pt and $R/test_{real,rec,sf}.json. Sourced by the home13_xsource recipes, which set R. The model averages
# VIEWS rotated views per hop (default 12, every rotation of the tetrahedron: best of 1, 4 and 12 on validation).
seld-eval tune --model "$R/best.pt" --data data/xsource/val_real --data data/xsource/val_sf --out "$R/tuned.pt" \
    --views "${VIEWS:-12}" --overwrite
for t in test_real test_rec test_sf; do
    seld-eval model --model "$R/tuned.pt" --data "data/xsource/$t" --per-class --json "$R/$t.json"
done
