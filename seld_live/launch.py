"""One launch path for the command line and the window: run options -> detector, source, sinks, engine.

``RunOptions`` is the frozen, checked form of what the user asked for; ``cli.py`` builds it from the command
line and the window (``gui/app.py``) receives it, so both run exactly the same engine. Every check that can
fail on the user's input happens in ``RunOptions.from_args`` and ``check_outputs``, before a model is loaded
or any file is opened: a mistake costs no time and never truncates a file it should not touch.
This module does not import Qt.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from seld_live.audio.base import parse_channels
from seld_live.audio.file import parse_speed
from seld_live.decode import check_threshold
from seld_live.errors import AudioInputError, CheckpointError, SeldError, UsageError
from seld_live.paths import DEFAULT_MODEL, DEMO
from seld_live.sinks import OUTPUT_SUFFIXES
from seld_live.torchfile import check_torch_file

log = logging.getLogger("seld_live")

NO_DISPLAY = ("no display found (DISPLAY and WAYLAND_DISPLAY are not set); run with --headless to print events "
              "as JSON lines, or --output FILE to write them")


@dataclass(frozen=True)
class RunOptions:
    """What to run: the input, the model, the outputs and the engine's settings, all checked."""

    device: str | None = None  # capture from this device (index or name); None: replay
    replay: Path | None = None  # the file to replay; None with no device: the demo scene
    model: str = str(DEFAULT_MODEL)
    cpu: bool = False
    threads: int = 1
    headless: bool = False
    output: Path | None = None  # .csv or .jsonl
    record: Path | None = None  # .flac
    overwrite: bool = False
    duration: float | None = None  # seconds of audio
    threshold: float | None = None  # None: the checkpoint's
    views: int | None = None  # rotated views averaged per hop; None: the checkpoint's
    channels: tuple[int, ...] | None = None  # 1-based, in array order
    array: str | None = None
    array_from_input: bool = False  # ``array`` came from the input (a device's name, a recording's tag), not --array
    device_rate: int | None = None
    speed: float | str = 1.0  # replay speed, or "max"
    speed_given: bool = False  # asked for on the command line (else the window may use its saved speed)
    loop: bool = False
    tracking: bool = True
    max_backlog: float = 2.0  # seconds; live capture only
    quiet: bool = False

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> RunOptions:
        """The options of a parsed command line, each checked with a one-line message naming the option."""
        live = args.device is not None
        if live and (args.loop or str(args.speed) != "1"):
            raise UsageError("--speed and --loop apply to --replay, not to --device")
        threads = _check_threads(args.threads)
        array = args.array
        if not array:
            array = _array_of_device(str(args.device)) if live else _array_of_recording(args.replay)
        from_input = array is not None and not args.array
        return cls(
            device=str(args.device) if live else None,
            replay=Path(args.replay) if args.replay else None,
            model=_chosen_model(getattr(args, "model", None), array),
            cpu=bool(args.cpu),
            threads=threads,
            headless=bool(args.headless),
            output=_suffixed(args.output, "--output", OUTPUT_SUFFIXES, "use .csv or .jsonl"),
            record=_suffixed(args.record, "--record", (".flac",), "recordings are FLAC files: use a .flac name"),
            overwrite=bool(getattr(args, "overwrite", False)),
            duration=_positive_seconds(args.duration, "--duration"),
            threshold=None if args.threshold is None else check_threshold(args.threshold, "--threshold"),
            views=_check_views(getattr(args, "views", None)),
            channels=parse_channels(args.channels) if args.channels else None,
            array=array,
            array_from_input=from_input,
            device_rate=args.device_rate,
            speed=parse_speed(args.speed),
            speed_given=not live and str(args.speed) != "1",
            loop=bool(args.loop),
            tracking=not args.no_tracking,
            max_backlog=_positive_seconds(args.max_backlog, "--max-backlog"),
            quiet=bool(args.quiet),
        )

    @property
    def input_path(self) -> Path | None:
        """The file this run reads audio from (None for live capture)."""
        if self.device is not None:
            return None
        return self.replay if self.replay is not None else demo_scene()

    def for_device(self, device: Any) -> RunOptions:
        """The same run on another input device (a DeviceInfo or an index). A device known as an array (its
        name) brings that array, and its shipped model unless the current model is for it; a declared
        ``--array`` stays."""
        opts = replace(self, device=str(getattr(device, "index", device)), replay=None, loop=False, speed=1.0,
                       channels=None if self.device is None else self.channels)
        if self.array is not None and not self.array_from_input:
            return opts
        name = getattr(device, "name", None)
        return opts._with_input_array(_device_preset(name) if name else _array_of_device(str(device)))

    def _with_input_array(self, key: str | None) -> RunOptions:
        """These options with the array the input says it is (None: the model's), and a model for it."""
        if key is None:
            return replace(self, array=None, array_from_input=False)
        model = _model_for_input_array(self.model, key)
        same = model == self.model  # a new model: its own threshold and views
        return replace(self, array=key, array_from_input=True, model=model,
                       threshold=self.threshold if same else None, views=self.views if same else None)

    def for_replay(self, path: str | os.PathLike) -> RunOptions:
        """The same run replaying another file (the window's "Open file"); the channels given for the first
        input are dropped (the array preset's apply, as for any file). An array that came from the input gives way
        to the one this file's recording tag names (recording_tag), else to the model's; a declared ``--array``
        stays."""
        opts = replace(self, device=None, replay=Path(path), channels=None)
        if self.array is not None and not self.array_from_input:
            return opts
        return opts._with_input_array(_array_of_recording(path))

    def for_model(self, model: str | os.PathLike) -> RunOptions:
        """The same input with another model, at that model's own threshold and views. A declared ``--array``
        stays: it says what the input is, so a model for another array is refused (model_catalog.check_model_array)."""
        return replace(self, model=str(model), threshold=None, views=None)

    def with_outputs(self, output: Path | None, record: Path | None) -> RunOptions:
        return replace(self, output=output, record=record)


