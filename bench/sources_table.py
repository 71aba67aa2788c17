"""Sources per class and split: how many distinct sources each class of a class list draws from.

    python bench/sources_table.py [--bank data/bank] [--classes home13_real] [--json docs/results/sources.json]

A source is a recording group of the bank (a speaker, an instrument or sample set, one SoundFont's rendering
of a class, one package's recording of one thing: training/synth/bank.py) or a renderer the class list uses
at synthesis time (FluidR3 for `gm`/`drum` sources, espeak-ng for `speech`: one source each, training only,
since the real val and test sets draw from the bank alone). Columns: cross-source train / val / test, then
the recording-level val / test (held-out recordings of training sources), as sources (packages).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seld_live.atomic import write_json_atomic
from training.synth.bank_splits import HOLDOUTS, SPLITS, split_key, view_split
from training.synth.classes import load_class_list
from training.synth.real_bank import RealBank

MIN_TRAIN, MIN_HELD = 12, 3  # the floor: sources per class in training, and in each of val and test


def count_sources(bank: RealBank, classes_name: str) -> dict[str, dict]:
    """Per class: {holdout/split: {"sources": n, "packages": n}} and the renderers it adds in training."""
    classes = load_class_list(classes_name)
    table: dict[str, dict] = {}
    for c in classes.classes:
        pools = {s.pool for s in c.sources if s.kind == "file"}
        renderers = sorted({"FluidR3" if s.kind in ("gm", "drum") else "espeak-ng"
                            for s in c.sources if s.kind in ("gm", "drum", "speech")})
        row: dict = {"pools": sorted(pools), "renderers": renderers}
        for h in HOLDOUTS:
            for split in SPLITS:
                groups, packages = set(), set()
                for r in bank.recordings:
                    if split_key(r) in pools and view_split(r, h) == split:
                        groups.add(r.group)
                        packages.add(r.package)
                n = len(groups) + (len(renderers) if split == "train" else 0)
                row[f"{h}/{split}"] = {"sources": n, "packages": len(packages) + (
                    len(renderers) if split == "train" else 0)}
        table[c.name] = row
    return table


def format_table(table: dict[str, dict]) -> str:
    cols = [("source/train", "train"), ("source/val", "val"), ("source/test", "test"),
            ("recording/val", "val (rec)"), ("recording/test", "test (rec)")]
    lines = ["| class | " + " | ".join(name for _, name in cols) + " | below the floor |",
             "|---|" + "---|" * (len(cols) + 1)]
    for name, row in table.items():
        cells = [f"{row[k]['sources']} ({row[k]['packages']})" for k, _ in cols]
        short = [label for k, label, floor in (("source/train", "train", MIN_TRAIN), ("source/val", "val", MIN_HELD),
                                               ("source/test", "test", MIN_HELD)) if row[k]["sources"] < floor]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {', '.join(short) or '-'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bank", default="data/bank")
    p.add_argument("--classes", default="home13_real")
    p.add_argument("--json", default="")
    args = p.parse_args(argv)
    bank = RealBank(Path(args.bank))
    table = count_sources(bank, args.classes)
    print("sources (packages) per class and split; training adds the renderers of the class list")
    print(format_table(table))
    if args.json:
        write_json_atomic(Path(args.json), {"bank": str(args.bank), "bank_manifest_sha1": bank.digest,
                                            "classes": args.classes, "table": table})
    return 0


if __name__ == "__main__":
    sys.exit(main())
