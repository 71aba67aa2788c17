"""The loss-design experiment: seven SELD systems, same data, backbone size and budget, two vocabularies.

    python -m training.experiments.loss_design --scale small            # 2 CPU cores: ~25 min per system
    python -m training.experiments.loss_design --scale large --device cuda

Systems (paper "Loss function design for SELD based on multi-task learning"): ACCDOA, mACCDOA (ADPIT),
EINV2 and SEDDOA with the multi-task PIT loss, EINV2-AGG1, SEDDOA-AGG1, SEDDOA-AGG2. For each vocabulary
(gm177: 177 classes, the many-class benchmark; home13: the 13 home-demo classes) the script synthesises
train/val/test splits (test: unseen renderings and rooms), trains every system, tunes its threshold on
val, scores it on test with the DCASE 2022 macro metrics and the missing-alarm rate, and writes
``OUT/results.json``, ``OUT/loss_design.md`` (tables, paper table, commands, sizes, compute) and
``OUT/loss_design.svg`` (plot). Finished systems are skipped on a re-run, so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import torch

from seld_live.geometry import load_array
from training.config import config_from_dict
from training.evaluate import evaluate_model
from training.metrics import SELD_KEYS
from training.synth.classes import load_class_list
from training.synth.runner import default_workers, synthesize
from training.synth.scene import SceneConfig
from training.synth.writer import DatasetSpec

SYSTEMS = (  # name, arch, loss
    ("ACCDOA", "accdoa", "accdoa"),
    ("mACCDOA", "maccdoa", "adpit"),
    ("EINV2", "einv2", "multitask"),
    ("EINV2-AGG1", "einv2", "agg1"),
    ("SEDDOA", "seddoa", "multitask"),
    ("SEDDOA-AGG1", "seddoa", "agg1"),
    ("SEDDOA-AGG2", "seddoa", "agg2"),
)
# Multi-task first (the AGG systems branch from it), the paper's comparison before the baselines
RUN_ORDER = ("SEDDOA", "SEDDOA-AGG2", "SEDDOA-AGG1", "EINV2", "EINV2-AGG1", "ACCDOA", "mACCDOA")

# The paper's table (170-class synthetic test set, DCASE 2022 macro metrics); it reports no MAR values here.
PAPER = {
    "ACCDOA": (0.794, 0.271, 17.1, 0.331, 0.572),
    "mACCDOA": (0.790, 0.277, 17.1, 0.331, 0.569),
    "EINV2": (0.812, 0.245, 15.5, 0.251, 0.601),
    "EINV2-AGG1": (0.683, 0.346, 12.2, 0.347, 0.514),
    "SEDDOA": (0.863, 0.186, 14.0, 0.165, 0.647),
    "SEDDOA-AGG1": (0.720, 0.329, 13.3, 0.341, 0.531),
    "SEDDOA-AGG2": (0.764, 0.288, 17.7, 0.336, 0.560),
}


@dataclass(frozen=True)
class Split:
    clips: int
    seconds: float


@dataclass(frozen=True)
class Scale:
    train: Split
    val: Split
    test: Split
    model_size: str
    epochs: int
    batch_size: int
    lr: float
    warmup_epochs: int = 4  # AGG systems branch from their multi-task run after these epochs
    max_overlap: int = 3
    chunk_seconds: float = 5.0
    hop_seconds: float | None = None  # training chunk hop; None: back to back


SCALES = {
    # 2 CPU cores: ~25 min per full system (96 min of training audio in half-overlapping chunks, 2,300 steps);
    # at this budget 177 classes learn nothing (F20 = 0 for SEDDOA, measured), 13 classes do
    "small": Scale(Split(96, 60.0), Split(8, 60.0), Split(16, 60.0), "compact", 16, 16, 1e-3, warmup_epochs=8,
                   hop_seconds=2.5),
    # one flag away on a GPU: ~17 h of training audio per vocabulary and the large backbone
    "large": Scale(Split(1000, 60.0), Split(40, 60.0), Split(100, 60.0), "large", 60, 64, 1e-3),
    # seconds; for tests of this script
    "smoke": Scale(Split(2, 6.0), Split(1, 6.0), Split(1, 6.0), "tiny", 2, 4, 2e-3, warmup_epochs=1,
                   chunk_seconds=2.0),
}
VOCABS = {"gm177": 1000, "home13": 2000}  # vocabulary -> base seed (train, val, test: +0, +1, +2)


def make_data(root: Path, vocab: str, scale: Scale, workers: int) -> dict[str, Path]:
    classes = load_class_list(vocab)
    array = load_array("dcase_mic")
    out = {}
    for k, (split, part) in enumerate((("train", scale.train), ("val", scale.val), ("test", scale.test))):
        cfg = SceneConfig(duration=part.seconds, max_overlap=scale.max_overlap)
        path = root / vocab / split
        synthesize(path, DatasetSpec(cfg, classes, array, split=split, seed=VOCABS[vocab] + k), part.clips,
                   workers=workers, progress=False)
        out[split] = path
    return out


def train_config(name: str, arch: str, loss: str, data: dict[str, Path], scale: Scale, out: Path,
                 device: str, seed: int) -> dict:
    """The same data, backbone, schedule and augmentation for every system; only arch and loss differ."""
    decay = [int(scale.epochs * 0.7), int(scale.epochs * 0.9)]
    return {
        "out": str(out), "seed": seed, "device": device,
        "data": {"train": [str(data["train"])], "val": [str(data["val"])], "chunk_seconds": scale.chunk_seconds,
                 "hop_seconds": scale.hop_seconds or scale.chunk_seconds},
        "model": {"arch": arch, "size": scale.model_size},
        "loss": {"name": loss, "warmup_epochs": scale.warmup_epochs},
        "keep_epochs": [scale.warmup_epochs] if loss == "multitask" else [],
        "optim": {"epochs": scale.epochs, "batch_size": scale.batch_size, "lr": scale.lr, "decay_epochs": decay,
                  "gamma": 0.2, "warmup_steps": 100},
        "augment": {"spec": True, "symmetry": True, "mix_prob": 0.0},
    }


def run_system(name: str, arch: str, loss: str, data: dict[str, Path], scale: Scale, root: Path, vocab: str,
               device: str, seed: int) -> dict:
    from training.train import train

    run_dir = root / "runs" / vocab / name
    done = run_dir / "result.json"
    if done.exists():
        return json.loads(done.read_text())
    cfg = config_from_dict(train_config(name, arch, loss, data, scale, run_dir, device, seed))
    if loss in ("agg1", "agg2") and not (run_dir / "last.pt").exists():
        # an AGG system continues the multi-task run of its architecture from the end of that run's warm-up
        # epochs (the shipped recipe's start), so the pair shares those epochs exactly and differs by loss only
        base = next(n for n, a, lo in SYSTEMS if a == arch and lo == "multitask")
        snapshot = root / "runs" / vocab / base / f"epoch{scale.warmup_epochs}.pt"
        if not snapshot.exists():
            raise SystemExit(f"run {base} first: {snapshot} is missing")
        run_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(snapshot, run_dir / "last.pt")
    t0 = time.perf_counter()
    res = train(cfg, resume=True, progress=False)  # an interrupted run continues; a new one starts afresh
    train_s = time.perf_counter() - t0
    test = evaluate_model(res.best_path, data["test"], device=device, pred_dir=run_dir / "test_pred")
    out = {"system": name, "arch": arch, "loss": loss, "vocab": vocab, "train_seconds": round(train_s, 1),
           "branched_after_epoch": scale.warmup_epochs if loss in ("agg1", "agg2") else 0,
           "threshold": test["model"]["threshold"], "test": {k: test[k] for k in SELD_KEYS},
           "test_micro": {k: test["micro"][k] for k in SELD_KEYS if k in test["micro"]},
           "params": sum(p.numel() for p in res.model.parameters()),
           "epochs": scale.epochs, "best_epoch": _best_epoch(res.history)}
    done.write_text(json.dumps(out, indent=2))
    return out


def _best_epoch(history: list[dict]) -> int:
    rows = [r for r in history if r.get("epoch", 0) > 0 and "val_SELD" in r]
    return min(rows, key=lambda r: r["val_SELD"])["epoch"] if rows else 0


def data_summary(data: dict[str, Path]) -> dict:
    out = {}
    for split, path in data.items():
        manifest = json.loads((path / "manifest.json").read_text())
        n = len(list((path / "metadata").glob("*.csv")))
        out[split] = {"clips": n, "minutes": round(n * manifest["config"]["duration"] / 60, 1)}
    return out


def fmt_row(name: str, m: dict | tuple, paper: bool = False) -> str:
    if paper:
        er, f, le, lr, seld = m
        return f"| {name} | {er:.3f} | {f:.1%} | {le:.1f}° | {lr:.1%} | {seld:.3f} | – |"
    return (f"| {name} | {m['ER20']:.3f} | {m['F20']:.1%} | {m['LE_CD']:.1f}° | {m['LR_CD']:.1%} | "
            f"{m['SELD']:.3f} | {m['MAR']:.1%} |")


def write_report(root: Path, results: dict, meta: dict) -> Path:
    lines = [f"# Loss-design experiment ({meta['scale']} scale)", "",
             f"Run on {meta['date']}: {meta['machine']}; device {meta['device']}; torch {meta['torch']}.",
             f"Command: `{meta['command']}`", ""]
    head = "| system | ER20 | F20 | LE_CD | LR_CD | SELD | MAR |\n|---|---|---|---|---|---|---|"
    for vocab, rows in results.items():
        d = meta["data"][vocab]
        lines += [f"## {vocab}: {meta['classes'][vocab]} classes", "",
                  f"Data (seld-synth, DCASE MIC tetrahedron, up to {meta['max_overlap']} overlapping events): "
                  + ", ".join(f"{s} {v['clips']} clips / {v['minutes']} min" for s, v in d.items())
                  + f". Backbone size `{meta['model_size']}`, {meta['epochs']} epochs each; threshold tuned on "
                  "val; test split scored (macro over all classes, LE = 180° for a class without a true "
                  "positive).", "", head]
        lines += [fmt_row(r["system"], r["test"]) for r in rows]
        lines += ["", "Training time per system (s): "
                  + ", ".join(f"{r['system']} {r['train_seconds']:.0f}" for r in rows), ""]
        by = {r["system"]: r["test"] for r in rows}
        for base, aggs in (("SEDDOA", ("SEDDOA-AGG1", "SEDDOA-AGG2")), ("EINV2", ("EINV2-AGG1",))):
            if base in by:
                for a in aggs:
                    if a in by:
                        lines.append(f"- {a} vs {base}: MAR {by[a]['MAR']:.1%} vs {by[base]['MAR']:.1%} "
                                     f"({'lower' if by[a]['MAR'] < by[base]['MAR'] else 'not lower'}), "
                                     f"F20 {by[a]['F20']:.1%} vs {by[base]['F20']:.1%}")
        lines.append("")
    lines += ["## The paper's table (170-class synthetic test set, DCASE 2022 macro metrics)", "", head]
    lines += [fmt_row(n, v, paper=True) for n, v in PAPER.items()]
    lines += ["", "![F20 and missing-alarm rate per system](loss_design.svg)", ""]
    path = root / "loss_design.md"
    path.write_text("\n".join(lines))
    (root / "loss_design.svg").write_text(svg_plot(results))
    return path


def svg_plot(results: dict) -> str:
    """Grouped bars of F20 and missing-alarm rate per system, one panel per vocabulary (plain SVG)."""
    names = [s[0] for s in SYSTEMS]
    panel_w, h, top, left, bar = 520, 300, 40, 50, 14
    width = left + panel_w * len(results) + 20
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h + 110}" '
             'font-family="sans-serif" font-size="11">', f'<rect width="{width}" height="{h + 110}" fill="white"/>']
    for p, (vocab, rows) in enumerate(results.items()):
        x0 = left + p * panel_w
        by = {r["system"]: r["test"] for r in rows}
        parts.append(f'<text x="{x0 + panel_w / 2 - 40}" y="20" font-size="13">{vocab}</text>')
        for t in range(0, 101, 20):
            y = top + h * (1 - t / 100)
            parts.append(f'<line x1="{x0}" y1="{y}" x2="{x0 + panel_w - 30}" y2="{y}" stroke="#ddd"/>')
            parts.append(f'<text x="{x0 - 30}" y="{y + 4}">{t}%</text>')
        step = (panel_w - 40) / len(names)
        for i, n in enumerate(names):
            if n not in by:
                continue
            cx = x0 + 10 + i * step
            for j, (key, colour) in enumerate((("F20", "#3b7dd8"), ("MAR", "#e0803a"))):
                v = max(0.0, min(1.0, by[n][key]))
                parts.append(f'<rect x="{cx + j * bar}" y="{top + h * (1 - v)}" width="{bar - 2}" '
                             f'height="{h * v}" fill="{colour}"/>')
            parts.append(f'<text transform="translate({cx + 4},{top + h + 10}) rotate(40)">{n}</text>')
    parts.append(f'<rect x="{left}" y="{h + 95}" width="10" height="10" fill="#3b7dd8"/>'
                 f'<text x="{left + 14}" y="{h + 104}">F20 (higher is better)</text>'
                 f'<rect x="{left + 170}" y="{h + 95}" width="10" height="10" fill="#e0803a"/>'
                 f'<text x="{left + 184}" y="{h + 104}">missing-alarm rate (lower is better)</text></svg>')
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", choices=sorted(SCALES), default="small")
    ap.add_argument("--out", default="runs/loss_design")
    ap.add_argument("--vocab", default="gm177,home13", help="comma-separated: gm177, home13")
    ap.add_argument("--systems", default=",".join(s[0] for s in SYSTEMS), help="comma-separated system names")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--workers", type=int, default=default_workers(), help="synthesis processes")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    scale = SCALES[args.scale]
    root = Path(args.out)
    root.mkdir(parents=True, exist_ok=True)
    wanted = [s for s in SYSTEMS if s[0] in args.systems.split(",")]
    vocabs = [v for v in args.vocab.split(",") if v]
    t_all = time.perf_counter()
    results, data_meta, n_classes = {}, {}, {}
    for vocab in vocabs:
        t0 = time.perf_counter()
        data = make_data(root / "data", vocab, scale, args.workers)
        print(f"[{vocab}] data ready in {time.perf_counter() - t0:.0f} s: {data_summary(data)}", flush=True)
        data_meta[vocab] = data_summary(data)
        n_classes[vocab] = len(load_class_list(vocab).classes)
        results[vocab] = []
        runs = {}
        for name, arch, loss in sorted(wanted, key=lambda s: RUN_ORDER.index(s[0])):
            r = runs[name] = run_system(name, arch, loss, data, scale, root, vocab, args.device, args.seed)
            print(f"[{vocab}] {fmt_row(name, r['test'])}  ({r['train_seconds']:.0f} s)", flush=True)
        results[vocab] = [runs[name] for name, _a, _lo in wanted]
    meta = {"scale": args.scale, "date": date.today().isoformat(),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
            "device": args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu"),
            "torch": torch.__version__, "command": "python -m training.experiments.loss_design "
            + " ".join(sys.argv[1:] if argv is None else argv), "data": data_meta, "classes": n_classes,
            "model_size": scale.model_size, "epochs": scale.epochs, "max_overlap": scale.max_overlap,
            "wall_seconds": round(time.perf_counter() - t_all)}
    (root / "results.json").write_text(json.dumps({"meta": meta, "results": results}, indent=2))
    report = write_report(root, results, meta)
    print(f"report: {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