def _array_of_device(spec: str) -> str | None:
    """The array preset of a known array device (the ReSpeaker, by its USB name), else None: the model's array.

    Without it, a ReSpeaker would be read as the default model's tetrahedron, on channels 1-4 (the first is its
    processed beam), and every direction would be wrong without a word."""
    from seld_live.audio.devices import find_input_device

    try:
        info = find_input_device(spec)
    except AudioInputError:
        return None  # the capture reports it, with the device list
    return _device_preset(info.name)


def _device_preset(device_name: str) -> str | None:
    from seld_live.geometry import device_preset

    preset = device_preset(device_name)
    if preset is None:
        return None
    log.info("input device '%s' is a %s: array %s (give --array to say otherwise)", device_name, preset.name,
             preset.key)
    return preset.key


def _array_of_recording(path: str | os.PathLike | None) -> str | None:
    """The array preset a seld-live recording or seld-synth clip names in its tag (recording_tag), else None:
    the model's array."""
    if path is None:
        return None
    from seld_live.recording_tag import recorded_array

    key = recorded_array(path)
    if key is not None:
        log.info("%s says it was made with array %s: read as that array (give --array to say otherwise)",
                 Path(path).name, key)
    return key


def _model_for_input_array(model: str, key: str) -> str:
    """``model`` if it was trained for the array ``key``, else that array's shipped model (``model`` where none
    is shipped: the input is then refused with the reason, as for a declared array)."""
    from seld_live.geometry import load_array
    from seld_live.model_catalog import model_for_array, model_info

    try:
        geometry = model_info(model).geometry
    except CheckpointError:
        geometry = None  # unreadable: take the shipped one
    if geometry is not None and geometry.same_layout(load_array(key)):
        return model
    found = model_for_array(key)
    return model if found is None else str(found.path)


def _chosen_model(model: str | None, array: str | None) -> str:
    """``--model`` as given; without it the shipped model for ``--array``, else the default model."""
    if model:
        return str(model)
    if not array:
        return str(DEFAULT_MODEL)
    from seld_live.model_catalog import model_for_array, no_model_message  # reads checkpoints: torch

    found = model_for_array(array)
    if found is None:
        raise CheckpointError(no_model_message(array))
    log.info("model %s, the shipped model for array %s", found.name, found.array)
    return str(found.path)


