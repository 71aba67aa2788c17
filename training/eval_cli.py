"""``seld-eval``: evaluation commands.

``seld-eval model --model M --data DIR [--pred-out DIR] [--json OUT] [--per-class]`` runs a checkpoint over a
dataset and scores it (see ``training.evaluate``); with ``--pred-out`` it also writes its predictions as DCASE CSV
(nothing is written unless asked). A clip without audio is named in a warning and its reference events count as
missed, as the DCASE scorer counts a clip without predictions.

``seld-eval score --ref REF --pred PRED [--json OUT] [--num-classes N] [--array A] [--all-classes]`` scores DCASE
CSV predictions (files, or folders paired by file name) and prints a table; with ``--json`` it also writes the
metrics (see ``training.scoring``).

Both tables show LE_az, the azimuth error of LE_CD's matches, beside LE_CD (and the JSON has it: ``LE_az``, in
``micro`` and ``per_class`` too); for a dataset recorded with a planar array (its ``array.toml``; for ``score``
found next to or above REF, or named with ``--array``) reference and prediction are scored folded above the
array's plane, since it cannot tell up from down, and the table says so. SELD is the official score and does not use it.

Both print the event-onset latency after the metrics table (per class with ``--per-class`` /
``--all-classes``) and write it to the JSON under ``onset_latency``. ``seld-eval tune`` tunes a checkpoint's
thresholds on validation data. ``seld-eval compare --ref REF --pred A=DIR --pred B=DIR [--json OUT]`` scores several
models' predictions on one test with paired bootstrap intervals over its clips (``training.bootstrap``).
Each subcommand is a function that adds its subparser and sets ``func``.

Exit status as every command (``seld_live.command``): input problems print one line on stderr and exit with
status 1, usage errors 2, an interruption 130.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from seld_live.command import EXIT_USAGE, run_command
from seld_live.decode import check_threshold
from seld_live.errors import SeldError


def _checked(args: argparse.Namespace) -> int:
    """The command, once its output paths are known to be usable (checked before any work)."""
    from pathlib import Path

    json_out = getattr(args, "json", None)
    if json_out and not Path(json_out).parent.is_dir():
        raise SeldError(f"--json {json_out}: folder {Path(json_out).parent} not found")
    record = getattr(args, "record_test", None)
    if record:
        if Path(record).exists() and not args.overwrite:
            raise SeldError(f"--record-test {record} exists (use --overwrite to replace it)")
        if not Path(record).parent.is_dir():
            raise SeldError(f"--record-test {record}: folder {Path(record).parent} not found")
    pred_out = getattr(args, "pred_out", None)
    if pred_out:
        folder = Path(pred_out)
        if folder.exists() and not folder.is_dir():
            raise SeldError(f"--pred-out {folder}: exists and is not a folder")
        if folder.is_dir() and not args.overwrite and any(folder.rglob("*.csv")):
            raise SeldError(f"--pred-out {folder}: already holds CSV files (use --overwrite to replace them, or "
                            "another folder)")
    return args.func(args)


def _save_json(args: argparse.Namespace, result: dict) -> None:
    from training.scoring import write_json

    if args.json:
        write_json(args.json, result)
        print(f"metrics written to {args.json}")


def _run_score(args: argparse.Namespace) -> int:
    from training.scoring import format_table, score_paths

    result = score_paths(args.ref, args.pred, args.num_classes, array=args.array)
    print(format_table(result, all_classes=args.all_classes))
    _save_json(args, result)
    return 0


def add_score_command(subparsers) -> None:
    p = subparsers.add_parser("score", help="score DCASE CSV predictions against references",
                              description="Score DCASE CSV predictions (frame,class,track,azimuth,elevation"
                                          "[,distance]) against references: two files, or two folders whose "
                                          ".csv files are paired by name.")
    p.add_argument("--ref", required=True, help="reference CSV file or folder")
    p.add_argument("--pred", required=True, help="predicted CSV file or folder")
    p.add_argument("--json", metavar="OUT", help="also write the metrics to this JSON file")
    _add_reference_options(p)
    p.add_argument("--all-classes", action="store_true",
                   help="list every class, not only those with events, and the onset latency per class")
    p.set_defaults(func=_run_score)


def _run_compare(args: argparse.Namespace) -> int:
    from training.bootstrap import bootstrap_compare, clip_counts, format_comparison
    from training.scoring import folded_if_planar, read_tables

    named = [_named_pred(p) for p in args.pred]
    if len(named) < 2:
        raise SeldError("seld-eval compare needs two --pred NAME=FOLDER or more")
    if len({n for n, _ in named}) < len(named):
        raise SeldError("--pred names must differ")
    if args.resamples < 100:
        raise SeldError(f"--resamples must be 100 or more, got {args.resamples}")
    if not 0.5 <= args.level < 1:
        raise SeldError(f"--level must lie in [0.5, 1), got {args.level}")
    counts = {}
    for name, folder in named:
        t = read_tables(args.ref, folder, args.num_classes, array=args.array)
        counts[name] = clip_counts(folded_if_planar(t.refs, t.array), folded_if_planar(t.preds, t.array),
                                   len(t.class_names))
    result = bootstrap_compare(counts, args.resamples, args.seed, args.level, class_names=t.class_names)
    result["predictions"] = {n: str(f) for n, f in named}
    print(format_comparison(result, per_class=args.per_class))
    _save_json(args, result)
    return 0


def _named_pred(text: str) -> tuple[str, str]:
    name, sep, folder = text.partition("=")
    if not sep or not name or not folder:
        raise SeldError(f"--pred {text}: give it as NAME=FOLDER")
    return name, folder


def add_compare_command(subparsers) -> None:
    p = subparsers.add_parser("compare", help="compare models' predictions on one test, with bootstrap intervals",
                              description="Score several models' DCASE CSV predictions against the same "
                                          "references and say how far each figure, and each model's difference "
                                          "from the first, would move on other scenes: a paired bootstrap over "
                                          "the clips (the clips' sources are not resampled).")
    p.add_argument("--ref", required=True, help="reference CSV folder")
    p.add_argument("--pred", required=True, action="append", metavar="NAME=FOLDER",
                   help="a model's predictions (repeat; the first is the baseline of the differences)")
    p.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the resampling (default 0)")
    p.add_argument("--level", type=float, default=0.95, help="interval level (default 0.95)")
    p.add_argument("--json", metavar="OUT", help="also write the comparison to this JSON file (per-class F20 too)")
    p.add_argument("--per-class", action="store_true", help="also print each class's F20 with its interval")
    _add_reference_options(p)
    p.set_defaults(func=_run_compare)


def _add_reference_options(p: argparse.ArgumentParser) -> None:
    """What the references are, where REF does not say it (the commands that score CSV files)."""
    p.add_argument("--num-classes", type=int, default=None,
                   help="number of classes (default: classes.tsv next to/above REF, else largest index + 1)")
    p.add_argument("--array", metavar="PRESET|TOML",
                   help="the recordings' array (default: array.toml next to/above REF, else unknown); a planar "
                        "one is scored folded above its plane")


def _warn(message: str) -> None:
    print(f"seld-eval: warning: {message}", file=sys.stderr, flush=True)


def _run_model(args: argparse.Namespace) -> int:
    from training.evaluate import evaluate_model
    from training.scoring import format_table

    threshold = None if args.threshold is None else check_threshold(args.threshold, "--threshold")
    result = evaluate_model(args.model, args.data, device="cpu" if args.cpu else "auto", threshold=threshold,
                            pred_dir=args.pred_out, progress=not args.quiet, warn=_warn, views=args.views)
    views = result["model"]["views"]
    print(f"model {result['model']['path']} ({result['model']['arch']}, {result['model']['output_kind']}, "
          f"threshold {result['model']['threshold']:g}" + (f", {views} rotated views" if views > 1 else "")
          + f") on {args.data}")
    print(format_table(result, all_classes=args.per_class))
    if args.pred_out:
        print(f"predictions written to {args.pred_out}/")
    _save_json(args, result)
    if args.record_test:
        _record_test(args.model, args.record_test, args.data, result)
    return 0


def _record_test(model_path: str, out: str, data: str, result: dict) -> None:
    """The checkpoint again, with these scores as its test result (what ``seld-live --list-models`` shows)."""
    from pathlib import Path

    from seld_live.checkpoint import load_model, save_checkpoint
    from seld_live.paths import resolve_model
    from training.data import scenes_identity
    from training.metrics import SELD_KEYS

    model, meta = load_model(resolve_model(model_path))
    folder = Path(data).resolve()
    meta.training = {**meta.training, "test": {"data": f"{folder.parent.name}/{folder.name}",
                                               "scenes": scenes_identity(folder),
                                               **{k: result[k] for k in SELD_KEYS}}}
    save_checkpoint(out, model, meta)
    print(f"model with its test scores written to {out}")


def add_model_command(subparsers) -> None:
    p = subparsers.add_parser("model", help="run a checkpoint over a dataset and score it",
                              description="Run a checkpoint offline over every clip of a dataset (seld-synth "
                                          "or STARSS23 layout), write its predictions as DCASE CSV and score them.")
    p.add_argument("--model", required=True, help="checkpoint (a bare name looks in assets/models/)")
    p.add_argument("--data", required=True, help="dataset folder")
    p.add_argument("--json", metavar="OUT", help="also write the metrics to this JSON file")
    p.add_argument("--pred-out", "--pred-dir", dest="pred_out", metavar="DIR",
                   help="also write the predictions as DCASE CSV into this folder (default: not written)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace prediction files already in --pred-out, and the --record-test file")
    p.add_argument("--threshold", type=float, help="detection threshold (default: the checkpoint's)")
    p.add_argument("--per-class", action="store_true", help="list every class, with its onset latency")
    p.add_argument("--record-test", metavar="OUT.pt",
                   help="also write the checkpoint with these scores recorded as its test result (the test F20 "
                        "that seld-live --list-models shows); --data must be a test set")
    _add_run_options(p)
    p.set_defaults(func=_run_model)


def _run_tune(args: argparse.Namespace) -> int:
    from pathlib import Path

    from seld_live.checkpoint import load_model, save_checkpoint
    from seld_live.detector import Detector
    from training.evaluate import predict_dataset
    from training.tuning import tune_decoding

    out = Path(args.out)
    if out.exists() and not args.overwrite:
        raise SeldError(f"{out} exists (use --overwrite to replace it)")
    det = Detector.load(args.model, device="cpu" if args.cpu else "auto")
    if args.views is not None:
        det.views = args.views  # tuned with them, and kept in the checkpoint's decoding
    preds = [p for d in args.data for p in predict_dataset(det, d, progress=not args.quiet, warn=_warn)]
    record, m = tune_decoding(det, preds, class_offsets=not args.no_class_offsets)
    model, meta = load_model(det.path)
    meta.decode = det.decode_config
    meta.training = {**meta.training, **record, "threshold_tuned_on": [Path(d).name for d in args.data]}
    save_checkpoint(out, model, meta)
    print(f"threshold {record['threshold']:g}, class offsets "
          + ", ".join(f"{c} {o:+.2f}" for c, o in record["class_offsets"].items()))
    print(f"validation with them ({det.views} view(s)): F20 {m['F20']:.3f}, LE_CD {m['LE_CD']:.1f}, "
          f"SELD {m['SELD']:.3f}; written to {out}")
    return 0


def add_tune_command(subparsers) -> None:
    p = subparsers.add_parser("tune", help="tune a checkpoint's detection thresholds on validation data",
                              description="Tune the detection threshold, then a per-class offset to it, on "
                                          "validation datasets (never the test set), and write the checkpoint "
                                          "with them.")
    p.add_argument("--model", required=True, help="checkpoint (a bare name looks in assets/models/)")
    p.add_argument("--data", required=True, action="append", help="validation dataset folder (repeatable)")
    p.add_argument("--out", required=True, help="the tuned checkpoint to write")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.add_argument("--no-class-offsets", action="store_true", help="one threshold for every class")
    _add_run_options(p)
    p.set_defaults(func=_run_tune)


def _add_run_options(p: argparse.ArgumentParser) -> None:
    """Options of the commands that run a checkpoint."""
    p.add_argument("--cpu", action="store_true", help="run on the CPU even where CUDA is available")
    p.add_argument("--views", type=int, metavar="N",
                   help="average the network over N rotations of the array (default: the checkpoint's; "
                        "seld_live.symmetry)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seld-eval", description="Evaluate SELD systems.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_score_command(subparsers)
    add_model_command(subparsers)
    add_tune_command(subparsers)
    add_compare_command(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    return run_command("seld-eval", lambda: _checked(args), interrupted="")


if __name__ == "__main__":
    sys.exit(main())
