#!/bin/sh
# A model for any microphone array (issue 17):
#
#     training/recipes/array.sh ARRAY.toml          # or a preset name: foa, respeaker_v2, dcase_mic
#
# 1. checks the geometry (seld-train check-array) and stops on a refusal;
# 2. synthesises training, validation and test scenes rendered for that array, at its sample rate;
# 3. trains SEDDOA (or ARCH) + AGG2 on the 13 home classes from training/configs/array_template.toml (written into the
#    run folder as config.toml; resumable: run the recipe again to continue);
# 4. tunes the thresholds on validation (seld-eval tune), scores the test scenes (seld-eval model) and writes
#    RUN/model.pt, which records the array and its test scores: seld-live --model RUN/model.pt --array ARRAY.
#
# Sizes and places, overridable from the environment (defaults: the v4 recipe's scale):
#   CLASSES=home13_real  (real recordings from data/bank, built first with seld-bank; home13: SoundFont renders
#                         and espeak-ng speech only, no bank)
#   CLIPS=400 VAL_CLIPS=8 TEST_CLIPS=20 DURATION=60 (seconds per clip)  EPOCHS=54 BATCH=16 SIZE=compact
#   ARCH=seddoa (or einv2: two backbones joined by cross-stitch units, twice the compute; the loss stays AGG2)
#   SET= (seld-train overrides, space-separated KEY=VALUE: SET="optim.lr=5e-4 augment.mix_prob=0.3")
#   INIT= (a checkpoint to start from)  RATE= (Hz; default the array file's sample_rate, else 24000)
#   DATA=data/array_NAME  OUT=runs/array_NAME  WORKERS=2  SEED=4000  PYTHON=python
#   VIEWS= (rotated views the model averages per hop, tuned with them; default every rotation of the array onto
#           itself, at most 12: the tetrahedron 12, FOA 8, a square 4, an irregular array 1; seld_live.symmetry)
#
# SCENES_ONLY=1 stops after step 2 (all scenes made; e.g. to synthesise while another training holds the cores,
# or on one machine for training on another); run the recipe again without it to train.
#
# MODEL=CHECKPOINT scores an existing, already tuned model instead (steps 1, 2 with the test scenes only,
# and the test scores into OUT/TEST.json): one seed gives the same scenes for every array, so this puts the
# tetrahedron's model beside another array's on the very scenes that array's model was scored on.
set -eu
[ $# -eq 1 ] || { echo "usage: $0 ARRAY.toml (or an array preset name)" >&2; exit 2; }
ARRAY=$1
PY=${PYTHON:-python}
case ${ARCH:-seddoa} in  # the AGG2 loss needs class-wise outputs, which these two networks give
    seddoa|einv2) ;;
    *) echo "$0: ARCH=$ARCH: use seddoa or einv2 (the recipe's AGG2 loss needs one of them)" >&2; exit 2 ;;
esac
seld-train check-array "$ARRAY"  # exits non-zero with the reason for an unusable geometry

