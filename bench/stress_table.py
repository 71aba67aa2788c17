"""Stress table: a model scored over a fixed set of scene conditions, so that a weak corner shows.

    python bench/stress_table.py --model assets/models/seddoa_agg2.pt [--model OTHER.pt] \
        --json docs/results/stress_table.json [--clips 8] [--duration 30] [--workers 2]

Each row changes one condition of a base scene (up to 2 overlapping events, RT60 0.4-0.8 s, SNR 10-30 dB,
40 % moving sources, real recordings + SoundFont renders + speech synthesis of the home13_real classes, test
split: recordings, renderings and rooms no training saw): overlap 1 / 2 / 3; RT60 <= 0.4 s / >= 0.8 s;
SNR 6 / 20 dB; static / moving at 60 deg/s; events from real recordings only / SoundFont renders only /
speech synthesis only. The scenes are synthesised once under --data (seeded, so every model meets the same
audio) and every model is scored on the detector's own events (F20, LE_CD, MAR, macro over the classes
present) and on the events after the tracker (onset latency median and share within 0.5 s: what a user sees).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from seld_live.atomic import write_json_atomic
from seld_live.geometry import load_array
from training.evaluate import evaluate_model
from training.synth.classes import load_class_list
from training.synth.runner import synthesize
from training.synth.scene import SceneConfig
from training.synth.writer import DatasetSpec

BASE = SceneConfig(max_overlap=2, rt60=(0.4, 0.8), snr_db=(10.0, 30.0), moving_prob=0.4)
# (row name, scene changes, source kinds: empty = all of the class list's)
ROWS: list[tuple[str, dict, tuple[str, ...]]] = [
    ("overlap 1", {"max_overlap": 1}, ()),
    ("overlap 2 (base)", {}, ()),
    ("overlap 3", {"max_overlap": 3}, ()),
    ("RT60 <= 0.4 s", {"rt60": (0.2, 0.4)}, ()),
    ("RT60 >= 0.8 s", {"rt60": (0.8, 1.2)}, ()),
    ("SNR 6 dB", {"snr_db": (6.0, 6.0)}, ()),
    ("SNR 20 dB", {"snr_db": (20.0, 20.0)}, ()),
    ("static", {"moving_prob": 0.0}, ()),
    ("moving 60 deg/s", {"moving_prob": 1.0, "speed_deg": (60.0, 60.0)}, ()),
    ("real recordings only", {}, ("file",)),
    ("SoundFont only", {}, ("gm", "drum")),
    ("speech synthesis only", {}, ("speech",)),
]


def row_folder(data: Path, name: str) -> Path:
    return data / "".join(ch if ch.isalnum() else "_" for ch in name).strip("_")


def make_data(data: Path, clips: int, duration: float, workers: int, seed: int) -> None:
    classes = load_class_list("home13_real")
    array = load_array("dcase_mic")
    for k, (name, change, sources) in enumerate(ROWS):
        cfg = replace(BASE, duration=duration, **change)
        spec = DatasetSpec(cfg, classes, array, split="test", seed=seed + k, sources=sources)
        synthesize(row_folder(data, name), spec, clips, workers=workers, progress=False)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", required=True, help="checkpoint (repeatable)")
    ap.add_argument("--data", default="data/stress", help="where the scenes are made (once)")
    ap.add_argument("--clips", type=int, default=8)
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=5000)
    ap.add_argument("--json", help="write the table here")
    args = ap.parse_args(argv)
    data = Path(args.data)
    make_data(data, args.clips, args.duration, args.workers, args.seed)
    table: dict = {"conditions": {n: {"scene": c, "sources": list(s)} for n, c, s in ROWS}, "models": {}}
    for model in args.model:
        rows = {}
        for name, _, _ in ROWS:
            r = evaluate_model(model, row_folder(data, name), device="cpu")
            present = [c for c, e in r["per_class"].items() if e["Nref"]]
            macro = {k: sum(r["per_class"][c][k] for c in present) / max(1, len(present)) for k in ("F20", "LE_CD")}
            lat = r["tracked"]["onset_latency"]
            rows[name] = {"F20": macro["F20"], "LE_CD": macro["LE_CD"], "MAR": r["MAR"],
                          "F20_micro": r["micro"]["F20"], "classes_present": len(present),
                          "onset_median_s": lat["median_s"], "onset_within_0_5s": lat["within_0_5s"],
                          "threshold": r["model"]["threshold"]}
        table["models"][model] = rows
        print(f"\n{model}")
        print(f"{'condition':<24}{'F20':>7}{'LE_CD':>8}{'MAR':>7}{'F20 µ':>7}{'onset med':>11}{'<=0.5 s':>9}")
        for name, v in rows.items():
            med = v["onset_median_s"]
            med_s = "inf" if med is None else f"{med:.2f} s"
            print(f"{name:<24}{v['F20']:>7.1%}{v['LE_CD']:>7.1f}°{v['MAR']:>7.1%}{v['F20_micro']:>7.1%}"
                  f"{med_s:>11}{v['onset_within_0_5s']:>9.1%}")
    table["note"] = ("macro F20/LE_CD over the classes present in each condition; MAR macro over classes with "
                     f"events; onset latency after the tracker; scenes: {args.clips} x {args.duration:g} s per row")
    if args.json:
        write_json_atomic(args.json, table, indent=1)
        print(f"written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
