"""Onset latency against the decoder's ON/OFF thresholds and the tracker's birth rule, on validation data.

    python bench/bench_onset.py --model assets/models/seddoa_agg2.pt --data data/home13_real/val_real \
        [--data data/home13_real/val_sf] [--on-shift -0.05] [--gap 0.1] [--decoder-grid] \
        [--json bench/results/bench_onset.json]

For each tracker setting (n-of-m birth, and the confidence at which a detection confirms its track at once)
it scores the model's events after the tracker: onset latency (median of all events, median of the found
ones, share within 0.5 s, share found), F20 and MAR (macro), identity switches, the number of confirmed
tracks per minute and of false tracks per minute (confirmed tracks that never lie within 20 degrees of a
reference event of their class in any of their frames: what a user sees as a false alarm). The row
"detector" is the events before the tracker. ``--on-shift`` and ``--gap`` decode with the decoder's
hysteresis (every ON threshold moved by the shift, OFF = ON - gap); ``--decoder-grid`` adds a table over
ON shift x gap, before and after the default tracker. Pick settings on validation data, never on test.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np

from seld_live.atomic import write_json_atomic
from seld_live.coords import angular_distance_deg, sph_to_cart
from seld_live.detector import Detector
from seld_live.tracking import TrackerConfig
from training.evaluate import decode_all, predict_dataset, score_predictions, score_tracked, tracked_tables
from training.metrics import DOA_THRESHOLD

SETTINGS = [
    ("2 of 3, no early confirm", {"confirm_confidence": 1.1}),
    ("2 of 3, confirm at 0.8", {"confirm_confidence": 0.8}),
    ("2 of 3, confirm at 0.7", {"confirm_confidence": 0.7}),
    ("2 of 3, confirm at 0.6", {"confirm_confidence": 0.6}),
    ("2 of 3, confirm at 0.5", {"confirm_confidence": 0.5}),
    ("2 of 3, confirm at 0.45", {"confirm_confidence": 0.45}),
    ("2 of 3, confirm at 0.4", {"confirm_confidence": 0.4}),
    ("1 of 1 (every detection)", {"birth_hits": 1, "birth_window": 1}),
]
ON_SHIFTS = (0.0, -0.05, -0.1, -0.15)
GAPS = (0.0, 0.05, 0.1, 0.2)


def _row(m: dict) -> dict:
    lat = m["onset_latency"]
    return {"F20": m["F20"], "F20_micro": m["micro"]["F20"], "LE_CD": m["LE_CD"], "MAR": m["MAR"],
            "onset_median_s": lat["median_s"], "onset_median_found_s": lat["median_found_s"],
            "onset_within_0_5s": lat["within_0_5s"], "onset_within_1s": lat["within_1s"], "found": lat["found"]}


def false_tracks(reference: np.ndarray, table: np.ndarray) -> tuple[int, int]:
    """(confirmed tracks, those that never lie within DOA_THRESHOLD of a reference event of their class in
    one of their frames) of one clip's tracked event table."""
    ref = {}
    for r in reference:
        ref.setdefault((int(r[0]), int(r[1])), []).append(sph_to_cart(r[3], r[4]))
    hit: dict[int, bool] = {}
    for f, c, track, az, el in table[:, :5]:
        near = ref.get((int(f), int(c)), [])
        ok = bool(near) and bool(np.any(angular_distance_deg(np.asarray(near), sph_to_cart(az, el)) <= DOA_THRESHOLD))
        hit[int(track)] = hit.get(int(track), False) or ok
    return len(hit), sum(not h for h in hit.values())


def _tracked_row(det: Detector, preds: list, events: list, config: TrackerConfig, minutes: float) -> dict:
    tables = tracked_tables(det, preds, config, events=events)
    m = score_tracked(det, preds, tables)
    counts = np.array([false_tracks(p.reference, t) for p, t in zip(preds, tables, strict=True)]).sum(axis=0)
    return {**_row(m), "IDSW": m["tracking"]["IDSW"], "tracks_per_min": counts[0] / minutes,
            "false_tracks_per_min": counts[1] / minutes}


