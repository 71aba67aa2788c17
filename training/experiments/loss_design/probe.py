"""How many steps a grid's runs can take in a time budget: a short training of each of N processes side by side,
timed, and the step budget that fits (loss_design_gpu.sh picks its --steps so).

    python -m training.experiments.loss_design.probe --scale gpu --jobs 8 --device cuda --budget 420 --json p.json

Each process trains compact SEDDOA (the unit of ``grid.chain_cost``) on the grid's prepared data for
``--steps`` steps, with validation, as a run does. Measured: the step rate while training (steps/s of each
process, all running at once) and the rest of a run's wall time (start, the untrained and trained
validations, threshold tuning), ``overhead_s``. The budget then solves, for the most loaded shard,
    load x steps / rate + runs x (overhead + epochs x validation) <= budget,
with a validation taken as a quarter of the overhead (an estimate: the overhead holds two and a tuning).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from seld_live.atomic import write_json_atomic

from .grid import SCALES, RunKey, chains, grid_names, shard, shard_loads
from .runner import prepare_data, train_config

CHILD = ("import json, sys; from training.config import config_from_dict; from training.train import train; "
         "train(config_from_dict(json.loads(sys.argv[1])), progress=False)")


def measure(data: dict[str, Path], scale: str, vocab: str, jobs: int, steps: int, device: str,
            work: Path) -> dict:
    """Time ``jobs`` side-by-side trainings of ``steps`` steps: each one's step rate and overhead."""
    procs = []
    for j in range(jobs):
        cfg = train_config(RunKey("SEDDOA", vocab, 100 + j, steps, scale), data, work / f"p{j}", device)
        procs.append((time.perf_counter(), subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(cfg)],
                                                            stdout=subprocess.DEVNULL)))
    walls = []
    for t0, p in procs:
        if p.wait() != 0:
            raise RuntimeError(f"a probe training failed (exit {p.returncode})")
        walls.append(time.perf_counter() - t0)
    rates, overheads = [], []
    for j, wall in enumerate(walls):
        with open(work / f"p{j}" / "log.csv") as f:
            rows = list(csv.DictReader(f))
        train_s = sum(float(r["train_s"]) for r in rows)
        rates.append(steps / train_s)
        overheads.append(wall - train_s)
    return {"jobs": jobs, "steps": steps, "steps_per_s": [round(r, 2) for r in rates],
            "overhead_s": [round(o, 1) for o in overheads], "rate": statistics.median(rates),
            "overhead": statistics.median(overheads)}


def steps_that_fit(budget_s: float, rate: float, overhead_s: float, load: float, runs: int, steps_per_epoch: int,
                   floor_to: int = 500) -> int:
    """The largest step budget (a multiple of ``floor_to``) whose most loaded shard ends within ``budget_s``."""
    fixed = runs * overhead_s
    per_step = load / rate + runs * (overhead_s / 4) / max(1, steps_per_epoch)
    return max(0, int((budget_s - fixed) / per_step) // floor_to * floor_to)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grid", default="main")
    ap.add_argument("--scale", choices=sorted(SCALES), default="gpu")
    ap.add_argument("--out", default="runs/loss_design", help="the grid's data and run folders")
    ap.add_argument("--jobs", type=int, default=8, help="processes side by side (the grid's --shard N)")
    ap.add_argument("--steps", type=int, default=300, help="steps of each probe training")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--budget", type=float, required=True, help="seconds the grid may take")
    ap.add_argument("--json", default="", help="also write the measurement here")
    args = ap.parse_args(argv)
    grids = grid_names(args.grid)
    vocab = grids[0].vocabs[0]
    data = prepare_data(Path(args.out), args.scale, vocab)
    with tempfile.TemporaryDirectory() as work:
        m = measure(data, args.scale, vocab, args.jobs, args.steps, args.device, Path(work))
    every = chains(grids, 1000, args.scale)
    loads = shard_loads(every, args.jobs)
    runs = max(sum(len(c) for c in shard(every, k, args.jobs)) for k in range(args.jobs))
    scale = SCALES[args.scale]
    from training.data import SeldDataset

    per_epoch = len(SeldDataset(data["train"], scale.chunk_seconds, scale.hop_seconds)) // scale.batch_size
    m.update(load=max(loads), runs_per_shard=runs, steps_per_epoch=per_epoch, budget_s=args.budget,
             fit=steps_that_fit(args.budget, m["rate"], m["overhead"], max(loads), runs, per_epoch))
    if args.json:
        write_json_atomic(args.json, m)
    print(json.dumps(m), file=sys.stderr)
    print(m["fit"])
    return 0 if math.isfinite(m["rate"]) else 1


if __name__ == "__main__":
    sys.exit(main())
