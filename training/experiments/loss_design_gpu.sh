#!/usr/bin/env bash
# The loss-design experiment's main grid (issue 18: the seven systems x home13/gm177 x seeds 1 and 2) on one
# CUDA GPU, in under 9 minutes of device time, at the largest common step budget that fits (and no less than
# 5,000 steps: if fewer fit, it runs 5,000 anyway and says that a second call must finish the grid).
#
# Expects, in the repository root on the GPU machine (nothing is fetched or synthesised here: the time is the GPU's):
#   - $PY: a Python with the project's dependencies and a CUDA build of torch (default .venv/bin/python if there,
#     else python3);
#   - the main grid's data at the gpu scale, with its feature caches, under $ROOT/data/gpu/{home13,gm177}/, made
#     beforehand on a CPU machine (all its cores; about 2 x 432 one-minute scenes) with
#         python -m training.experiments.loss_design --grid main --scale gpu --out runs/loss_design_gpu --prepare
#     then on the GPU machine's disk at the same path. That is several GB of FLAC and caches: this workplace's
#     device tool carries at most 64 MiB with a call, and its GPU image has no synthesis stack (soundfile,
#     pyroomacoustics, fluidsynth and its SoundFont, espeak-ng), so the grid needs a GPU machine that holds the
#     data, or one where `pip install -e .` and the --prepare step can run first (untimed).
#
# What it does, against one clock started here ($BUDGET seconds, default 510 of the 540):
#   1. the step budget: $STEPS if set, else the one kept from an earlier call ($ROOT/steps.txt), else a probe
#      (loss_design/probe.py): $JOBS compact SEDDOA trainings side by side for 300 steps, timed, and the budget
#      that lets the most loaded of $JOBS shards end in the time left (about 35-60 s);
#   2. the grid in $JOBS processes side by side (--shard K/$JOBS: chains balanced by compute, an AGG system in
#      its multi-task run's shard), each under `timeout` at the budget's end; the runs' folders stay in $ROOT
#      (a second call on the same machine resumes: finished runs are skipped, killed ones go on from their
#      last epoch);
#   3. the report.
# Writes under $OUT: loss_design.json (the runs), loss_design.md and loss_design.svg (report), probe.json,
# shards.log (each shard's last lines).
#
#   OUT=/tmp/out sh training/experiments/loss_design_gpu.sh          # JOBS=8 BUDGET=510 STEPS= ROOT=runs/loss_design_gpu
#   SCALE=gpu_sedpit OUT=/tmp/out2 sh training/experiments/loss_design_gpu.sh   # then the many-class recipe (beta 0.93,
#       the permutation chosen by SED; docs/RESULTS.md) on the same scenes, in a second call of its own;
#       gpu_sedpit80 is that permutation with beta 0.8, the best of the two at 45 classes on the CPU
# A dry run of the script itself on a CPU (a minute): GRID=toy SCALE=toy DEVICE=cpu FLOOR=6 PROBE_STEPS=6 JOBS=2 BUDGET=150
# ROOT=/tmp/ldg sh training/experiments/loss_design_gpu.sh, after the same --prepare with those grid and scale.
set -eu
T0=$(date +%s)
BUDGET=${BUDGET:-510}
JOBS=${JOBS:-8}
GRID=${GRID:-main}
SCALE=${SCALE:-gpu}
DEVICE=${DEVICE:-cuda}
FLOOR=${FLOOR:-5000}  # the least budget
ROOT=${ROOT:-runs/loss_design_gpu}
OUT=${OUT:-$ROOT/out}
if [ -z "${PY:-}" ]; then
    if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=2 MKL_NUM_THREADS=2  # 16 cores for $JOBS processes and their loaders
mkdir -p "$OUT"
left() { echo $((BUDGET - ($(date +%s) - T0))); }

if [ "$DEVICE" = cuda ]; then
    "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA GPU for torch')"
fi
VOCABS=$("$PY" -c "from training.experiments.loss_design.grid import GRIDS; print(*GRIDS['$GRID'].vocabs)")
# a scale may train on another scale's scenes (gpu_sedpit on gpu's)
DATA=$("$PY" -c "from training.experiments.loss_design.grid import SCALES; print(SCALES['$SCALE'].data_of or '$SCALE')")
for vocab in $VOCABS; do
    for split in train val test; do
        if [ ! -f "$ROOT/data/$DATA/$vocab/$split/manifest.json" ]; then
            echo "missing $ROOT/data/$DATA/$vocab/$split: make it first (see this script's header):" >&2
            echo "  python -m training.experiments.loss_design --grid $GRID --scale $SCALE --out $ROOT --prepare" >&2
            exit 2
        fi
    done
done
GRIDARGS="--grid $GRID --scale $SCALE --out $ROOT --device $DEVICE"

if [ -z "${STEPS:-}" ] && [ -f "$ROOT/steps.txt" ]; then
    STEPS=$(cat "$ROOT/steps.txt")  # an earlier call's budget: the runs it left resume at the same one
fi
if [ -z "${STEPS:-}" ]; then
    # the probe's own time and the report's (about 60 s) come off what the grid may take
    FIT=$("$PY" -m training.experiments.loss_design.probe $GRIDARGS --jobs "$JOBS" --steps "${PROBE_STEPS:-300}" \
          --budget $(( $(left) - 60 )) \
          --json "$OUT/probe.json" 2>>"$OUT/shards.log") || FIT=0
    STEPS=$FIT
    if [ "$STEPS" -lt "$FLOOR" ]; then
        echo "at the measured speed only $FIT steps per run fit; running the floor of $FLOOR steps:" \
             "the grid will not finish in this call (call again on the same machine to resume)" >&2
        STEPS=$FLOOR
    fi
fi
echo "$STEPS" > "$ROOT/steps.txt"
echo "step budget: $STEPS steps per run; $JOBS shards; $(left) s left" >&2

LIMIT=$(( $(left) - 40 ))  # the report's time kept back
if [ "$LIMIT" -lt 60 ]; then LIMIT=60; fi
PIDS=""
k=0
while [ "$k" -lt "$JOBS" ]; do
    timeout --signal=KILL "$LIMIT" "$PY" -m training.experiments.loss_design $GRIDARGS --steps "$STEPS" \
        --json "$ROOT/loss_design.json" --shard "$k/$JOBS" > "$ROOT/shard$k.log" 2>&1 &
    PIDS="$PIDS $!"
    k=$((k + 1))
done
STATUS=0
for pid in $PIDS; do wait "$pid" || STATUS=1; done  # a shard stopped at the deadline resumes on the next call

for k in $(seq 0 $((JOBS - 1))); do
    { echo "== shard $k"; tail -n 15 "$ROOT/shard$k.log"; } >> "$OUT/shards.log"
done
if [ -f "$ROOT/loss_design.json" ]; then
    cp "$ROOT/loss_design.json" "$OUT/loss_design.json"
    "$PY" -m training.experiments.loss_design --report --json "$ROOT/loss_design.json" --scale "$SCALE" \
        --steps "$STEPS" --md "$OUT/loss_design.md" > /dev/null
fi
"$PY" -m training.experiments.loss_design $GRIDARGS --steps "$STEPS" --json "$ROOT/loss_design.json" --list \
    | cut -d' ' -f1 | sort | uniq -c >&2 || true
echo "done in $(( $(date +%s) - T0 )) s (shards: $([ $STATUS = 0 ] && echo all finished || echo some stopped))" >&2
exit $STATUS
