"""seld-live: live sound event localization and detection from a device or a file, in a window or headless.

    seld-live                                    # the demo scene in the window
    seld-live --device 3 --headless              # JSON lines on stdout
    seld-live --replay scene.flac --speed max --headless --output events.csv
    seld-live --list-devices

Without ``--headless`` the window (``seld_live.gui``) takes over; it builds its engine with ``build_engine``.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path

from seld_live.errors import CheckpointError, SeldError
from seld_live.paths import DEFAULT_MODEL, DEMO

PROG = "seld-live"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="Real-time sound event localization and detection.")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--device", help="capture from this input device: index or (part of its) name")
    src.add_argument("--replay", metavar="FILE", help="replay a WAV/FLAC file (default: the demo scene)")
    p.add_argument("--model", default=str(DEFAULT_MODEL),
                   help="checkpoint; a bare name is looked up in assets/models/ (default: seddoa_agg2.pt)")
    p.add_argument("--cpu", action="store_true", help="run the network on the CPU even if CUDA is available")
    p.add_argument("--threads", type=int, default=1, metavar="N",
                   help="CPU threads for the network (default 1: a 100 ms hop is too little work to share)")
    p.add_argument("--headless", action="store_true", help="no window: events as JSON lines on stdout (or --output)")
    p.add_argument("--output", metavar="FILE", help="write events to FILE: .csv (DCASE) or .jsonl")
    p.add_argument("--record", metavar="FILE.flac", help="record the input audio (model rate, selected channels)")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds of audio")
    p.add_argument("--threshold", type=float, help="detection threshold (default: the checkpoint's)")
    p.add_argument("--channels", help="1-based device/file channels in array order, e.g. 2,3,4,5 "
                                      "(default: the array preset's)")
    p.add_argument("--array", help="array preset or TOML file of the capturing array (default: the model's)")
    p.add_argument("--device-rate", type=int, metavar="HZ", help="open the device at this rate (default: automatic)")
    p.add_argument("--speed", default="1", help="replay speed: 1 = real time, 4, ..., or max (default: 1)")
    p.add_argument("--loop", action="store_true", help="replay the file in a loop")
    p.add_argument("--no-tracking", action="store_true",
                   help="write the detector's events unchanged (track = output slot) instead of tracked events")
    p.add_argument("--max-backlog", type=float, default=2.0, metavar="S",
                   help="drop whole hops when inference falls more than S seconds behind (default: 2)")
    p.add_argument("--list-devices", action="store_true", help="list input devices and exit")
    p.add_argument("--quiet", action="store_true", help="no progress or summary on stderr")
    return p


# --- building blocks shared with the window -----------------------------------------------------------------
def load_detector(args: argparse.Namespace):
    import torch

    from seld_live.detector import Detector

    threads = getattr(args, "threads", 1)
    if threads < 1:
        raise SeldError(f"--threads {threads}: expected 1 or more")
    torch.set_num_threads(threads)
    if args.model == str(DEFAULT_MODEL) and not DEFAULT_MODEL.exists():
        raise CheckpointError(f"the default model {DEFAULT_MODEL} is missing; give one with --model")
    det = Detector.load(args.model, device="cpu" if args.cpu else "auto")
    if args.threshold is not None:
        _check_threshold(args.threshold)
        det.threshold = args.threshold
    return det


def _check_threshold(v: float) -> None:
    if not 0.0 < v < 1.5:
        raise SeldError(f"--threshold {v}: expected a value in (0, 1.5)")


def demo_scene() -> Path:
    found = sorted([*DEMO.glob("*.flac"), *DEMO.glob("*.wav")])
    if not found:
        raise SeldError(f"no input given and the demo scene is missing from {DEMO}; use --device or --replay")
    return found[0]


def make_source(args: argparse.Namespace, det):
    from seld_live.audio import FileSource, parse_channels, parse_speed
    from seld_live.geometry import load_array

    geo = det.array
    if args.array:
        geo = load_array(args.array)
        if not geo.same_layout(det.array):
            raise CheckpointError(
                f"the model was trained for the {det.array.name} ({det.array.format}); "
                f"array '{args.array}' ({geo.name}) has a different layout"
            )
    channels = parse_channels(args.channels) if args.channels else None
    if channels is not None and len(channels) != det.num_channels:
        raise SeldError(f"--channels lists {len(channels)} channels; the model needs {det.num_channels}")
    if args.device is not None:
        from seld_live.audio.device import DeviceSource

        return DeviceSource(args.device, det.sample_rate, det.num_channels, channels=channels or geo.channels,
                            device_rate=args.device_rate)
    path = Path(args.replay) if args.replay else demo_scene()
    return FileSource(path, det.sample_rate, det.num_channels, channels=channels, speed=parse_speed(args.speed),
                      loop=args.loop, fallback_channels=geo.channels)


def make_sinks(args: argparse.Namespace, headless: bool) -> list:
    from seld_live.sinks import open_output, stdout_sink

    if args.output:
        return [open_output(args.output)]
    return [stdout_sink()] if headless else []


def build_engine(args: argparse.Namespace, headless: bool = False):
    """Detector, source, sinks and recording from the command line: what both the CLI and the window run."""
    from seld_live.engine import Engine, EngineConfig

    _validate(args)
    det = load_detector(args)
    source = make_source(args, det)
    config = EngineConfig(tracking=not args.no_tracking, duration_s=args.duration, max_backlog_s=args.max_backlog)
    sinks = make_sinks(args, headless)
    engine = Engine(det, source, config, sinks)
    if args.record:
        try:
            engine.start_recording(args.record)
        except SeldError:
            engine.stop()
            raise
    return engine


def _validate(args: argparse.Namespace) -> None:
    if args.duration is not None and not args.duration > 0:
        raise SeldError(f"--duration {args.duration}: expected a positive number of seconds")
    if args.max_backlog is not None and not args.max_backlog > 0:
        raise SeldError(f"--max-backlog {args.max_backlog}: expected a positive number of seconds")
    if args.threshold is not None:
        _check_threshold(args.threshold)
    if args.output and Path(args.output).suffix.lower() not in (".csv", ".jsonl"):
        raise SeldError(f"--output {args.output}: unknown format (use .csv or .jsonl)")
    if args.record and Path(args.record).suffix.lower() != ".flac":
        raise SeldError(f"--record {args.record}: recordings are FLAC files (use a .flac name)")


def has_display() -> bool:
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                or os.environ.get("QT_QPA_PLATFORM", "").split(":")[0] in ("offscreen", "minimal", "vnc", "eglfs"))


# --- entry point -----------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.ERROR if args.quiet else logging.INFO, format=f"{PROG}: %(message)s",
                        stream=sys.stderr)
    try:
        if args.list_devices:
            from seld_live.audio.devices import format_device_table, list_input_devices

            print(format_device_table(list_input_devices()))
            return 0
        if args.device is not None and (args.loop or str(args.speed) != "1"):
            raise SeldError("--speed and --loop apply to --replay, not to --device")
        if not args.headless:
            return _run_window(args)
        return _run_headless(args)
    except SeldError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _run_window(args: argparse.Namespace) -> int:
    if not has_display():
        print(f"{PROG}: no display found; run with --headless to print events as JSON lines "
              f"(or --output FILE)", file=sys.stderr)
        return 2
    try:
        from seld_live.gui.app import run_app  # the window is optional: Qt loads only here
    except ImportError as e:
        print(f"{PROG}: the window cannot start ({e}); run with --headless", file=sys.stderr)
        return 2
    return int(run_app(args))


def _run_headless(args: argparse.Namespace) -> int:
    # Ctrl-C and SIGTERM only note the request: an exception raised inside a threading wait can leave that
    # wait's lock held, and stopping the engine then deadlocks (seen under load); the loops poll the note
    requested: list[int] = []
    handlers = {s: signal.signal(s, lambda signum, _frame: requested.append(signum))
                for s in (signal.SIGINT, signal.SIGTERM)}
    engine = None
    try:
        engine = build_engine(args, headless=True)
        first = engine.subscribe(maxsize=1)
        if not requested:
            engine.start()
        # say we are running once audio flows (a device can take a second or two to deliver its first block)
        while not requested and not engine.wait(0.05) and first.empty():
            pass
        engine.unsubscribe(first)
        if not args.quiet and not requested:
            det = engine.detector
            print(f"{PROG}: model {Path(str(det.path)).name} ({det.output_kind}, {len(det.classes)} classes) on "
                  f"{det.device}; input: {engine.source.description}", file=sys.stderr, flush=True)
        while not requested and not engine.wait(0.2):
            pass
    finally:
        if engine is not None:
            engine.stop()  # finishes the outputs and the recording in every case
        for s, h in handlers.items():
            signal.signal(s, h)
    interrupted = bool(requested)
    if not args.quiet:
        how = "stopped" if interrupted else "failed" if engine.error else "done"
        print(f"{PROG}: {how}: {engine.stats.format()}", file=sys.stderr)
        if engine.source.overflows:
            print(f"{PROG}: the device reported {engine.source.overflows} input overflows (audio was lost)",
                  file=sys.stderr)
    if engine.error:
        print(f"{PROG}: error: {engine.error}", file=sys.stderr)
        outs = [p for p in (args.output, args.record) if p]
        if outs:
            print(f"{PROG}: kept what was written before the error: {', '.join(outs)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