NAME=$(basename "$ARRAY" .toml)
CLASSES=${CLASSES:-home13_real}
CLIPS=${CLIPS:-400}
VAL_CLIPS=${VAL_CLIPS:-8}
TEST_CLIPS=${TEST_CLIPS:-20}
DURATION=${DURATION:-60}
EPOCHS=${EPOCHS:-54}
BATCH=${BATCH:-16}
SIZE=${SIZE:-compact}
ARCH=${ARCH:-seddoa}
INIT=${INIT:-}
SEED=${SEED:-4000}
W=${WORKERS:-2}
DATA=${DATA:-data/array_$NAME}
OUT=${OUT:-runs/array_$NAME}
# the array file's own rate (the ReSpeaker's 16 kHz), and no symmetry search over more than 8 mics (8! maps)
RATE=${RATE:-$("$PY" -c "from seld_live.geometry import load_array; print(load_array('$ARRAY').native_rate or 24000)")}
SYMMETRY=$("$PY" -c "from seld_live.geometry import load_array; print(str(load_array('$ARRAY').num_channels <= 8).lower())")
if [ -z "${VIEWS:-}" ]; then
    VIEWS=1
    [ "$SYMMETRY" != true ] || VIEWS=$("$PY" -c "from seld_live.geometry import load_array
from seld_live.symmetry import rotation_count; print(min(12, rotation_count(load_array('$ARRAY'))))")
fi

S="seld-synth --array $ARRAY --sample-rate $RATE --duration $DURATION --workers $W --quiet"
VAL="\"$DATA/val_sf\""
if [ "$CLASSES" = home13_real ]; then
    seld-bank --out data/bank
    [ -n "${MODEL:-}" ] || $S --out "$DATA/val_real"  --classes home13_real --clips "$VAL_CLIPS"  --split val  --seed $((SEED + 201)) \
       --sources file
    $S --out "$DATA/test_real" --classes home13_real --clips "$TEST_CLIPS" --split test --seed $((SEED + 301)) \
       --sources file
    VAL="\"$DATA/val_real\", $VAL"
fi
[ -n "${MODEL:-}" ] || $S --out "$DATA/train" --classes "$CLASSES" --clips "$CLIPS" --split train --seed "$SEED"
[ -n "${MODEL:-}" ] || $S --out "$DATA/val_sf"  --classes home13     --clips "$VAL_CLIPS"  --split val   --seed $((SEED + 202))
$S --out "$DATA/test_sf" --classes home13     --clips "$TEST_CLIPS" --split test  --seed $((SEED + 302))
if [ -n "${SCENES_ONLY:-}" ] && [ -z "${MODEL:-}" ]; then
    echo "scenes for $NAME made in $DATA; run the recipe again without SCENES_ONLY to train"
    exit 0
fi

mkdir -p "$OUT"
TESTS="test_sf"
[ "$CLASSES" != home13_real ] || TESTS="test_real test_sf"
if [ -n "${MODEL:-}" ]; then
    for t in $TESTS; do
        seld-eval model --model "$MODEL" --data "$DATA/$t" --per-class --json "$OUT/$t.json" --quiet
    done
    echo "$MODEL scored on the test scenes of $NAME: $OUT/test_*.json"
    exit 0
fi
# the learning rate falls at 3/4 and 12/13 of the epochs, as v4's 40 and 50 of 54
DECAY="$((EPOCHS * 3 / 4 + 1)), $((EPOCHS * 12 / 13 + 1))"
WARMUP=$(( CLIPS < 200 ? CLIPS : 200 ))
sed -e "s|@OUT@|$OUT|" -e "s|@DATA@|$DATA|" -e "s|@VAL@|$VAL|" -e "s|@SIZE@|$SIZE|" -e "s|@ARCH@|$ARCH|" -e "s|@INIT@|$INIT|" \
    -e "s|@EPOCHS@|$EPOCHS|" -e "s|@BATCH@|$BATCH|" -e "s|@DECAY@|$DECAY|" -e "s|@WARMUP@|$WARMUP|" \
    -e "s|@SYMMETRY@|$SYMMETRY|" "$(dirname "$0")/../configs/array_template.toml" > "$OUT/config.toml"
set --
for kv in ${SET:-}; do set -- "$@" --set "$kv"; done
seld-train --config "$OUT/config.toml" --resume --quiet "$@"

set -- --data "$DATA/val_sf"
[ "$CLASSES" != home13_real ] || set -- --data "$DATA/val_real" "$@"
seld-eval tune --model "$OUT/best.pt" "$@" --views "$VIEWS" --out "$OUT/tuned.pt" --overwrite --quiet
FIRST=${TESTS%% *}
for t in $TESTS; do
    # the model records its first test set's scores (the real recordings where there are some)
    set --
    [ "$t" != "$FIRST" ] || set -- --record-test "$OUT/model.pt" --overwrite
    seld-eval model --model "$OUT/tuned.pt" --data "$DATA/$t" --per-class --json "$OUT/$t.json" --quiet "$@"
done
echo "model for $NAME: $OUT/model.pt (test scores: $OUT/test_*.json); run it with seld-live --model $OUT/model.pt --array $ARRAY, or copy it into assets/models/ to list it with the shipped ones"
