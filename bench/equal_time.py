"""Which training run is better at equal wall time? Validation against cumulative training time, from ``log.csv``.

Each run's ``log.csv`` (written by ``seld-train``, one row per epoch) records the epoch's training seconds
(``train_s``, validation excluded) and its validation scores at the threshold tuned that epoch. At each time
budget this prints, per run, what a run stopped there would ship: its best epoch so far by validation SELD (the
selection ``seld-train`` makes), with that epoch's F20, LE_CD, MAR and SELD. Runs on the same machine, one at a
time, compare; the issue's question (``small`` against ``compact``) is exactly this table. ``--axis epochs``
puts the budgets in epochs instead, for runs of one network and schedule that differ in one setting (an
augmentation), where the minutes would only measure how busy the machine was.

    python bench/equal_time.py compact=runs/size_compact/log.csv small=runs/size_small/log.csv --every 30
    python bench/equal_time.py base=BASE/log.csv freqmix=RUN/log.csv --axis epochs --every 4

Writes bench/results/equal_time.json.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from datetime import date
from pathlib import Path

from seld_live.atomic import write_json_atomic

OUT = Path(__file__).resolve().parent / "results" / "equal_time.json"
KEYS = ("F20", "LE_CD", "MAR", "SELD")
AXIS_KEY = {"minutes": "minutes", "epochs": "epoch"}  # --axis: the log row field a budget is counted in


def read_log(path: str | Path) -> list[dict]:
    """The epochs of a ``log.csv`` with validation scores, each with its cumulative training minutes."""
    rows, minutes = [], 0.0
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            if not r.get("train_s"):  # epoch 0: validation of the start, no training
                continue
            minutes += float(r["train_s"]) / 60
            if r.get("val_SELD"):
                rows.append({"epoch": int(r["epoch"]), "minutes": minutes,
                             **{k: float(r[f"val_{k}"]) for k in KEYS}})
    return rows


def best_by(rows: list[dict], budget: float, axis: str = "minutes") -> dict | None:
    """The epoch a run stopped at ``budget`` (minutes of training, or epochs) would keep: the lowest validation
    SELD so far."""
    done = [r for r in rows if r[AXIS_KEY[axis]] <= budget + 1e-9]
    return min(done, key=lambda r: r["SELD"]) if done else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", metavar="LABEL=LOG.csv")
    ap.add_argument("--every", type=float, default=30.0, help="minutes (or epochs) between budgets (default 30)")
    ap.add_argument("--axis", choices=tuple(AXIS_KEY), default="minutes",
                    help="budgets in training minutes (default) or in epochs")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args(argv)
    runs, logs = {}, {}
    for spec in args.runs:
        label, sep, path = spec.partition("=")
        if not sep or not Path(path).is_file():
            print(f"equal_time: expected LABEL=LOG.csv with an existing file, got {spec!r}", file=sys.stderr)
            return 2
        runs[label], logs[label] = read_log(path), path
    shortest = min((r[-1][AXIS_KEY[args.axis]] for r in runs.values() if r), default=0.0)
    budgets = [args.every * i for i in range(1, math.floor(shortest / args.every + 1e-9) + 1)]
    if not budgets or shortest - budgets[-1] > 1e-6:  # and where the shortest run ends
        budgets.append(shortest)
    print(f"{args.axis:>8}  {'run':<12} {'epoch':>5} {'F20':>6} {'LE_CD':>6} {'MAR':>6} {'SELD':>6}")
    table = []
    for b in budgets:
        for label, rows in runs.items():
            best = best_by(rows, b, args.axis)
            if best is None:
                print(f"{b:8.0f}  {label:<12} {'-':>5}")
                continue
            table.append({"budget": round(b, 1), "axis": args.axis, "run": label, **best})
            print(f"{b:8.0f}  {label:<12} {best['epoch']:5d} {best['F20'] * 100:5.1f}% {best['LE_CD']:5.1f}° "
                  f"{best['MAR'] * 100:5.1f}% {best['SELD']:6.3f}")
    write_json_atomic(args.out, {"date": date.today().isoformat(), "logs": logs, "table": table})
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