def _check_views(n: int | None) -> int | None:
    if n is not None and n < 1:
        raise SeldError(f"--views {n}: expected 1 or more")
    return n


def _check_threads(n: int) -> int:
    if n < 1:
        raise SeldError(f"--threads {n}: expected 1 or more")
    cores = os.cpu_count() or 1
    if n > cores:
        log.warning("--threads %d: this machine has %d cores; using %d", n, cores, cores)
        return cores
    return n


def _positive_seconds(v: float | None, option: str) -> float | None:
    if v is None:
        return None
    if not (v > 0 and math.isfinite(v)):
        raise SeldError(f"{option} {v}: expected a positive, finite number of seconds")
    return float(v)


def _suffixed(path: str | None, option: str, suffixes: tuple[str, ...], hint: str) -> Path | None:
    if not path:
        return None
    p = Path(path)
    if p.suffix.lower() not in suffixes:
        raise SeldError(f"{option} {p}: unknown format ({hint})")
    return p


def demo_scene() -> Path:
    found = sorted([*DEMO.glob("*.flac"), *DEMO.glob("*.wav")])
    if not found:
        raise SeldError(f"no input given and the demo scene is missing from {DEMO}; use --device or --replay")
    return found[0]


def has_display() -> bool:
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                or os.environ.get("QT_QPA_PLATFORM", "").split(":")[0] in ("offscreen", "minimal", "vnc", "eglfs"))


# --- outputs: every path checked before any is opened ------------------------------------------------------
def check_outputs(opts: RunOptions) -> None:
    """Refuse outputs that would destroy data or cannot be written, before any file is opened.

    An output may not be an input (the replayed file, the model) or the other output; its folder must exist and
    be writable; an existing file is replaced only with ``--overwrite``.
    """
    outs = [(o, p) for o, p in (("--output", opts.output), ("--record", opts.record)) if p is not None]
    inputs = [p for p in (opts.input_path, Path(opts.model)) if p is not None and p.exists()]
    for option, path in outs:
        for src in inputs:
            if path.exists() and _same_file(path, src):
                raise SeldError(f"{option} {path} is an input of this run; choose another file")
        if path.is_dir():
            raise SeldError(f"{option} {path} is a folder; give a file name")
        folder = path.parent if str(path.parent) else Path(".")
        if not folder.is_dir():
            raise SeldError(f"{option} {path}: the folder {folder} does not exist")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise SeldError(f"{option} {path}: cannot write in {folder} (permission denied)")
        if path.exists() and not opts.overwrite:
            raise SeldError(f"{option} {path} exists; use --overwrite to replace it, or another name")
    if len(outs) == 2 and outs[0][1].resolve() == outs[1][1].resolve():
        raise SeldError("--output and --record name the same file")


def check_input(opts: RunOptions) -> None:
    """What can be checked of the inputs without loading the model (no torch): the replayed file exists and is
    audio with samples (FileSource's own checks and messages), and the model file exists and is a PyTorch
    file. Raises AudioInputError / CheckpointError. The channel count needs the model: ``build_engine`` checks it.
    The window runs this before its heavy imports, so such a mistake shows within a second."""
    if opts.device is None:
        from seld_live.audio.file import FileSource

        FileSource(opts.input_path, 24000, 1, channels=(1,)).stop()  # any rate and one channel: no model yet
    from seld_live.paths import resolve_model

    model = resolve_model(opts.model)
    if model == DEFAULT_MODEL and not model.exists():
        raise CheckpointError(f"the default model {DEFAULT_MODEL} is missing; give one with --model")
    check_torch_file(model, "model")  # the torch-free first checks of checkpoint.load_torch_file


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def numbered(path: Path, run: int) -> Path:
    """``events.csv`` for the first run, then the first free ``events-2.csv``, ``events-3.csv``...: a restarted
    stream never overwrites what an earlier run wrote."""
    if run <= 1:
        return path
    k = run
    while True:
        p = path.with_name(f"{path.stem}-{k}{path.suffix}")
        if not p.exists():
            return p
        k += 1


