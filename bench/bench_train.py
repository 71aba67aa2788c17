"""Training throughput: the whole training loop against the bare step of the same network and batch.

Loop rows run whole epochs of ``seld-train``'s own loop (``training.train._train_epoch``: loading, augmentation,
targets, collation, the step, clipping, the scheduler) on a real dataset, each variant with its settings
(precision, layout, prefetch thread or worker processes, compute threads, feature cache dtype). Bare rows time
one optimisation step (forward, float32 loss, backward, AdamW step) on one fixed, already collated batch of the
same data: no loading at all. Everything is measured in one process, interleaved round by round (one epoch of
each loop variant, then the bare steps); the first round is warm-up and not counted. Figures are medians.

    python bench/bench_train.py --data /work/tp/train            # the shipped recipe's settings
    python bench/bench_train.py --data DIR --rounds 4 --variants before,thread,workers1

Writes bench/results/bench_train.json.
"""

from __future__ import annotations

import argparse
import copy
import platform
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import torch

from seld_live.atomic import write_json_atomic
from training.compute import choose_precision, cpu_bf16_flags, single_threaded_blas
from training.config import load_config
from training.train import _setup, _train_epoch, describe_compute

RECIPE = Path(__file__).resolve().parents[1] / "training" / "configs" / "home13_seddoa_agg2.toml"
OUT = Path(__file__).resolve().parent / "results" / "bench_train.json"

# loop variants: name -> (description, config overrides)
VARIANTS: dict[str, tuple[str, list[str]]] = {
    "fp32_serial": ("loop with the old settings (fp32, default layout, no prefetch, float32 cache, all threads) on "
                    "today's data path (kept-lag GCC-PHAT in mixes, numpy BLAS at one thread)",
               ["optim.precision=fp32", "optim.channels_last=false", "data.prefetch=0", "data.cache_dtype=float32",
                "threads=ALL"]),
    "thread": ("loop, new defaults: precision auto, channels-last, prefetch thread, float16 cache, threads auto",
               []),
    "thread_one": ("loop, new defaults but 1 compute thread throughout", ["threads=1"]),
    "thread_all": ("loop, new defaults but all threads compute throughout", ["threads=ALL"]),
    "workers1": ("loop, new defaults but 1 worker process instead of the thread", ["data.workers=1"]),
    "workers2": ("loop, new defaults but 2 worker processes instead of the thread", ["data.workers=2"]),
    "serial": ("loop, new defaults but no prefetch (batches made between steps), all threads compute",
               ["data.prefetch=0", "threads=ALL"]),
    "fp32_thread": ("loop, fp32 with the new loading (a CPU without bfloat16)", ["optim.precision=fp32"]),
}
DEFAULT_VARIANTS = "fp32_serial,thread,thread_one,thread_all,workers1,serial,fp32_thread"


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def make_run(data: str, config: Path, sets: list[str], out: Path, all_threads: int, max_clips: int):
    """A training set up by seld-train's own ``_setup`` (no validation split: only the loop is timed)."""
    sets = [s.replace("threads=ALL", f"threads={all_threads}") for s in sets]
    base = [f'data.train=["{data}"]', "data.val=[]", f'out="{out}"', 'model.init=""', 'device="cpu"',
            f"data.max_train_clips={max_clips}"]
    cfg = load_config(config, base + sets)
    torch.set_num_threads(all_threads)
    run = _setup(cfg, resume=False, progress=False)
    run.net = run.model
    return run


class BareStep:
    """One optimisation step of a copy of the network on a fixed batch: forward (autocast for bf16), float32
    loss, backward, AdamW step."""

    def __init__(self, run, batch: dict, bf16: bool, channels_last: bool):
        self.model = copy.deepcopy(run.model).train()
        self.model.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        self.feats = batch["features"].to(torch.float32).contiguous(memory_format=fmt)
        self.targets = {k: v for k, v in batch.items() if isinstance(v, torch.Tensor) and k != "features"}
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=run.cfg.optim.lr)
        self.loss_fn, self.bf16 = run.loss_fn, bf16

    def __call__(self) -> float:
        t = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            out = self.model(self.feats)
        res = self.loss_fn({k: v.float() for k, v in out.items()}, self.targets)
        self.opt.zero_grad(set_to_none=True)
        res.total.backward()
        self.opt.step()
        return time.perf_counter() - t


def measure(runs: dict, bare: dict, rounds: int, bare_steps: int, all_threads: int) -> tuple[dict, dict]:
    """Per counted round: each loop variant's epoch (steps/s), then each bare step's times (seconds)."""
    loop_rates: dict[str, list[float]] = {v: [] for v in runs}
    bare_rounds: dict[str, list[list[float]]] = {k: [] for k in bare}
    for r in range(rounds):
        for v, run in runs.items():
            row = _train_epoch(run, r)
            print(f"round {r}: {v} {row['steps_per_s']:.2f} steps/s", flush=True)
            if r:
                loop_rates[v].append(row["steps_per_s"])
        torch.set_num_threads(all_threads)
        for k, step in bare.items():
            times = [step() for _ in range(bare_steps + (2 if r == 0 else 0))]
            if r:
                bare_rounds[k].append(times)
    return loop_rates, bare_rounds


