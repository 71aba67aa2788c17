"""Each array's model beside the tetrahedron's, on the same test scenes rendered for each array (issue 17).

    python bench/array_table.py [--runs runs] [--arrays dcase_mic,foa,respeaker_v2] [--json docs/results/arrays.json]

Reads the test scores that ``training/recipes/array.sh ARRAY`` writes (``RUNS/array_ARRAY/test_real.json``: real
recordings of sources training never heard; ``test_sf.json``: SoundFont scenes, up to 3 overlapping), where
``array.sh dcase_mic`` is run with ``MODEL=assets/models/seddoa_agg2.pt`` (the shipped tetrahedron model, scored
on the dcase_mic renderings of the very scenes the other arrays' models were scored on). Prints, per test set and
array: macro and micro F20, macro LE_CD, LE_az and LE_el, MAR, and the macro F20 gap to the tetrahedron; then the
issue's targets (F20 within 5 points of the tetrahedron, LE_CD <= 20 deg, or LE_az for a planar array) met or not.
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path

from seld_live.atomic import write_json_atomic

TESTS = {"test_real": "cross-source real", "test_sf": "SoundFont 3-overlap"}
REFERENCE = "dcase_mic"
F20_GAP, LE_MAX = 0.05, 20.0  # the targets: within 5 points of the tetrahedron; LE_CD (LE_az) <= 20 deg


def row(result: dict) -> dict:
    planar = bool(result.get("array", {}).get("planar"))
    return {"model": Path(result["model"]["path"]).name, "F20": result["F20"], "F20_micro": result["micro"]["F20"],
            "LE_CD": result["LE_CD"], "LE_az": result["LE_az"], "LE_el": result.get("LE_el"), "MAR": result["MAR"],
            "planar": planar,
            "files": len(result.get("files", []))}


def collect(runs: Path, arrays: list[str]) -> dict[str, dict[str, dict]]:
    """{test: {array: row}} for every test JSON that exists."""
    out: dict[str, dict[str, dict]] = {}
    for test in TESTS:
        for array in arrays:
            path = runs / f"array_{array}" / f"{test}.json"
            if path.exists():
                out.setdefault(test, {})[array] = row(json.loads(path.read_text()))
    return out


def judge(table: dict[str, dict[str, dict]]) -> dict[str, dict]:
    """Per array (not the tetrahedron): each target with its figure and whether it is met."""
    verdict: dict[str, dict] = {}
    for test, rows in table.items():
        ref = rows.get(REFERENCE)
        for array, r in rows.items():
            if array == REFERENCE:
                continue
            v = verdict.setdefault(array, {})
            if ref is not None:
                gap = r["F20"] - ref["F20"]
                v[f"{test} F20 gap"] = {"value": gap, "met": gap >= -F20_GAP}
            key = "LE_az" if r["planar"] else "LE_CD"
            v[f"{test} {key}"] = {"value": r[key], "met": r[key] <= LE_MAX}
    return verdict


def fmt(x: float | None, pct: bool = False) -> str:
    if x is None:  # a result written before the metric existed
        return "-".rjust(7 if pct else 6)
    return f"{100 * x:5.1f} %" if pct else f"{x:5.1f}°"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", default="runs")
    ap.add_argument("--arrays", default="dcase_mic,foa,respeaker_v2")
    ap.add_argument("--json", default=None, help="also write the table and verdicts here")
    args = ap.parse_args()
    table = collect(Path(args.runs), args.arrays.split(","))
    if not table:
        raise SystemExit(f"no runs/array_*/test_*.json under {args.runs}: run training/recipes/array.sh first")
    for test, rows in table.items():
        ref = rows.get(REFERENCE)
        print(f"\n{TESTS[test]} ({test})")
        print(f"{'array':<14} {'model':<28} {'F20':>7} {'micro':>7} {'LE_CD':>6} {'LE_az':>6} {'LE_el':>6} {'MAR':>7} "
              f"{'vs tetra':>9}")
        for array, r in rows.items():
            gap = "" if ref is None or array == REFERENCE else f"{100 * (r['F20'] - ref['F20']):+6.1f} pt"
            print(f"{array:<14} {r['model']:<28} {fmt(r['F20'], True)} {fmt(r['F20_micro'], True)} "
                  f"{fmt(r['LE_CD'])} {fmt(r['LE_az'])} {fmt(r['LE_el'])} {fmt(r['MAR'], True)} {gap:>9}"
                  + ("  (planar: scored folded above its plane)" if r["planar"] else ""))
    verdict = judge(table)
    for array, targets in verdict.items():
        figures = "; ".join(f"{name} {100 * t['value']:+.1f} pt" if name.endswith("gap") else
                            f"{name} {t['value']:.1f}°" for name, t in targets.items())
        missed = [name for name, t in targets.items() if not t["met"]]
        print(f"\n{array}: {figures} -> " + ("all targets met" if not missed else "not met: " + ", ".join(missed)))
    if args.json:
        write_json_atomic(args.json, {"benchmark": "array_table", "date": date.today().isoformat(),
                                      "tests": table, "targets": verdict})
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
