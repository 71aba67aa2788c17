"""``seld-train``: fit a SELD network from a TOML config (see training.config).

    seld-train --config training/configs/home13_seddoa_agg2.toml [--set optim.lr=3e-4 ...] [--out DIR]
               [--epochs N] [--resume]
    torchrun --nproc_per_node 4 -m training.train_cli --config ...     # data-parallel
    seld-train check-array ARRAY      # is a mic array usable, and what training makes of it (training.array_check)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from seld_live.command import run_command
from seld_live.errors import UsageError


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["check-array"]:
        from training.array_check import main as check_array_main

        return check_array_main(argv[1:])
    ap = argparse.ArgumentParser(prog="seld-train", description="Train a SELD network. "
                                 "'seld-train check-array ARRAY' checks a mic array before training for it.")
    ap.add_argument("--config", help="TOML config file")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a setting, e.g. optim.lr=3e-4 (repeatable)")
    ap.add_argument("--out", help="run folder (logs, checkpoints)")
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--arch", help="einv2, seddoa, accdoa, maccdoa")
    ap.add_argument("--loss", help="multitask, agg1, agg2, accdoa, adpit")
    ap.add_argument("--device", help="auto, cpu, cuda")
    ap.add_argument("--resume", action="store_true", help="continue the run in --out from its last epoch")
    ap.add_argument("--overwrite", action="store_true", help="start afresh in a run folder that holds checkpoints")
    ap.add_argument("--quiet", action="store_true", help="no progress bars")
    args = ap.parse_args(argv)
    sets = list(args.set)
    for flag, key in (("out", "out"), ("epochs", "optim.epochs"), ("arch", "model.arch"), ("loss", "loss.name"),
                      ("device", "device")):
        v = getattr(args, flag)
        if v is not None:
            sets.append(f"{key}={json.dumps(v)}")
    started = time.time()
    out: list[Path] = []  # the run folder, once the config is read

    def body() -> int:
        from training.config import load_config
        from training.train import train

        cfg = load_config(args.config, sets)
        out.append(Path(cfg.out))
        kept = [p.name for p in (Path(cfg.out) / "last.pt", Path(cfg.out) / "best.pt") if p.exists()]
        if kept and not (args.resume or args.overwrite):  # a new run must not silently replace an old one's
            raise UsageError(f"{cfg.out} already holds {' and '.join(kept)}; --resume continues that run, "
                             f"--overwrite starts afresh (replacing them), or choose another --out")
        train(cfg, resume=args.resume, progress=not args.quiet)
        return 0

    def interrupted() -> str:
        state = out[0] / "last.pt" if out else None
        if state is not None and state.exists() and (args.resume or state.stat().st_mtime >= started):
            return f"the last finished epoch is in {state} (--resume continues)"
        return "no epoch of this run had finished (nothing to resume)"

    return run_command("seld-train", body, interrupted=interrupted)


if __name__ == "__main__":
    sys.exit(main())