# --- building the run --------------------------------------------------------------------------------------
def load_detector(opts: RunOptions):
    import torch

    from seld_live.detector import Detector

    torch.set_num_threads(opts.threads)
    if opts.model == str(DEFAULT_MODEL) and not DEFAULT_MODEL.exists():
        raise CheckpointError(f"the default model {DEFAULT_MODEL} is missing; give one with --model")
    det = Detector.load(opts.model, device="cpu" if opts.cpu else "auto")
    if opts.views is not None:
        det.views = opts.views  # the array's rotations bound it (a one-line SeldError past them)
    if opts.threshold is not None:
        det.threshold = opts.threshold
    return det


def make_source(opts: RunOptions, det):
    from seld_live.audio import FileSource
    from seld_live.geometry import load_array
    from seld_live.model_catalog import check_model_array

    geo = det.array
    if opts.array:
        geo = load_array(opts.array)
        check_model_array(det.array, geo, Path(str(det.path)).name)
    if opts.channels is not None and len(opts.channels) != det.num_channels:
        raise SeldError(f"--channels lists {len(opts.channels)} channels; the model needs {det.num_channels}")
    if opts.device is not None:
        from seld_live.audio.capture import DeviceSource

        return DeviceSource(opts.device, det.sample_rate, det.num_channels, channels=opts.channels or geo.channels,
                            device_rate=opts.device_rate)
    return FileSource(opts.input_path, det.sample_rate, det.num_channels, channels=opts.channels,
                      speed=opts.speed, loop=opts.loop, fallback_channels=geo.channels)


def make_sinks(opts: RunOptions) -> list:
    from seld_live.sinks import open_output, stdout_sink

    if opts.output is not None:
        return [open_output(opts.output)]
    return [stdout_sink()] if opts.headless else []


def build_engine(opts: RunOptions):
    """Detector, source, sinks and recording: what both the command line and the window run."""
    from seld_live.engine import Engine, EngineConfig

    check_outputs(opts)
    det = load_detector(opts)
    source = make_source(opts, det)
    config = EngineConfig(tracking=opts.tracking, duration_s=opts.duration, max_backlog_s=opts.max_backlog)
    sinks = make_sinks(opts)
    try:
        engine = Engine(det, source, config, sinks)
    except BaseException:
        source.stop()
        for sink in sinks:
            sink.close()
        raise
    if opts.record is not None:
        try:
            engine.start_recording(opts.record)
        except BaseException:
            engine.stop()  # finishes the sinks
            raise
    return engine


class EngineFactory:
    """Fresh engines for the window: the same options, another device if one is picked, numbered outputs.

    ``for_replay(path)``, ``for_device(device)`` and ``for_model(path)`` give the factory of another input or
    model (the window's "Open file", input picker and model picker); it shares this factory's run count, so
    the outputs of every later run are numbered on and never replace an earlier run's files.
    """

    def __init__(self, options: RunOptions, *, _runs: list[int] | None = None) -> None:
        self.options = options
        self._runs = _runs if _runs is not None else [1]  # the first engine is built by the app itself

    @property
    def runs(self) -> int:
        return self._runs[0]

    @runs.setter
    def runs(self, n: int) -> None:
        self._runs[0] = n

    def derived(self, options: RunOptions) -> EngineFactory:
        return EngineFactory(options, _runs=self._runs)

    def for_replay(self, path: str | os.PathLike) -> EngineFactory:
        return self.derived(self.options.for_replay(path))

    def for_device(self, device: Any) -> EngineFactory:
        return self.derived(self.options.for_device(device))

    def for_model(self, model: str | os.PathLike) -> EngineFactory:
        return self.derived(self.options.for_model(model))

    def __call__(self, device: Any = None):
        opts = self.options if device is None else self.options.for_device(device)
        self.runs += 1
        opts = opts.with_outputs(*(numbered(p, self.runs) if p is not None else None
                                   for p in (opts.output, opts.record)))
        if self.runs > 1:
            opts = replace(opts, overwrite=False)  # a restart never replaces an earlier run's files
        return build_engine(opts)
