"""Does bf16 autocast cost accuracy? The same short training in fp32 and in bf16, over several seeds.

Each run is ``seld-train``'s own loop (``training.train.train``) on the given recipe, from ``--init``'s weights
(default: random), with only ``optim.precision`` and ``seed`` changed. After it, the last epoch's weights are
scored on the validation folders in fp32: the validation loss (the recipe's loss, over every chunk) and the
validation SELD/F20 at the best threshold (as the training's own validation picks them). The seed spread is
the yardstick: bf16 "costs nothing" where its mean lies within the fp32 seeds' spread.

    python bench/bench_precision.py --train data/prec/train --val data/xsource/val_sf --epochs 4 --seeds 1,2
    python bench/bench_precision.py ... --init runs/seddoa_agg2_v1.pt --epochs 2     # the fine-tuning regime

Writes bench/results/bench_precision.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from datetime import date
from pathlib import Path

import torch

from seld_live.atomic import write_json_atomic
from training.batches import collate
from training.compute import choose_precision
from training.config import load_config
from training.losses import make_loss
from training.train import open_datasets, train

RECIPE = Path(__file__).resolve().parents[1] / "training" / "configs" / "home13_xsource_v4.toml"
OUT = Path(__file__).resolve().parent / "results" / "bench_precision.json"


@torch.no_grad()
def validation_loss(model: torch.nn.Module, cfg, val_sets: list) -> float:
    """The recipe's loss (onset weighting included) in fp32, averaged over every validation chunk."""
    loss_fn = make_loss(cfg.loss.name, **cfg.loss.params())
    model.eval().float()
    total, n = 0.0, 0
    for ds in val_sets:
        for i in range(0, len(ds), 16):
            batch = collate([ds[j] for j in range(i, min(i + 16, len(ds)))])
            out = model(batch["features"].float())
            targets = {k: v for k, v in batch.items() if isinstance(v, torch.Tensor) and k != "features"}
            k = batch["features"].shape[0]
            total += float(loss_fn({key: v.float() for key, v in out.items()}, targets).total) * k
            n += k
    return total / max(n, 1)


def run_config(args, precision: str, seed: int, out: Path):
    sets = [f'data.train=["{args.train}"]', f"data.val={args.val!r}".replace("'", '"'), f'out="{out}"',
            f'model.init="{args.init}"', 'device="cpu"', f'optim.precision="{precision}"', f"seed={seed}",
            f"optim.epochs={args.epochs}", "optim.decay_epochs=[]", "optim.lr=1e-3", "keep_epochs=[]"]
    return load_config(args.config, sets)


def one_run(args, precision: str, seed: int, out: Path, val_sets: list) -> dict:
    cfg = run_config(args, precision, seed, out)
    result = train(cfg, resume=False, progress=False)
    last = result.history[-1]
    return {"precision": precision, "seed": seed, "epochs": args.epochs,
            "steps": sum(round(r.get("steps_per_s", 0) * r.get("train_s", 0)) for r in result.history),
            "train_loss": last["train_loss"], "val_SELD": last.get("val_SELD"), "val_F20": last.get("val_F20"),
            "val_loss": validation_loss(result.model, cfg, val_sets),
            "steps_per_s": statistics.median(r["steps_per_s"] for r in result.history if r["epoch"] > 0)}


def summarise(runs: list[dict]) -> dict:
    out = {}
    for p in sorted({r["precision"] for r in runs}):
        rows = [r for r in runs if r["precision"] == p]
        out[p] = {k: {"mean": statistics.fmean(r[k] for r in rows),
                      "spread": max(r[k] for r in rows) - min(r[k] for r in rows)}
                  for k in ("val_loss", "val_SELD", "val_F20", "train_loss", "steps_per_s")}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(RECIPE))
    ap.add_argument("--train", required=True, help="training dataset folder (a small one)")
    ap.add_argument("--val", action="append", required=True, help="validation dataset folder (repeatable)")
    ap.add_argument("--init", default="", help="start from this checkpoint's weights (default: random)")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--seeds", default="1,2")
    ap.add_argument("--json", default=str(OUT))
    args = ap.parse_args(argv)
    if choose_precision("bf16", torch.device("cpu")).name != "bf16":
        print("bench_precision: this CPU has no bf16 autocast; nothing to compare", file=sys.stderr)
        return 1
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        # the validation chunks, as the training sees them: made once for every run
        _, _, val_sets = open_datasets(run_config(args, "fp32", 0, Path(tmp) / "val"))
        for seed in (int(s) for s in args.seeds.split(",")):
            for precision in ("fp32", "bf16"):
                r = one_run(args, precision, seed, Path(tmp) / f"{precision}_{seed}", val_sets)
                print(f"{precision} seed {seed}: val loss {r['val_loss']:.4f}  val SELD {r['val_SELD']:.3f}  "
                      f"val F20 {100 * r['val_F20']:.1f}%  train loss {r['train_loss']:.4f}  "
                      f"{r['steps_per_s']:.2f} steps/s", flush=True)
                runs.append(r)
    summary = summarise(runs)
    print("\n| precision | val loss | val SELD | val F20 | train loss | steps/s |\n|---|---|---|---|---|---|")
    for p, s in summary.items():
        print(f"| {p} | " + " | ".join(f"{s[k]['mean']:.4f} ± {s[k]['spread'] / 2:.4f}"
                                       for k in ("val_loss", "val_SELD", "val_F20", "train_loss", "steps_per_s"))
              + " |")
    write_json_atomic(args.json, {"date": date.today().isoformat(), "config": args.config, "init": args.init,
                                  "train": args.train,
                                  "val": args.val, "epochs": args.epochs, "runs": runs, "summary": summary})
    return 0


if __name__ == "__main__":
    sys.exit(main())
