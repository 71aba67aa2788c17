"""seld-synth: make a spatial SELD dataset offline (DCASE layout, exact labels).

    seld-synth --out data/home13 --classes home13 --clips 20 --duration 60 --array dcase_mic \\
               --max-overlap 3 --seed 1 --split train --workers 2

Other scene settings (room sizes, distances, SNR, interferers...) come from ``--config FILE``: a
TOML or JSON table with the fields of ``training.synth.scene.SceneConfig``; flags override it.
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from dataclasses import replace
from pathlib import Path

from seld_live.command import run_command
from seld_live.errors import ConfigError, SeldError
from seld_live.geometry import load_array
from training.synth.bank_splits import HOLDOUTS
from training.synth.classes import KINDS, load_class_list
from training.synth.runner import default_workers, synthesize
from training.synth.scene import SceneConfig
from training.synth.soundbank import SPLITS
from training.synth.writer import SUBTYPES, DatasetSpec


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seld-synth", description="Synthesize a spatial SELD dataset (DCASE layout).")
    p.add_argument("--out", required=True, help="output directory (resumes if it holds the same dataset)")
    p.add_argument("--classes", default="home13", help="class list preset (home13, gm177) or TOML path")
    p.add_argument("--clips", type=int, default=10, help="number of clips")
    p.add_argument("--duration", type=float, default=None, help="seconds per clip (default 60)")
    p.add_argument("--array", default="dcase_mic", help="array preset (dcase_mic, foa, respeaker_v2) or TOML path")
    p.add_argument("--max-overlap", type=int, default=None, help="events active at once, at most (default 3)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--split", default="train", choices=SPLITS,
                   help="which renderings (notes, voices, words) to use; val and test hold unseen ones")
    p.add_argument("--workers", type=int, default=None, help="processes (default: CPU cores, at most 8)")
    p.add_argument("--sample-rate", type=int, default=None, help="Hz (default 24000)")
    p.add_argument("--moving", type=float, default=None, help="share of moving sources, 0..1 (default 0.4)")
    p.add_argument("--interferers", type=int, default=None, help="unlabelled noise sources per clip, at most")
    p.add_argument("--anechoic", action="store_true", help="free field instead of rooms")
    p.add_argument("--no-noise", action="store_true", help="no ambient noise")
    p.add_argument("--subtype", default="PCM_16", choices=SUBTYPES, help="FLAC sample format")
    p.add_argument("--sources", default=None,
                   help="only events from these source kinds, comma-separated: file (real recordings), gm, drum "
                        "(SoundFont renders), speech (espeak-ng); default: all that the class list names")
    p.add_argument("--bank", default=None, help="bank of real recordings (default data/bank or $SELD_BANK)")
    p.add_argument("--holdout", default="source", choices=HOLDOUTS,
                   help="val/test recordings of the bank: from held-out sources (default; what a user meets) or "
                        "held-out recordings of training sources (the recording-level split)")
    p.add_argument("--config", default=None, help="TOML or JSON file with SceneConfig fields")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def load_config(path: str | None) -> SceneConfig:
    if path is None:
        return SceneConfig()
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise SeldError(f"cannot read config {p}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise SeldError(f"{p}: not a text file") from None
    try:
        data = json.loads(text) if p.suffix == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as e:
        raise SeldError(f"{p}: not valid {'JSON' if p.suffix == '.json' else 'TOML'}: {e}") from None
    try:
        return SceneConfig.from_dict(data)
    except ConfigError as e:
        raise ConfigError(f"{p}: {e}") from None


def config_from_args(args: argparse.Namespace) -> SceneConfig:
    cfg = load_config(args.config)
    over = {}
    if args.duration is not None:
        over["duration"] = args.duration
    if args.max_overlap is not None:
        over["max_overlap"] = args.max_overlap
    if args.sample_rate is not None:
        over["sample_rate"] = args.sample_rate
    if args.moving is not None:
        over["moving_prob"] = args.moving
    if args.interferers is not None:
        over["interferers"] = args.interferers
    if args.anechoic:
        over["rt60"] = None
    if args.no_noise:
        over["snr_db"] = None
    cfg = replace(cfg, **over)
    cfg.validate()
    return cfg


def parse_sources(text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        raise SeldError(f"--sources takes kinds from {', '.join(KINDS)}, got {text!r}")
    return kinds


def run(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    spec = DatasetSpec(config=cfg, classes=load_class_list(args.classes), array=load_array(args.array),
                       split=args.split, seed=args.seed, subtype=args.subtype,
                       sources=parse_sources(args.sources), bank=args.bank or "", holdout=args.holdout)
    workers = args.workers if args.workers is not None else default_workers()
    report = synthesize(args.out, spec, args.clips, workers=workers, progress=not args.quiet)
    rate = report.audio_seconds / report.wall_seconds if report.wall_seconds > 0 and report.made else 0.0
    print(f"seld-synth: {report.made} clips made, {report.skipped} already there, in {args.out} "
          f"({report.audio_seconds:.0f} s of audio in {report.wall_seconds:.1f} s, {rate:.1f}x real time)")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Exit status as every command (``seld_live.command``): 1 error, 2 usage, 130 interrupted. An unwritable
    folder or a full disk is an error too: finished clips stay, and the same command resumes."""
    args = build_parser().parse_args(argv)
    return run_command("seld-synth", lambda: run(args),
                       interrupted="finished clips are kept, run the same command to resume")


if __name__ == "__main__":
    sys.exit(main())
