"""Decoding thresholds tuned on validation data: one threshold, then an offset per class.

The global threshold is the grid value with the best validation SELD score. Per-class offsets then move
each class's own threshold to the value on a grid that gives that class its best score mean(1 - F20,
LE_CD / 180, 1 - LR_CD) (the SELD score without the error rate, which the metric computes over all classes
together): macro metrics average per class, and class-wise outputs decode each class on its own, so the
classes are tuned independently from one decoding per grid value. A class without validation events keeps
offset 0.
"""

from __future__ import annotations

import numpy as np

from seld_live.detector import Detector
from seld_live.events import events_to_table
from training.evaluate import score_predictions
from training.metrics import seld_metrics

THRESHOLD_GRID = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7)
OFFSET_GRID = (-0.2, -0.15, -0.1, -0.05, 0.0, 0.05, 0.1, 0.15, 0.2)


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
    """Per-class offsets to the detector's threshold (it keeps them) and the validation metrics with them."""
    base = det.decode_config
    num_classes = len(det.classes)
    scores = []
    for off in grid:
        lowest = base.threshold + off
        if lowest <= 0.02:
            scores.append(np.full(num_classes, np.inf))
            continue
        det.decode_config = type(base)(base.threshold, base.unify_angle, (off,) * num_classes)
        tables = [events_to_table(det.decode(p.outputs)) for p in preds]
        m = seld_metrics([p.reference for p in preds], tables, num_classes, num_frames=[p.num_frames for p in preds])
        pc = {k: np.asarray(m["per_class"][k], dtype=np.float64) for k in ("F20", "LE_CD", "LR_CD")}
        score = (1.0 - pc["F20"] + pc["LE_CD"] / 180.0 + 1.0 - pc["LR_CD"]) / 3.0
        scores.append(np.where(np.isfinite(score), score, np.inf))
    scores = np.stack(scores)  # [offsets, classes]
    present = np.array([any(len(p.reference) and np.any(p.reference[:, 1] == c) for p in preds)
                        for c in range(num_classes)])
    zero = grid.index(0.0)
    # ties keep the offset nearest to zero
    order = np.argsort(np.abs(np.asarray(grid)), kind="stable")
    pick = order[np.argmin(scores[order], axis=0)]
    pick = np.where(present, pick, zero)
    offsets = tuple(float(grid[i]) for i in pick)
    det.decode_config = type(base)(base.threshold, base.unify_angle, offsets)
    return offsets, score_predictions(det, preds)
