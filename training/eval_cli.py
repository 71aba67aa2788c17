"""``seld-eval``: evaluation commands.

``seld-eval score --ref REF --pred PRED [--json OUT] [--num-classes N] [--all-classes]`` scores DCASE CSV
predictions (files, or folders paired by file name) and prints a table; with ``--json`` it also writes the
metrics (see ``training.scoring``). Input problems print one line on stderr and exit with status 1.

Other subcommands register themselves through ``build_parser``'s subparsers (``add_score_command`` is the
pattern: a function that adds a subparser and sets ``func``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from seld_live.errors import SeldError


def _run_score(args: argparse.Namespace) -> int:
    from training.scoring import format_table, score_paths, write_json

    result = score_paths(args.ref, args.pred, args.num_classes)
    print(format_table(result, all_classes=args.all_classes))
    if args.json:
        write_json(args.json, result)
        print(f"metrics written to {args.json}")
    return 0


def add_score_command(subparsers) -> None:
    p = subparsers.add_parser("score", help="score DCASE CSV predictions against references",
                              description="Score DCASE CSV predictions (frame,class,track,azimuth,elevation"
                                          "[,distance]) against references: two files, or two folders whose "
                                          ".csv files are paired by name.")
    p.add_argument("--ref", required=True, help="reference CSV file or folder")
    p.add_argument("--pred", required=True, help="predicted CSV file or folder")
    p.add_argument("--json", metavar="OUT", help="also write the metrics to this JSON file")
    p.add_argument("--num-classes", type=int, default=None,
                   help="number of classes (default: classes.tsv next to/above REF, else largest index + 1)")
    p.add_argument("--all-classes", action="store_true", help="list every class, not only those with events")
    p.set_defaults(func=_run_score)


def build_parser() -> tuple[argparse.ArgumentParser, argparse._SubParsersAction]:
    parser = argparse.ArgumentParser(prog="seld-eval", description="Evaluate SELD systems.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_score_command(subparsers)
    return parser, subparsers


def main(argv: Sequence[str] | None = None) -> int:
    parser, _ = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.func(args)
    except SeldError as e:
        print(f"seld-eval: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("seld-eval: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
