"""seld-live: live sound event localization and detection from a device or a file, in a window or headless.

    seld-live                                    # the demo scene in the window
    seld-live --device 3 --headless              # JSON lines on stdout
    seld-live --replay scene.flac --speed max --headless --output events.csv
    seld-live --list-devices
    seld-live --list-models                      # the shipped models and their arrays
    seld-live --array foa --device 3             # the shipped model for that array

The options become a ``RunOptions`` (seld_live/launch.py), which builds the engine; without ``--headless`` the
window (``seld_live.gui.app``) takes the same options. Exit status: seld_live/command.py.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path

from seld_live.command import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, run_command
from seld_live.errors import UsageError
from seld_live.launch import NO_DISPLAY, RunOptions, build_engine, has_display
from seld_live.paths import DEFAULT_MODEL

PROG = "seld-live"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="Real-time sound event localization and detection.")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--device", help="capture from this input device: index or (part of its) name")
    src.add_argument("--replay", metavar="FILE", help="replay a WAV/FLAC file (default: the demo scene)")
    p.add_argument("--model", help="checkpoint; a bare name is looked up in assets/models/ (default: the shipped "
                                    f"model for --array, else {DEFAULT_MODEL.name}; see --list-models)")
    p.add_argument("--cpu", action="store_true", help="run the network on the CPU even if CUDA is available")
    p.add_argument("--threads", type=int, default=1, metavar="N",
                   help="CPU threads for the network (default 1: a 100 ms hop is too little work to share)")
    p.add_argument("--headless", action="store_true", help="no window: events as JSON lines on stdout (or --output)")
    p.add_argument("--output", metavar="FILE", help="write events to FILE: .csv (DCASE) or .jsonl")
    p.add_argument("--record", metavar="FILE.flac", help="record the input audio (model rate, selected channels)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --output or --record file")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds of audio")
    p.add_argument("--threshold", type=float, help="detection threshold (default: the checkpoint's)")
    p.add_argument("--views", type=int, metavar="N",
                   help="average the network over N rotations of the array per hop (default: the checkpoint's; "
                        "1 runs it once, for a slow CPU; its thresholds were tuned at the checkpoint's count)")
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
    p.add_argument("--list-models", action="store_true",
                   help="list the shipped models (array, classes, size, test F20) and exit")
    p.add_argument("--quiet", action="store_true", help="no progress or summary on stderr")
    p.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    return p


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("seld-live")
    except PackageNotFoundError:  # a bare checkout on PYTHONPATH
        return "unknown (not installed)"


# --- entry point -----------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.ERROR if args.quiet else logging.INFO, format=f"{PROG}: %(message)s",
                        stream=sys.stderr)
    return run_command(PROG, lambda: _main(args))


def _main(args: argparse.Namespace) -> int:
    if args.list_devices:
        from seld_live.audio.devices import format_device_table, list_input_devices

        print(format_device_table(list_input_devices()))
        return EXIT_OK
    if args.list_models:
        from seld_live.model_catalog import format_model_table, shipped_models

        print(format_model_table(shipped_models()))
        return EXIT_OK
    opts = RunOptions.from_args(args)
    if opts.headless:
        return _run_headless(opts)
    if not has_display():  # decided here, once, before anything heavy is imported
        raise UsageError(NO_DISPLAY)
    try:
        from seld_live.gui.app import run_app  # the window is optional: Qt loads only here
    except ImportError as e:
        raise UsageError(f"the window cannot start ({e}); run with --headless") from None
    return int(run_app(opts))


def _run_headless(opts: RunOptions) -> int:
    # Ctrl-C and SIGTERM only note the request: an exception raised inside a threading wait can leave that
    # wait's lock held, and stopping the engine then deadlocks (seen under load); the loops poll the note
    requested: list[int] = []
    handlers = {s: signal.signal(s, lambda signum, _frame: requested.append(signum))
                for s in (signal.SIGINT, signal.SIGTERM)}
    engine = None
    try:
        engine = build_engine(opts)
        first = engine.subscribe(maxsize=1)
        if not requested:
            engine.start()
        # say we are running once audio flows (a device can take a second or two to deliver its first block)
        while not requested and not engine.wait(0.05) and first.empty():
            pass
        engine.unsubscribe(first)
        if not opts.quiet and not requested:
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
    return _summarise(opts, engine, interrupted=bool(requested))


def _summarise(opts: RunOptions, engine, interrupted: bool) -> int:
    """The exit summary on stderr, and the exit status: a failed run, output or recording is an error."""
    stats = engine.stats
    failed = engine.error or stats.recording_error
    if not opts.quiet:
        how = "stopped" if interrupted else "failed" if failed else "done"
        print(f"{PROG}: {how}: {stats.format()}", file=sys.stderr)
        for line in stats.warnings():
            print(f"{PROG}: {line}", file=sys.stderr)
    for err in (engine.error, stats.recording_error):
        if err:
            print(f"{PROG}: error: {err}", file=sys.stderr)
    if failed:
        outs = [str(p) for p in (opts.output, opts.record) if p is not None]
        if outs:
            print(f"{PROG}: kept what was written before the error: {', '.join(outs)}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_INTERRUPTED if interrupted else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
