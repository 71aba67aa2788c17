"""Decoding thresholds tuned on validation data: one threshold, an offset per class, then the ON/OFF pair.

The global threshold is the grid value with the best validation SELD score. Per-class offsets then move
each class's own threshold, one class after the other, to the grid value that lowers the validation SELD
score the most (the score itself, error rate included: tuning each class on its own recall and F-score
alone raised the error rate more than it gained); a class without validation events keeps offset 0.

Last, the ON/OFF pair of the decoder's hysteresis: every ON threshold moved down together by a shift (the
offsets kept) and OFF = ON - a gap, over a grid. Of the pairs whose validation SELD score is within
``LATENCY_SELD_TOLERANCE`` of the best pair's, the one with the earliest onsets wins (the share of event
onsets found within t, averaged over t = 0.1, 0.2, ... 1 s; ties: the smallest gap, then the smallest
shift) if it is earlier than the best pair by ``ONSET_MIN_GAIN`` at least, else the best pair stays:
latency is bought only where detection barely suffers, and not for an event or two.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from seld_live.decode import OFF_FLOOR
from seld_live.detector import Detector
from seld_live.events import events_to_table
from training.evaluate import decode_all, score_predictions
from training.metrics import SELD_KEYS, onset_latency

THRESHOLD_GRID = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7)
OFFSET_GRID = (-0.2, -0.15, -0.1, -0.05, 0.0, 0.05, 0.1, 0.15, 0.2)
ON_SHIFT_GRID = (0.0, -0.05, -0.1, -0.15)  # added to the threshold: the ON thresholds, lower than tuned alone
GAP_GRID = (0.0, 0.05, 0.1, 0.15, 0.2)  # ON - OFF
LATENCY_SELD_TOLERANCE = 0.005  # SELD score a pair may lose against the best pair for earlier onsets
ONSET_MIN_GAIN = 0.01  # onset share (as above) a pair must gain over the best-SELD pair to replace it
ONSET_TIMES = tuple(round(0.1 * k, 1) for k in range(1, 11))  # seconds


def tune_threshold(det: Detector, preds: list, grid=THRESHOLD_GRID, extras: bool = True) -> tuple[float, dict]:
    """The threshold on the grid with the best validation SELD score (the detector keeps it)."""
    best = None
    for thr in grid:
        det.threshold = thr
        m = score_predictions(det, preds, extras=extras)
        if best is None or m["SELD"] < best[1]["SELD"]:
            best = (thr, m)
    det.threshold = best[0]
    return best


def tune_class_offsets(det: Detector, preds: list, grid=OFFSET_GRID) -> tuple[tuple[float, ...], dict]:
    """Per-class offsets to the detector's threshold (it keeps them) and the validation metrics with them:
    one pass over the classes, each taking the offset on the grid that gives the lowest validation SELD
    score with the others as they stand (ties keep the offset nearest to zero)."""
    base = det.decode_config
    num_classes = len(det.classes)
    present = [any(len(p.reference) and np.any(p.reference[:, 1] == c) for p in preds) for c in range(num_classes)]
    offsets = [0.0] * num_classes

    def seld(offs: list[float]) -> float:
        det.decode_config = replace(base, class_offsets=tuple(offs))
        return float(score_predictions(det, preds, extras=False)["SELD"])

    best = seld(offsets)
    order = sorted(grid, key=abs)
    for c in range(num_classes):
        if not present[c]:
            continue
        for off in order:
            if off == offsets[c] or base.threshold + off <= OFF_FLOOR:
                continue
            trial = [*offsets[:c], off, *offsets[c + 1:]]
            score = seld(trial)
            if score < best - 1e-9:
                best, offsets = score, trial
    det.decode_config = replace(base, class_offsets=tuple(offsets))
    return tuple(offsets), score_predictions(det, preds)


def _seld_and_onsets(det: Detector, preds: list) -> tuple[float, float]:
    """Validation SELD score and how early onsets are found (the share found within t, averaged over
    ONSET_TIMES: 1 when every onset is found in its first frame; a frame earlier counts, not only a frame
    across 0.5 s), with the detector's decoding."""
    events = decode_all(det, preds)
    seld = float(score_predictions(det, preds, extras=False, events=events)["SELD"])
    refs, tables = [p.reference for p in preds], [events_to_table(e) for e in events]
    found = [onset_latency(refs, tables, len(det.classes), max_latency_s=t)["found"] for t in ONSET_TIMES]
    return seld, float(np.mean(found))


def tune_hysteresis(det: Detector, preds: list, shifts=ON_SHIFT_GRID, gaps=GAP_GRID,
                    tolerance: float = LATENCY_SELD_TOLERANCE,
                    min_gain: float = ONSET_MIN_GAIN) -> tuple[tuple[float, float], dict]:
    """The ON shift and ON - OFF gap (see the module docstring; the detector keeps them, its offsets too)
    and the validation metrics with them. ON thresholds stay at or above the threshold grid's lowest value
    and above OFF_FLOOR for every class."""
    base = det.decode_config
    lowest = min(base.thresholds(len(det.classes)))
    trials = {}
    for gap in sorted(gaps):
        for shift in sorted(shifts, key=abs):
            if base.threshold + shift < THRESHOLD_GRID[0] - 1e-9 or lowest + shift <= OFF_FLOOR:
                continue
            det.decode_config = replace(base, threshold=base.threshold + shift, hysteresis=gap)
            trials[(shift, gap)] = _seld_and_onsets(det, preds)
    # dicts keep insertion order and min()/max() keep the first extremum: ties go to the smallest gap, then shift
    best = min(trials, key=lambda k: trials[k][0])
    early = max((k for k, (seld, _) in trials.items() if seld <= trials[best][0] + tolerance),
                key=lambda k: trials[k][1])
    shift, gap = early if trials[early][1] >= trials[best][1] + min_gain else best
    det.decode_config = replace(base, threshold=base.threshold + shift, hysteresis=gap)
    return (shift, gap), score_predictions(det, preds)


def tune_decoding(det: Detector, preds: list, class_offsets: bool = True,
                  hysteresis: bool = True) -> tuple[dict, dict]:
    """The detector's decoding tuned afresh (any offsets and hysteresis it had dropped first): the threshold,
    then the per-class offsets unless ``class_offsets`` is False, then the ON/OFF pair unless ``hysteresis``
    is False. Returns the training-summary fields that record it and the validation metrics with it."""
    det.decode_config = type(det.decode_config)(det.threshold, det.decode_config.unify_angle, views=det.views)
    thr, m = tune_threshold(det, preds)
    offsets = (0.0,) * len(det.classes)
    if class_offsets:
        offsets, m = tune_class_offsets(det, preds)
    shift, gap = 0.0, 0.0
    if hysteresis:
        (shift, gap), m = tune_hysteresis(det, preds)
    lat = m.get("onset_latency", {})
    record = {"threshold": det.threshold, "views": det.views,
              "class_offsets": dict(zip(det.classes, offsets, strict=True)),
              "hysteresis": {"on_shift": shift, "gap": gap, "threshold_alone": thr},
              "val_tuned": {**{k: float(m[k]) for k in SELD_KEYS},
                            **{f"onset_{k}": lat[k] for k in ("median_found_s", "within_0_5s", "found") if k in lat}}}
    return record, m