def _decoder_grid(det: Detector, preds: list, minutes: float) -> dict:
    """Detector and default-tracker rows over ON shift x gap (the checkpoint's offsets kept)."""
    base, rows = det.decode_config, {}
    for gap in GAPS:
        for shift in ON_SHIFTS:
            det.decode_config = replace(base, threshold=base.threshold + shift, hysteresis=gap)
            events = decode_all(det, preds)
            rows[f"ON {shift:+.2f}, gap {gap:.2f}"] = {
                "detector": _row(score_predictions(det, preds, events=events)),
                "tracked": _tracked_row(det, preds, events, TrackerConfig(), minutes)}
    det.decode_config = base
    return rows


def _pct(x) -> str:
    return "-" if x is None else f"{x:.1%}"


def _sec(x) -> str:
    return "inf" if x is None else f"{x:.2f} s"


def _print_rows(rows: dict) -> None:
    print(f"{'setting':<28}{'F20':>7}{'MAR':>7}{'onset med':>11}{'found med':>11}{'<=0.5 s':>9}{'found':>8}"
          f"{'IDSW':>6}{'tracks/min':>12}{'false/min':>11}")
    for name, r in rows.items():
        extra = ("", "", "") if r.get("IDSW") is None else (
            str(r["IDSW"]), f"{r['tracks_per_min']:.1f}", f"{r['false_tracks_per_min']:.1f}")
        print(f"{name:<28}{_pct(r['F20']):>7}{_pct(r['MAR']):>7}{_sec(r['onset_median_s']):>11}"
              f"{_sec(r['onset_median_found_s']):>11}{_pct(r['onset_within_0_5s']):>9}{_pct(r['found']):>8}"
              f"{extra[0]:>6}{extra[1]:>12}{extra[2]:>11}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", action="append", required=True)
    ap.add_argument("--on-shift", type=float, default=0.0, help="added to the threshold (the ON thresholds)")
    ap.add_argument("--gap", type=float, default=None, help="decoder hysteresis: OFF = ON - gap")
    ap.add_argument("--decoder-grid", action="store_true", help="also a table over ON shift x gap")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    det = Detector.load(args.model, device="cpu")
    cfg = det.decode_config
    det.decode_config = replace(cfg, threshold=cfg.threshold + args.on_shift,
                                hysteresis=cfg.hysteresis if args.gap is None else args.gap)
    preds = [p for d in args.data for p in predict_dataset(det, d)]
    events = decode_all(det, preds)
    minutes = sum(p.num_frames for p in preds) / 600.0
    rows = {"detector (no tracker)": {**_row(score_predictions(det, preds, events=events)), "IDSW": None}}
    for name, change in SETTINGS:
        rows[name] = _tracked_row(det, preds, events, replace(TrackerConfig(), **change), minutes)
    refs = sum(len({(int(c), int(t)) for c, t in p.reference[:, 1:3]}) for p in preds)
    print(f"{args.model} on {', '.join(args.data)}: {minutes:.0f} min, {refs} reference events "
          f"({refs / minutes:.1f}/min), threshold {det.threshold:g}, gap {det.decode_config.hysteresis:g}")
    _print_rows(rows)
    grid = {}
    if args.decoder_grid:
        grid = _decoder_grid(det, preds, minutes)
        for part in ("detector", "tracked"):
            print(f"\ndecoder ON shift x gap ({part}; shifts from threshold {det.threshold:g})")
            _print_rows({k: v[part] for k, v in grid.items()})
    if args.json:
        out = {"model": args.model, "data": args.data, "minutes": minutes, "reference_events": refs,
               "threshold": det.threshold, "decode": det.decode_config.to_dict(), "rows": rows,
               "decoder_grid": grid, "settings": {n: c for n, c in SETTINGS}, "defaults": TrackerConfig().__dict__}
        write_json_atomic(args.json, out, indent=1, default=lambda x: float(x) if np.isscalar(x) else str(x))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
