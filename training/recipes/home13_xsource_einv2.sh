#!/bin/sh
# EINV2-AGG2 for the tetrahedron (issue 16): v6's training scenes and recipe on EINV2, both branches started from
# v6 as shipped; selected and tuned on the cross-source validation sets, scored once on each test. Resumable: run
# again to continue. Needs v6's training scenes (training/recipes/home13_xsource_v6.sh makes them).
set -eu
mkdir -p runs
[ -e runs/home13_xsource_einv2_init.pt ] || git show 03bb3a4:assets/models/seddoa_agg2.pt > runs/home13_xsource_einv2_init.pt
seld-train --config training/configs/home13_xsource_einv2.toml --resume
R=runs/home13_xsource_einv2
. "$(dirname "$0")/home13_xsource_score.sh"