def summarise(loop_rates: dict, bare_rounds: dict, runs: dict, all_threads: int) -> list[dict]:
    """Median rates; each loop's ratio to the bare fp32 step both of the medians and round by round (the
    bare steps of the same round: the fairest pairing on a machine whose speed drifts)."""
    ref_rounds = [1 / statistics.median(ts) for ts in bare_rounds["bare fp32"]]
    ref = 1 / statistics.median([t for ts in bare_rounds["bare fp32"] for t in ts])
    rows = []
    for k, per_round in bare_rounds.items():
        ts = [t for r in per_round for t in r]
        rate = 1 / statistics.median(ts)
        rows.append({"name": k, "kind": "bare", "steps_per_s": rate, "x_bare_fp32": rate / ref, "samples": len(ts),
                     "threads": all_threads, "rounds": [1 / statistics.median(r) for r in per_round]})
    for v, rates in loop_rates.items():
        ratios = [a / b for a, b in zip(rates, ref_rounds, strict=True)]
        rows.append({"name": v, "kind": "loop", "what": VARIANTS[v][0], "compute": describe_compute(runs[v]),
                     "steps_per_s": statistics.median(rates), "x_bare_fp32": statistics.median(rates) / ref,
                     "x_bare_fp32_per_round": ratios, "epochs": rates})
    return rows


def print_table(rows: list[dict], meta: dict) -> None:
    print(f"\nTraining throughput, {meta['cpu']}, {meta['cores']} threads, {meta['training_chunks']} chunks "
          f"({meta['steps_per_epoch']} steps per epoch), medians of {meta['rounds_counted']} rounds\n")
    print(f"| {'what':<24} | steps/s | x bare fp32 | x bare fp32 by round: median (min-max) |")
    print(f"|{'-' * 26}|---------|-------------|{'-' * 40}|")
    for row in rows:
        by_round = row.get("x_bare_fp32_per_round")
        spread = f"{statistics.median(by_round):.2f} ({min(by_round):.2f}-{max(by_round):.2f})" if by_round else ""
        print(f"| {row['name']:<24} | {row['steps_per_s']:7.2f} | {row['x_bare_fp32']:11.2f} | {spread:<38} |")
    for row in rows:
        if row["kind"] == "loop":
            print(f"  {row['name']}: {row['compute']}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="a training dataset folder (seld-synth layout)")
    ap.add_argument("--config", default=str(RECIPE), help="training config (default: the shipped recipe)")
    ap.add_argument("--variants", default=DEFAULT_VARIANTS, help=f"loop variants, of {', '.join(VARIANTS)}")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a config override for every loop variant (before the variant's own)")
    ap.add_argument("--rounds", type=int, default=4, help="rounds, the first one warm-up")
    ap.add_argument("--bare-steps", type=int, default=8, help="bare steps of each kind per round")
    ap.add_argument("--max-clips", type=int, default=0, help="only the first clips of the dataset (0 = all)")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args(argv)
    names = [v for v in args.variants.split(",") if v]
    unknown = [v for v in names if v not in VARIANTS]
    if unknown or args.rounds < 2:
        ap.error(f"unknown variant(s) {', '.join(unknown)}" if unknown else "--rounds: at least 2")
    all_threads = torch.get_num_threads()
    bf16 = choose_precision("auto", torch.device("cpu")).name == "bf16"

    with tempfile.TemporaryDirectory() as tmp, single_threaded_blas():  # as seld-train runs
        runs = {v: make_run(args.data, Path(args.config), args.set + VARIANTS[v][1], Path(tmp) / v, all_threads,
                            args.max_clips) for v in names}
        first = runs[names[0]]
        torch.set_num_threads(all_threads)
        batch = next(iter(first.loader))
        bare = {"bare fp32": BareStep(first, batch, False, False),
                "bare fp32 channels-last": BareStep(first, batch, False, True)}
        if bf16:
            bare.update({"bare bf16": BareStep(first, batch, True, False),
                         "bare bf16 channels-last": BareStep(first, batch, True, True)})
        loop_rates, bare_rounds = measure(runs, bare, args.rounds, args.bare_steps, all_threads)
        rows = summarise(loop_rates, bare_rounds, runs, all_threads)
        meta = {"date": date.today().isoformat(),
                "command": "python " + " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])]),
                "cpu": cpu_name(), "cores": all_threads, "bf16_flags": cpu_bf16_flags(), "torch": torch.__version__,
                "python": platform.python_version(), "config": args.config, "data": args.data,
                "training_chunks": len(first.train_ds), "steps_per_epoch": len(first.loader),
                "rounds_counted": args.rounds - 1, "batch": batch["features"].shape[0],
                "bare_step": "forward (autocast for bf16), float32 loss, backward, AdamW step; one fixed batch"}
    print_table(rows, meta)
    write_json_atomic(args.out, {"meta": meta, "results": rows})
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
