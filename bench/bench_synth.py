"""Synthesis speed of seld-synth (issue 4): seconds of 4-channel audio per second of one CPU core.

Clips are made in this process, one thread, for static scenes (no moving source), moving scenes (every
source moves) and the default mix (40 % moving), with the default scene settings (rooms with RT60
0.2-1.0 s, up to 3 overlapping events, diffuse noise). The time per clip is CPU time of the process
(robust to other jobs on a shared machine) for the whole clip job: rendering the sounds, the room
responses, the mix, and writing the FLAC/CSV/JSON files. Medians over clips.

    python bench/bench_synth.py [--clips 5] [--duration 60] [--classes home13] [--array dcase_mic]
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_v] = "1"  # one core

import argparse  # noqa: E402
import platform  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402
from datetime import date  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from seld_live.atomic import write_json_atomic  # noqa: E402
from seld_live.geometry import load_array  # noqa: E402
from training.synth.classes import load_class_list  # noqa: E402
from training.synth.scene import SceneConfig, generate_clip  # noqa: E402
from training.synth.soundbank import SoundBank  # noqa: E402
from training.synth.writer import DatasetSpec, DatasetWriter  # noqa: E402

SCENES = {"static": 0.0, "moving": 1.0, "mixed (default)": 0.4}


def bench(kind: str, moving: float, args, bank: SoundBank, out: Path) -> dict:
    cfg = replace(SceneConfig(), duration=args.duration, moving_prob=moving)
    spec = DatasetSpec(cfg, bank.classes, load_array(args.array), seed=args.seed)
    writer = DatasetWriter(out / kind.split()[0], spec)
    writer.prepare(args.clips)
    ratios, events, wall = [], [], []
    for i in range(args.clips):
        t0, w0 = time.process_time(), time.perf_counter()
        clip = generate_clip(cfg, bank, spec.array, spec.clip_rng(i))
        writer.write(i, clip)
        cpu = time.process_time() - t0
        wall.append(time.perf_counter() - w0)
        ratios.append(args.duration / cpu)
        events.append(len(clip.info["events"]))
    return {"scene": kind, "moving_prob": moving, "clips": args.clips, "duration_s": args.duration,
            "median_x_realtime_cpu": float(np.median(ratios)), "min_x_realtime_cpu": float(np.min(ratios)),
            "median_x_realtime_wall": float(np.median([args.duration / w for w in wall])),
            "median_events_per_clip": float(np.median(events)), "all_x_realtime_cpu": [round(r, 2) for r in ratios]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clips", type=int, default=5)
    p.add_argument("--duration", type=float, default=60.0)
    p.add_argument("--classes", default="home13")
    p.add_argument("--array", default="dcase_mic")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="bench/results/bench_synth.json")
    args = p.parse_args()
    bank = SoundBank(load_class_list(args.classes), 24000, "train")
    # warm up: numba compilation / cache load, SoundFont into the page cache
    generate_clip(replace(SceneConfig(), duration=2.0), bank, load_array(args.array), np.random.default_rng(99))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind, moving in SCENES.items():
            rows.append(bench(kind, moving, args, bank, Path(tmp)))
    print(f"seld-synth speed, {args.classes}, {args.array}, {args.clips} clips x {args.duration:.0f} s, one core")
    print(f"{'scene':<18}{'x real time (CPU, median)':>28}{'min':>8}{'wall':>8}{'events/clip':>13}")
    for r in rows:
        print(f"{r['scene']:<18}{r['median_x_realtime_cpu']:>28.1f}{r['min_x_realtime_cpu']:>8.1f}"
              f"{r['median_x_realtime_wall']:>8.1f}{r['median_events_per_clip']:>13.0f}")
    result = {"benchmark": "bench_synth", "date": str(date.today()),
              "machine": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
              "classes": args.classes, "array": args.array, "results": rows}
    write_json_atomic(args.out, result)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
