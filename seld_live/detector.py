"""The public inference API: a loaded checkpoint that turns 4-channel audio into events.

    det = Detector.load("seddoa_agg2.pt", device="auto")
    events = det.process(audio)              # (samples, channels) float32 -> list[Event]
    session = det.stream()
    events = session.push(block)             # any block size
    events += session.flush()

``process`` and a stream give the same events: both run the same causal network, the offline pass in
long chunks and the stream one 100 ms hop at a time, carrying the layer caches, and both decode with the
same stateful decoder (the stream carries its hysteresis state; a new stream starts both afresh).

Rotated views (``DecodeConfig.views`` > 1, a class-wise output kind): the network also hears the input turned by
rotations that send the array onto itself (``seld_live.symmetry.rotation_views``), all in one batch; each view's
class-wise vectors are turned back, and their mean is decoded as ``accdoa`` outputs. The views disagree most where
the network is unsure, so the mean localises better and its ranking of detections is steadier. One batch of K
views costs far less than K runs (12 views: about twice one; bench/RESULTS.md).

A model of a planar array reports every event above the array's plane: such an array hears a source and its
mirror image below alike, so its models are trained on directions folded up (``training.data``) and the
detector folds whatever is left (``fold_up``).
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from seld_live.checkpoint import CheckpointMeta, load_model
from seld_live.decode import DecodeState, check_threshold, decode, slot_activity
from seld_live.errors import AudioInputError, SeldError
from seld_live.events import Event
from seld_live.features import FeatureExtractor
from seld_live.geometry import ArrayGeometry
from seld_live.models import SeldNet
from seld_live.paths import resolve_model
from seld_live.symmetry import Symmetry, rotate_features, rotation_views

OFFLINE_CHUNK_FRAMES = 600  # output frames (60 s) per network call in process(); bounds memory
CLASSWISE_KINDS = ("agg2", "accdoa")  # one vector per class and frame: rotated views average


def pick_device(device: str | torch.device = "auto") -> torch.device:
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise AudioInputError("CUDA was requested but no CUDA device is available (use --cpu or device='cpu')")
    return torch.device(device)


class Detector:
    def __init__(self, model: SeldNet, meta: CheckpointMeta, device: str | torch.device = "auto"):
        self.meta = meta
        self.device = pick_device(device)
        self.model = model.to(self.device).eval()
        self.features = FeatureExtractor(meta.features)
        self.decode_config = meta.decode
        self.path: Path | None = None
        self._rotations: dict[int, list[Symmetry]] = {}  # by view count
        self._rotations_for(meta.decode.views)  # an impossible count fails at load, with the reason

    @classmethod
    def load(cls, path: str | os.PathLike, device: str = "auto", threshold: float | None = None) -> Detector:
        """Load a checkpoint; a bare name such as ``seddoa_agg2.pt`` is looked up in assets/models/."""
        resolved = resolve_model(path)
        model, meta = load_model(resolved)
        det = cls(model, meta, device)
        det.path = resolved
        if threshold is not None:
            det.threshold = threshold
        return det

    # -- description -------------------------------------------------------------------------------
    @property
    def classes(self) -> list[str]:
        return self.meta.classes

    @property
    def sample_rate(self) -> int:
        return self.meta.features.sample_rate

    @property
    def num_channels(self) -> int:
        return self.meta.features.num_mics

    @property
    def array(self) -> ArrayGeometry:
        return self.meta.array

    @property
    def output_kind(self) -> str:
        return self.meta.output_kind

    @property
    def hop_samples(self) -> int:
        """Samples per 100 ms output frame."""
        return self.meta.features.hop * self.meta.model.frames_per_output

    @property
    def threshold(self) -> float:
        return self.decode_config.threshold

    @threshold.setter
    def threshold(self, value: float) -> None:
        self.decode_config = self.decode_config.with_threshold(check_threshold(value))

    @property
    def views(self) -> int:
        """Rotated views of the input whose outputs are averaged (1: the network once)."""
        return self.decode_config.views

    @views.setter
    def views(self, count: int) -> None:
        self._rotations_for(int(count))
        self.decode_config = dataclasses.replace(self.decode_config, views=int(count))

    def _rotations_for(self, count: int) -> list[Symmetry]:
        """The rotations ``count`` views run ([] for one), or a one-line SeldError where there cannot be as many."""
        if count not in self._rotations:
            if count > 1 and self.output_kind not in CLASSWISE_KINDS:
                raise SeldError(f"views {count}: only models with class-wise outputs ({', '.join(CLASSWISE_KINDS)}) "
                                f"average rotated views; this one's are {self.output_kind}")
            self._rotations[count] = rotation_views(self.array, count) if count > 1 else []
        return self._rotations[count]

    @property
    def decoded_kind(self) -> str:
        """The kind of the outputs ``infer`` returns: the network's, or ``accdoa`` for averaged views."""
        return "accdoa" if self.views > 1 else self.output_kind

    @property
    def latency_s(self) -> float:
        """Algorithmic latency: look-ahead of the network (zero for these causal networks)."""
        return self.meta.model.lookahead_frames * self.hop_samples / self.sample_rate

    # -- offline -----------------------------------------------------------------------------------
    def check_audio(self, audio: np.ndarray, sample_rate: int | None = None) -> np.ndarray:
        """Audio as float32 (samples, channels), or a clear AudioInputError."""
        if sample_rate is not None and sample_rate != self.sample_rate:
            raise AudioInputError(f"audio is at {sample_rate} Hz; the model expects {self.sample_rate} Hz")
        audio = np.asarray(audio)
        if audio.ndim != 2:
            raise AudioInputError(f"audio must have shape (samples, channels), got {audio.shape}")
        if audio.shape[1] != self.num_channels:
            raise AudioInputError(
                f"audio has {audio.shape[1]} channels; the model expects {self.num_channels} "
                f"({self.array.name})"
            )
        audio = audio.astype(np.float32, copy=False)
        if not np.all(np.isfinite(audio)):
            raise AudioInputError("audio contains NaN or infinite samples")
        return audio

    def infer(self, audio: np.ndarray) -> dict[str, np.ndarray]:
        """Raw network outputs [T, ...] for a whole clip (zero-padded to whole 100 ms frames)."""
        audio = self.check_audio(audio)
        pad = (-len(audio)) % self.hop_samples
        if pad:
            audio = np.concatenate([audio, np.zeros((pad, audio.shape[1]), np.float32)])
        return self.infer_features(self.features.process(audio))

    def infer_features(self, feats: np.ndarray) -> dict[str, np.ndarray]:
        """Raw network outputs [T, ...] from whole-clip features [channels, 10 T, n_mels]."""
        return self._run_network(feats, state={}, chunk=OFFLINE_CHUNK_FRAMES * self.meta.model.frames_per_output)

    def decode(self, outputs: dict[str, np.ndarray], frame_offset: int = 0,
               state: DecodeState | None = None) -> list[Event]:
        """Events from raw outputs, with this detector's output kind, classes and thresholds; ``state``: the
        decoder state of a stream these outputs continue (None: a clip's outputs from its start)."""
        events = decode(self.decoded_kind, outputs, self.decode_config, self.classes, frame_offset, state)
        return fold_up(events) if self.array.is_planar else events

    def process(self, audio: np.ndarray, sample_rate: int | None = None) -> list[Event]:
        """Events of a whole clip, (samples, channels) float32 at the model's rate."""
        self.check_audio(audio, sample_rate)
        return self.decode(self.infer(audio))

    def process_file(self, path: str | os.PathLike, block_seconds: float = 60.0) -> list[Event]:
        """Events of an audio file, read and run ``block_seconds`` at a time through a stream (which equals
        ``process`` of the whole clip): memory stays bounded however long the recording."""
        with open_audio(path) as f:
            stream = self.stream()
            events: list[Event] = []
            try:
                self.check_audio(np.zeros((0, f.channels), np.float32), f.samplerate)  # rate and channels, first
                for block in f.blocks(blocksize=max(1, round(block_seconds * self.sample_rate)), dtype="float32",
                                      always_2d=True):
                    events += stream.push(self.check_audio(block))
            except AudioInputError as e:  # the file the message is about
                raise AudioInputError(f"{path}: {e}") from None
            except (sf.LibsndfileError, RuntimeError) as e:  # damaged data part-way through the file
                raise AudioInputError(f"{path}: cannot read audio ({str(e).strip()[:120]})") from None
            return events + stream.flush()

    def _run_network(self, feats: np.ndarray, state: dict, chunk: int) -> dict[str, np.ndarray]:
        """Outputs [T, ...] of features [channels, 10 T, n_mels], the stream's layer caches in ``state``."""
        rotations = self._rotations_for(self.views)  # read per call: decode_config may be replaced whole
        views = rotations or [None]
        outs: list[dict[str, torch.Tensor]] = []
        with torch.inference_mode():
            for s in range(0, feats.shape[1], chunk):
                part = feats[:, s : s + chunk]  # turned per chunk: a long clip's views never all sit in memory
                x = torch.from_numpy(np.stack([part if v is None else rotate_features(part, v, self.meta.features)
                                               for v in views]))
                outs.append(self.model(x.to(self.device, non_blocking=True), state))
        if not outs:
            out = {k: v[:, :0].cpu().numpy() for k, v in self._empty_outputs(len(views)).items()}
        else:
            out = {k: torch.cat([o[k] for o in outs], dim=1).float().cpu().numpy() for k in outs[0]}
        if not rotations:
            return {k: v[0] for k, v in out.items()}
        return {"accdoa": self._mean_view(out, rotations)}

    def _mean_view(self, out: dict[str, np.ndarray], rotations: list[Symmetry]) -> np.ndarray:
        """The views' class-wise vectors [T, C, 3], each turned back to the array's frame, averaged."""
        total = 0.0
        for i, view in enumerate(rotations):
            _, vec = slot_activity(self.output_kind, {k: v[i] for k, v in out.items()})  # [T, 1, C, 3]
            total = total + vec[:, 0] @ view.R  # R^T v, row-wise
        return (total / len(rotations)).astype(np.float32)

    def _empty_outputs(self, batch: int = 1) -> dict[str, torch.Tensor]:
        x = torch.zeros(batch, self.meta.model.in_channels, self.meta.model.frames_per_output, self.meta.model.n_mels)
        with torch.inference_mode():
            return self.model(x.to(self.device))

    # -- streaming ---------------------------------------------------------------------------------
    def stream(self) -> DetectorStream:
        return DetectorStream(self)


