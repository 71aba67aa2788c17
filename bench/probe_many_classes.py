"""Why the loss-design grid learns nothing at 177 classes: short runs of its recipe with one thing changed, and
how well their SED outputs rank the true classes (issue 18; docs/RESULTS.md, "177 classes").

    python bench/probe_many_classes.py train NAME SYSTEM [--beta B] [--pit-beta P] [--init CKPT] [--sed-bias X]
                                             [--steps N] [--max-overlap K] [--size S] [--classes V]
                                             [--train-clips N]
    python bench/probe_many_classes.py rank --model BEST.pt [--weights last.pt] --data DIR [--clips 8] [--json F]

``train``: the grid's run (``--grid main``, cpu scale, seed 1) of SYSTEM on gm177, cut at ``--steps``, with no
warm-up, into ``runs/gm177_probe/NAME``; its ``log.csv`` has the SED and DOA loss terms per epoch. With
``--max-overlap K``, on scenes of the same recipe with at most K events at once; with ``--train-clips N``, on N
training scenes instead of 96 (more events per class); both synthesised under ``runs/loss_design/data/<scale>``.
``--classes gm45``: the 45-class vocabulary instead.

``rank``: on the first clips of a split, per frame, where the true classes rank among the track-wise SED
outputs (max over tracks): the frame AUC over (frame, class) pairs, and how often the best-ranked true class is
first or in the top 5. Chance: AUC 0.5, top-5 about 5/C for a frame with one event.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import torch

from seld_live.detector import Detector
from seld_live.models import networks
from training.config import config_from_dict
from training.data import SeldDataset
from training.experiments.loss_design.grid import SCALES, RunKey
from training.experiments.loss_design.runner import prepare_data, train_config
from training.train import train


def train_probe(args: argparse.Namespace) -> None:
    if not math.isnan(args.sed_bias):  # every SED logit starts at this bias (e.g. the class prior's logit)
        start = networks.SeldNet._init_track_directions

        def biased(self):
            start(self)
            with torch.no_grad():
                self.sed_head.bias.fill_(args.sed_bias)

        networks.SeldNet._init_track_directions = biased
    scale, base = "cpu", SCALES["cpu"]
    if args.max_overlap:
        scale = f"cpu_overlap{args.max_overlap}"
        SCALES[scale] = dataclasses.replace(base, max_overlap=args.max_overlap)
    if args.train_clips:
        scale = f"cpu_train{args.train_clips}"
        SCALES[scale] = dataclasses.replace(base, train=dataclasses.replace(base.train, clips=args.train_clips))
    data = prepare_data(Path("runs/loss_design"), scale, args.classes, workers=2)
    cfg = train_config(RunKey(args.system, args.classes, 1, 5000, scale), data, Path("runs/gm177_probe") / args.name,
                       "auto")
    cfg["optim"]["max_steps"] = args.steps
    cfg["loss"].update(beta=args.beta, warmup_epochs=0)
    if not math.isnan(args.pit_beta):  # the SED term's weight in choosing the track permutation
        cfg["loss"]["pit_beta"] = args.pit_beta
    cfg["keep_epochs"] = []
    if args.init:
        cfg["model"]["init"] = args.init
    if args.size:  # another network width (seld_live.models.config.SIZES) than the grid's compact
        cfg["model"]["size"] = args.size
    train(config_from_dict(cfg), resume=True, progress=False)


def rank(args: argparse.Namespace) -> dict:
    torch.set_num_threads(1)
    det = Detector.load(args.model, device="cpu")
    if args.weights:
        det.model.load_state_dict(torch.load(args.weights, weights_only=True)["model"])
    ds = SeldDataset(args.data, feature_config=det.meta.features)
    C = len(det.classes)
    pos, neg, ranks = [], [], []
    for i in range(min(args.clips, len(ds.clips))):
        clip = ds.clip(i)
        act = det.infer_features(clip.features)["sed"].max(axis=1)  # [T, C] logits, max over tracks
        ref = np.zeros(act.shape, bool)
        for row in clip.table:
            if int(row[0]) < len(act):
                ref[int(row[0]), int(row[1])] = True
        pos.append(act[ref])
        neg.append(act[~ref])
        for f in np.nonzero(ref.any(1))[0]:
            ranks.append(int(np.nonzero(ref[f][np.argsort(-act[f])])[0][0]))
    pos, neg, ranks = np.concatenate(pos), np.concatenate(neg), np.array(ranks)
    both = np.concatenate([pos, neg])
    r = np.empty(len(both))
    r[np.argsort(both, kind="stable")] = np.arange(1, len(both) + 1)
    auc = (r[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg))
    out = {"model": str(args.weights or args.model), "data": str(args.data), "clips": args.clips, "classes": C,
           "frame_auc": round(float(auc), 4), "top1": round(float(np.mean(ranks == 0)), 4),
           "top5": round(float(np.mean(ranks < 5)), 4), "median_rank": float(np.median(ranks))}
    print(f"{'data':<50} {'AUC':>6} {'top-1':>6} {'top-5':>6} {'median rank':>11}")
    print(f"{out['data']:<50} {out['frame_auc']:>6.3f} {out['top1']:>6.3f} {out['top5']:>6.3f} "
          f"{out['median_rank']:>11.0f}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("name")
    t.add_argument("system")
    t.add_argument("--beta", type=float, default=0.5, help="multitask: weight of the SED term")
    t.add_argument("--init", default="", help="start from this checkpoint (other classes: fresh class outputs)")
    t.add_argument("--pit-beta", type=float, default=math.nan,
                   help="multitask: the SED term's weight in choosing the track permutation (default: --beta)")
    t.add_argument("--sed-bias", type=float, default=math.nan)
    t.add_argument("--steps", type=int, default=1242, help="9 epochs of the cpu scale: the AGG branch point")
    t.add_argument("--max-overlap", type=int, default=0, help="scenes with at most this many events at once")
    t.add_argument("--size", default="", help="network size instead of the grid's (compact)")
    t.add_argument("--classes", default="gm177", help="the vocabulary (gm177, gm45, home13)")
    t.add_argument("--train-clips", type=int, default=0, help="training scenes instead of the grid's 96")
    r = sub.add_parser("rank")
    r.add_argument("--model", required=True, help="a checkpoint of the run (its network and features)")
    r.add_argument("--weights", default="", help="a training state (last.pt, epochN.pt) to score instead")
    r.add_argument("--data", required=True)
    r.add_argument("--clips", type=int, default=8)
    r.add_argument("--json", default="")
    args = ap.parse_args()
    train_probe(args) if args.cmd == "train" else rank(args)


if __name__ == "__main__":
    main()
