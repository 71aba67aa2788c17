"""Onset latency against the tracker's birth rule: what each setting costs and gives, on validation data.

    python bench/bench_onset.py --model assets/models/seddoa_agg2.pt --data data/home13_real/val_real \
        [--data data/home13_real/val_sf] [--json bench/results/bench_onset.json]

For each tracker setting (n-of-m birth, and the confidence at which a detection confirms its track at once)
it scores the model's events after the tracker: onset latency (median, share within 0.5 s), F20 and MAR
(macro), identity switches and the number of confirmed tracks per minute (spurious tracks show up there).
The row "detector" is the events before the tracker. Pick settings on validation data, never on test.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np

from seld_live.atomic import write_json_atomic
from seld_live.detector import Detector
from seld_live.tracking import TrackerConfig
from training.evaluate import decode_all, predict_dataset, score_predictions, score_tracked, tracked_tables

SETTINGS = [
    ("2 of 3, no early confirm", {"confirm_confidence": 1.1}),
    ("2 of 3, confirm at 0.8", {"confirm_confidence": 0.8}),
    ("2 of 3, confirm at 0.7", {"confirm_confidence": 0.7}),
    ("2 of 3, confirm at 0.6", {"confirm_confidence": 0.6}),
    ("2 of 3, confirm at 0.5", {"confirm_confidence": 0.5}),
    ("1 of 1 (every detection)", {"birth_hits": 1, "birth_window": 1}),
]


def _row(m: dict) -> dict:
    lat = m["onset_latency"]
    return {"F20": m["F20"], "F20_micro": m["micro"]["F20"], "LE_CD": m["LE_CD"], "MAR": m["MAR"],
            "onset_median_s": lat["median_s"], "onset_within_0_5s": lat["within_0_5s"],
            "onset_within_1s": lat["within_1s"], "found": lat["found"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", action="append", required=True)
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    det = Detector.load(args.model, device="cpu")
    preds = [p for d in args.data for p in predict_dataset(det, d)]
    events = decode_all(det, preds)
    minutes = sum(p.num_frames for p in preds) / 600.0
    rows = {"detector (no tracker)": {**_row(score_predictions(det, preds, events=events)), "IDSW": None,
                                      "tracks_per_min": None}}
    for name, change in SETTINGS:
        tables = tracked_tables(det, preds, replace(TrackerConfig(), **change), events=events)
        m = score_tracked(det, preds, tables)
        tracks = sum(len({int(t) for t in table[:, 2]}) for table in tables)
        rows[name] = {**_row(m), "IDSW": m["tracking"]["IDSW"], "tracks_per_min": tracks / minutes}
    refs = sum(len({(int(c), int(t)) for c, t in p.reference[:, 1:3]}) for p in preds)
    print(f"{args.model} on {', '.join(args.data)}: {minutes:.0f} min, {refs} reference events "
          f"({refs / minutes:.1f}/min), threshold {det.threshold:g}")
    print(f"{'setting':<28}{'F20':>7}{'MAR':>7}{'onset med':>11}{'<=0.5 s':>9}{'<=1 s':>8}{'IDSW':>6}"
          f"{'tracks/min':>12}")
    for name, r in rows.items():
        med = "inf" if r["onset_median_s"] is None else f"{r['onset_median_s']:.2f} s"
        idsw = "" if r["IDSW"] is None else str(r["IDSW"])
        tpm = "" if r["tracks_per_min"] is None else f"{r['tracks_per_min']:.1f}"
        print(f"{name:<28}{r['F20']:>7.1%}{r['MAR']:>7.1%}{med:>11}{r['onset_within_0_5s']:>9.1%}"
              f"{r['onset_within_1s']:>8.1%}{idsw:>6}{tpm:>12}")
    if args.json:
        out = {"model": args.model, "data": args.data, "minutes": minutes, "reference_events": refs,
               "threshold": det.threshold, "rows": rows,
               "settings": {n: c for n, c in SETTINGS}, "defaults": TrackerConfig().__dict__}
        write_json_atomic(args.json, out, indent=1, default=lambda x: float(x) if np.isscalar(x) else str(x))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