class DetectorStream:
    """A running stream: push audio blocks of any size, get the events of completed 100 ms frames."""

    def __init__(self, detector: Detector):
        self.det = detector
        self._features = detector.features.stream()
        self._pending = np.zeros((detector.meta.model.in_channels, 0, detector.meta.model.n_mels), np.float32)
        self._state: dict = {}
        self._decode_state = DecodeState()  # hysteresis, carried between hops like the layer caches
        self.samples_in = 0
        self.frames_done = 0
        # seconds spent by the last push in features, network (device sync included) and decoding
        self.last_timing: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def push(self, block: np.ndarray) -> list[Event]:
        block = np.asarray(block, dtype=np.float32)
        if block.ndim != 2 or block.shape[1] != self.det.num_channels:
            raise AudioInputError(
                f"block has shape {block.shape}; expected (samples, {self.det.num_channels})"
            )
        self.samples_in += len(block)
        t0 = time.perf_counter()
        feats = self._features.push(block)
        if feats.shape[1]:
            self._pending = np.concatenate([self._pending, feats], axis=1) if self._pending.shape[1] else feats
        per = self.det.meta.model.frames_per_output
        n = (self._pending.shape[1] // per) * per
        t1 = time.perf_counter()
        if n == 0:
            self.last_timing = (t1 - t0, 0.0, 0.0)
            return []
        ready, self._pending = self._pending[:, :n], self._pending[:, n:]
        out = self.det._run_network(ready, self._state, chunk=n)
        t2 = time.perf_counter()
        events = self.det.decode(out, self.frames_done, self._decode_state)
        self.frames_done += n // per
        self.last_timing = (t1 - t0, t2 - t1, time.perf_counter() - t2)
        return events

    def step(self, hop: np.ndarray) -> list[Event]:
        """Exactly one 100 ms hop in, the events of that frame out."""
        if len(hop) != self.det.hop_samples or self.samples_in % self.det.hop_samples:
            raise ValueError(f"step() takes whole hops of {self.det.hop_samples} samples")
        return self.push(hop)

    def flush(self) -> list[Event]:
        """Complete the last partial frame with zeros, as ``Detector.process`` does."""
        pad = (-self.samples_in) % self.det.hop_samples
        if pad == 0:
            return []
        return self.push(np.zeros((pad, self.det.num_channels), np.float32))


def fold_up(events: list[Event]) -> list[Event]:
    """Each event at its mirror image above the horizontal plane (a planar array's up/down ambiguity)."""
    return [e if e.elevation >= 0 else dataclasses.replace(e, elevation=-e.elevation) for e in events]


def open_audio(path: str | os.PathLike) -> sf.SoundFile:
    """An audio file open for reading, or a clear AudioInputError."""
    path = Path(path)
    if not path.is_file():
        raise AudioInputError(f"audio file not found: {path}")
    try:
        return sf.SoundFile(path)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as e:
        raise AudioInputError(f"{path}: cannot read audio ({str(e).strip()[:120]})") from None


def read_audio(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """(samples, channels) float32 and the sample rate, or a clear AudioInputError."""
    with open_audio(path) as f:
        try:
            return f.read(dtype="float32", always_2d=True), f.samplerate
        except (sf.LibsndfileError, RuntimeError, ValueError) as e:
            raise AudioInputError(f"{path}: cannot read audio ({str(e).strip()[:120]})") from None
