"""The command: run a named grid (resumable), or report the results file.

    python -m training.experiments.loss_design --grid main                 # 7 systems x {home13, gm177} x 2 seeds
    python -m training.experiments.loss_design --grid sweep                # SEDDOA, SEDDOA-AGG2, mACCDOA x 13/45/177
    python -m training.experiments.loss_design --grid live                 # EINV2-AGG2, the live model's candidate
    python -m training.experiments.loss_design --grid main,sweep --steps 8000 --scale gpu --device cuda
    python -m training.experiments.loss_design --grid main,sweep --classes gm177 --seeds 1 --systems SEDDOA
    python -m training.experiments.loss_design --report --md docs/results/loss_design.md
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from seld_live.atomic import write_text_atomic
from training.synth.runner import default_workers

from .grid import GRIDS, SCALES, RunKey, chains, grid_names, shard, shard_loads
from .report import markdown, pick, svg_sweep
from .runner import ResultStore, prepare_data, run_one

DEFAULT_JSON = "docs/results/loss_design.json"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m training.experiments.loss_design",
                                 description="The loss-design experiment (issue 18): run a grid, or --report.")
    ap.add_argument("--grid", default="main", help=f"comma-separated grid names: {', '.join(GRIDS)}")
    ap.add_argument("--steps", type=int, default=0, help="optimisation steps of every run (default: the grid's)")
    ap.add_argument("--scale", choices=sorted(SCALES), default="", help="data, network, batch (default: the grid's)")
    ap.add_argument("--out", default="runs/loss_design", help="data and run folders")
    ap.add_argument("--json", default=DEFAULT_JSON, help="the results file (a JSON list of runs)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--workers", type=int, default=default_workers(), help="synthesis processes")
    ap.add_argument("--classes", default="", help="comma-separated vocabularies: only their runs (default: all)")
    ap.add_argument("--seeds", default="", help="comma-separated seeds: only their runs (default: all)")
    ap.add_argument("--systems", default="", help="comma-separated systems: only their runs (default: all; an AGG "
                    "run whose multi-task base is not done trains the base to the branch point)")
    ap.add_argument("--shard", default="0/1", help="K/N: run only the K-th of N balanced parts (N processes side by "
                    "side; chains of an AGG system and its multi-task base stay in one part)")
    ap.add_argument("--loads", action="store_true", help="print each shard's compute in full compact-SEDDOA runs")
    ap.add_argument("--prepare", action="store_true", help="only synthesise the grid's data and feature caches")
    ap.add_argument("--list", action="store_true", help="list the grid's runs, done or not, and exit")
    ap.add_argument("--report", action="store_true", help="tables and plot of the results file, then exit")
    ap.add_argument("--md", default="", help="--report: also write the markdown here (and the SVG beside it)")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    store = ResultStore(Path(args.json))
    if args.report:
        return report(store, args)
    try:
        grids = grid_names(args.grid)
    except KeyError as e:
        print(f"unknown grid {e} (grids: {', '.join(GRIDS)})", file=sys.stderr)
        return 2
    steps, scale = args.steps or grids[0].steps, args.scale or grids[0].scale
    k, n = (int(v) for v in args.shard.split("/"))
    every = [c for c in ([key for key in c if _wanted(key, args)] for c in chains(grids, steps, scale)) if c]
    todo = shard(every, k, n)
    root = Path(args.out)
    if args.loads:
        print(" ".join(f"{v:.2f}" for v in shard_loads(every, n)))
        return 0
    if args.list:
        for key in (key for c in todo for key in c):
            print(f"{'done' if store.find(key) else 'todo'} {key.system} {key.classes} seed {key.seed} "
                  f"{key.steps} steps ({key.scale})")
        return 0
    data: dict[str, dict] = {}
    for chain in todo:
        for key in chain:
            if key.classes not in data:
                t0 = time.perf_counter()
                data[key.classes] = prepare_data(root, scale, key.classes, args.workers, caches=args.prepare)
                print(f"[{key.classes}] data ready in {time.perf_counter() - t0:.0f} s", flush=True)
            if args.prepare:
                continue
            if store.find(key):
                print(f"done already: {_name(key)}", flush=True)
                continue
            rec = run_one(key, data[key.classes], root, args.device)
            store.add(rec)
            print(f"{_name(key)}: F20 {rec['F20']:.1%} SELD {rec['SELD']:.3f} MAR {rec['MAR'] or 0:.1%} "
                  f"empty {rec['empty_frames']:.1%} ({rec['train_seconds']:.0f} s)", flush=True)
    return 0


def _wanted(key: RunKey, args: argparse.Namespace) -> bool:
    return all(not wanted or value in wanted.split(",") for value, wanted in
               ((key.classes, args.classes), (str(key.seed), args.seeds), (key.system, args.systems)))


def _name(key: RunKey) -> str:
    return f"{key.system} {key.classes} seed {key.seed} {key.steps} steps ({key.scale})"


def report(store: ResultStore, args: argparse.Namespace) -> int:
    scale, steps, runs = pick(store.load(), args.scale or None, args.steps or None)
    if not runs:
        print(f"no runs in {store.path}", file=sys.stderr)
        return 1
    md = Path(args.md) if args.md else None
    svg_name = md.with_suffix(".svg").name if md else "loss_design.svg"
    text = markdown(runs, scale, steps, svg_name)
    print(text)
    if md is not None:
        md.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(md, text)
        write_text_atomic(md.with_suffix(".svg"), svg_sweep(runs))
    return 0
