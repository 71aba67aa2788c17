"""seld-bank: build the bank of real recordings from packages (see training/synth/bank.py).

    seld-bank --out data/bank                 # fetch, unpack, cut, split; prints the bank's table
    seld-bank --out data/bank --packages pyo,pygame
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from seld_live.atomic import write_text_atomic
from seld_live.command import run_command
from seld_live.errors import SeldError, UsageError
from training.synth.bank import BankReport, build_bank, subset_bank
from training.synth.bank_soundfont import render_soundfont
from training.synth.bank_splits import HOLDOUTS, SPLITS, split_key, view_split
from training.synth.real_bank import DEFAULT_BANK, Recording


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seld-bank", description="Build the bank of real recordings from packages.")
    p.add_argument("--out", default=str(DEFAULT_BANK), help=f"bank folder (default {DEFAULT_BANK})")
    p.add_argument("--packages", default=None, help="comma-separated subset of the recipe's packages")
    p.add_argument("--sample-rate", type=int, default=24000, help="Hz (default 24000, the model rate)")
    p.add_argument("--rebuild", action="store_true",
                   help="build again even if the bank is up to date (same packages, recipe and code)")
    p.add_argument("--subset-of", metavar="BANK", help="instead of building: a bank of BANK's recordings whose "
                   "licence matches --licence (a regex), for scenes that are shipped")
    p.add_argument("--licence", default="", help="with --subset-of: licence regex, e.g. 'CC0|CC-BY-3.0|MIT'")
    return p


def summary(recs: list[Recording]) -> dict:
    """Per pool: packages, then per holdout (cross-source, recording-level) and split the sources (recording
    groups), packages, files and minutes. Training is the same in both holdouts."""
    table: dict[str, dict] = {}
    for r in recs:
        row = table.setdefault(split_key(r), {"packages": [], **{h: {s: {"groups": set(), "packages": set(),
                                                                          "files": 0, "minutes": 0.0}
                                                                      for s in SPLITS} for h in HOLDOUTS}})
        if r.package not in row["packages"]:
            row["packages"].append(r.package)
        for h in HOLDOUTS:
            split = view_split(r, h)
            if not split:
                continue
            cell = row[h][split]
            cell["groups"].add(r.group)
            cell["packages"].add(r.package)
            cell["files"] += 1
            cell["minutes"] += r.duration / 60
    return {k: {"packages": v["packages"],
                **{h: {s: {"groups": len(c["groups"]), "packages": len(c["packages"]), "files": c["files"],
                           "minutes": round(c["minutes"], 2)} for s, c in v[h].items()} for h in HOLDOUTS}}
            for k, v in sorted(table.items())}


def format_summary(table: dict) -> str:
    """Sources (groups) / packages / minutes per split: cross-source train, val, test, then the
    recording-level val and test (held-out recordings of training sources)."""
    head = ["train", "val", "test", "val_rec", "test_rec"]
    lines = [f"{'pool':<16} " + " ".join(f"{h + ' src/pkg/min':>20}" for h in head) + "  packages"]
    for k, v in table.items():
        cells = [v["source"][s] for s in SPLITS] + [v["recording"][s] for s in ("val", "test")]
        text = [f"{c['groups']}/{c['packages']}/{c['minutes']:.1f}" for c in cells]
        lines.append(f"{k:<16} " + " ".join(f"{t:>20}" for t in text) + f"  {len(v['packages'])}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    packages = [p.strip() for p in args.packages.split(",")] if args.packages else None
    if args.licence and not args.subset_of:
        raise UsageError("--licence goes with --subset-of")
    try:
        if args.subset_of:
            n = subset_bank(args.subset_of, args.out, args.licence or ".")
            print(f"seld-bank: {n} recordings of {args.subset_of} with licences matching {args.licence!r} "
                  f"in {args.out}")
            return 0
        if not 8000 <= args.sample_rate <= 96000 or args.sample_rate % 100:
            raise SeldError(f"--sample-rate must be a multiple of 100 Hz within 8000..96000 (scenes need a whole "
                            f"number of samples per 10 ms), got {args.sample_rate}")
        report: BankReport = build_bank(args.out, sample_rate=args.sample_rate, packages=packages,
                                        log=lambda m: print(m, file=sys.stderr), render_soundfont=render_soundfont,
                                        rebuild=args.rebuild)
    except json.JSONDecodeError as e:  # a damaged manifest.json
        raise SeldError(f"a bank manifest is not valid JSON: {e}") from None
    except re.error as e:
        raise SeldError(f"--licence {args.licence!r} is not a regular expression: {e}") from None
    table = summary(report.recordings)
    write_text_atomic(Path(args.out) / "summary.json", json.dumps(table, indent=1) + "\n")
    print(format_summary(table))
    print(f"seld-bank: {len(report.recordings)} recordings, {report.duplicates} duplicates dropped, "
          f"{len(report.skipped)} skipped (listed in {args.out}/manifest.json)")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Exit status as every command (``seld_live.command``): 1 error, 2 usage, 130 interrupted."""
    args = build_parser().parse_args(argv)
    return run_command("seld-bank", lambda: run(args),
                       interrupted="run the same command again (downloads are kept)")


if __name__ == "__main__":
    sys.exit(main())
