"""Datasets: clips in the seld-synth layout or the STARSS23/DCASE layout, chunked for training.

Layouts (found automatically):
- seld-synth: ``ROOT/mic|foa/<clip>.flac``, ``ROOT/metadata/<clip>.csv`` (frame,class,track,azimuth,
  elevation,distance), ``ROOT/classes.tsv``, ``ROOT/array.toml``;
- STARSS23/DCASE: ``ROOT/foa_dev|mic_dev/dev-*-*/<clip>.wav``, ``ROOT/metadata_dev/dev-*-*/<clip>.csv``
  (frame,class,source,azimuth,elevation[,distance in cm]); the 13 STARSS23 classes; the DCASE MIC
  tetrahedron or FOA array.

Features are computed over the whole clip with ``seld_live.features.FeatureExtractor`` (the same
code as the live path) and cached on disk as ``.npy`` under a folder named by a hash of the feature
configuration, the channel selection and the stored dtype; a file's name carries a hash of the audio file's
identity (path, size, modification time), so edited audio is recomputed. Later epochs memory-map the cache.
The cache holds float32 (exactly the live features) or, for training, float16 (``cache_dtype``: half the disk
and page cache; chunks are handed out as float32).

A planar array's labels are folded above its plane (elevation made non-negative): it cannot tell up from down,
so its models are trained and scored on the direction it can tell; the live detector folds the same way.

An item is one chunk of ``chunk_seconds`` starting every ``hop_seconds``; the last chunk of a clip
is zero-padded (features and targets) rather than dropped. Its features have the cache dtype (float16 ones are
made float32 per batch, in the training step). A clip without audio (0 samples) is refused, unless
``allow_empty`` (evaluation, which counts its reference events as missed).
"""

from __future__ import annotations

import collections
import hashlib
import json
import math
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from torch.utils.data import Dataset

from seld_live.atomic import atomic_path, is_temporary
from seld_live.errors import AudioInputError, SeldError
from seld_live.events import FRAME_SECONDS, read_dcase_csv
from seld_live.features import FeatureConfig, FeatureExtractor
from seld_live.geometry import load_array
from training.classes_tsv import CLASSES_FILE, read_classes_tsv
from training.targets import MAX_TRACKS, build_targets

STARSS23_CLASSES = (
    "female_speech", "male_speech", "clapping", "telephone", "laughter", "domestic_sounds", "footsteps",
    "door", "music", "musical_instrument", "water_tap", "bell", "knock",
)
AUDIO_EXTENSIONS = (".flac", ".wav")
CACHE_VERSION = 1
CACHE_DTYPES = ("float32", "float16")


class DatasetError(SeldError):
    pass


@dataclass(frozen=True)
class ClipInfo:
    name: str
    audio: Path
    metadata: Path | None  # None: no labels (an evaluation set)
    num_samples: int
    sample_rate: int
    channels: int

    @property
    def num_frames(self) -> int:
        """100 ms label frames (a partial last frame counts)."""
        return math.ceil(self.num_samples / (FRAME_SECONDS * self.sample_rate) - 1e-9)


@dataclass
class ClipData:
    name: str
    features: np.ndarray  # [channels, num_frames * frames_per_label, n_mels] float32, zero-padded at the end
    table: np.ndarray  # event table [rows, 6]
    num_frames: int


def detect_layout(root: Path) -> str:
    if (root / "metadata").is_dir() and ((root / "mic").is_dir() or (root / "foa").is_dir()):
        return "synthetic"
    if (root / "metadata_dev").is_dir() and ((root / "mic_dev").is_dir() or (root / "foa_dev").is_dir()):
        return "starss"
    raise DatasetError(f"{root}: neither a seld-synth dataset (mic|foa/, metadata/) nor the STARSS23 layout "
                       "(mic_dev|foa_dev/, metadata_dev/)")


def scenes_identity(root: Path) -> dict:
    """Which scenes a seld-synth folder holds, from its manifest: class list, split, seed, bank (its manifest
    hash) and sources. One seed gives the same scenes rendered for every array; empty for other layouts."""
    manifest = Path(root) / "manifest.json"
    if not manifest.exists():
        return {}
    m = json.loads(manifest.read_text())
    return {"classes": m.get("classes", {}).get("name"), "split": m.get("split"), "seed": m.get("seed"),
            "bank": m.get("bank"), "sources": m.get("sources")}


def _audio_info(path: Path) -> sf._SoundFileInfo:
    try:
        return sf.info(str(path))
    except (RuntimeError, sf.LibsndfileError) as e:
        raise AudioInputError(f"{path}: unreadable audio ({e})") from None


def feature_config_for(format: str, sample_rate: int, num_mics: int, source: Path | str = "") -> FeatureConfig:
    """The features a network is trained on for audio at ``sample_rate``: a 10 ms hop (ten frames per 100 ms
    label frame, what the networks pool to one output) and the smallest power-of-two window of at least four
    hops (1024 samples at 24 kHz, 2048 at 48 kHz). A rate whose 10 ms is not a whole number of samples
    (22.05 kHz) is refused."""
    if sample_rate <= 0 or sample_rate % 100:
        raise AudioInputError(f"{source or 'audio'}: {sample_rate} Hz is not a multiple of 100 Hz, so a 10 ms "
                              "feature hop is not a whole number of samples (use e.g. 16000, 24000 or 48000 Hz)")
    hop = sample_rate // 100
    return FeatureConfig(format=format, sample_rate=sample_rate, hop=hop, n_fft=1 << (4 * hop - 1).bit_length(),
                         num_mics=num_mics)


def _clips(audio_dir: Path, meta_dir: Path, pattern: str = "*") -> list[ClipInfo]:
    out = []
    for p in sorted(audio_dir.glob(pattern)):
        if p.suffix.lower() not in AUDIO_EXTENSIONS or not p.is_file() or is_temporary(p):
            continue
        rel = p.relative_to(audio_dir).with_suffix(".csv")
        meta = meta_dir / rel
        info = _audio_info(p)
        out.append(ClipInfo(str(rel.with_suffix("")), p, meta if meta.exists() else None, int(info.frames),
                            int(info.samplerate), int(info.channels)))
    return out


class SeldDataset(Dataset):
    """Chunks of clips with features and every target form (see training.targets)."""

    def __init__(self, root: str | os.PathLike, chunk_seconds: float = 5.0, hop_seconds: float | None = None,
                 feature_config: FeatureConfig | None = None, cache_dir: str | os.PathLike | None = None,
                 format: str | None = None, subsets: list[str] | tuple[str, ...] | None = None,
                 max_tracks: int = MAX_TRACKS, max_clips: int = 0, allow_empty: bool = False,
                 cache_dtype: str = "float32"):
        self.root = Path(root)
        if cache_dtype not in CACHE_DTYPES:
            raise DatasetError(f"cache dtype {cache_dtype!r} is not one of {', '.join(CACHE_DTYPES)}")
        self.cache_dtype = np.dtype(cache_dtype)
        if not self.root.is_dir():
            raise DatasetError(f"dataset folder not found: {self.root}")
        self.layout = detect_layout(self.root)
        if self.layout == "synthetic":
            self.classes = read_classes_tsv(self.root / CLASSES_FILE)
            array_file = self.root / "array.toml"
            if not array_file.exists():
                raise DatasetError(f"{array_file}: missing (the array geometry of the recordings)")
            self.array = load_array(array_file)
            sub = "foa" if self.array.format == "foa" else "mic"
            if format is not None and format != self.array.format:
                raise DatasetError(f"{self.root} holds {self.array.format} audio, not {format}")
            clips = _clips(self.root / sub, self.root / "metadata")
        else:
            self.classes = list(STARSS23_CLASSES)
            fmt = format or ("mic" if (self.root / "mic_dev").is_dir() else "foa")
            if fmt not in ("mic", "foa") or not (self.root / f"{fmt}_dev").is_dir():
                raise DatasetError(f"{self.root}: no {fmt}_dev folder")
            self.array = load_array("dcase_mic" if fmt == "mic" else "foa")
            clips = []
            for d in sorted(p for p in (self.root / f"{fmt}_dev").iterdir() if p.is_dir()):
                if subsets and not any(d.match(s) for s in subsets):
                    continue
                clips += [ClipInfo(f"{d.name}/{c.name}", c.audio, c.metadata, c.num_samples, c.sample_rate,
                                   c.channels) for c in _clips(d, self.root / "metadata_dev" / d.name)]
        if max_clips:
            clips = clips[:max_clips]
        if not clips:
            raise DatasetError(f"{self.root}: no audio clips found")
        empty = [c for c in clips if c.num_samples == 0]
        if empty and not allow_empty:  # nothing to learn from, and a training on it ends in NaN losses
            raise DatasetError(f"{empty[0].audio}: no audio (0 samples)"
                               f"{f' (and {len(empty) - 1} more clips)' if len(empty) > 1 else ''}; "
                               "remove it or make the dataset again")
        self.clips: list[ClipInfo] = clips
        self._by_name = {c.name: i for i, c in enumerate(clips)}

        self.feature_config = feature_config or feature_config_for(self.array.format, clips[0].sample_rate,
                                                                   self.array.num_channels, clips[0].audio)
        self._check_fit()
        self.frames_per_label = self.feature_config.frames_per_label
        self.chunk_frames = _frames(chunk_seconds, "chunk")
        self.hop_frames = _frames(hop_seconds if hop_seconds is not None else chunk_seconds, "hop")
        self.max_tracks = max_tracks
        self._tables = [self._read_table(c) for c in clips]
        self.index = [(ci, s) for ci, c in enumerate(clips) for s in chunk_starts(c.num_frames, self.chunk_frames,
                                                                                 self.hop_frames)]
        self.cache_dir = self._cache_root(cache_dir) / self._cache_key()
        self._extractor: FeatureExtractor | None = None
        self._mapped: dict[str, np.ndarray] = {}  # cache files kept mapped: no re-opening and page faults per chunk
        # Training augmentation: transform(features, table, num_frames, rng, dataset, item) -> (features, table),
        # applied before the targets are built; rng derives from (seed, epoch, item) so epochs replay exactly.
        self.transform = None
        self.seed = 0
        self.epoch = 0

    # --- checks ---------------------------------------------------------------------------------------

    def _check_fit(self) -> None:
        cfg, arr = self.feature_config, self.array
        if cfg.format != arr.format:
            raise DatasetError(f"feature format {cfg.format} does not fit the dataset's {arr.format} array")
        if cfg.num_mics != arr.num_channels:
            raise DatasetError(f"feature config expects {cfg.num_mics} channels, the array has {arr.num_channels}")
        need = max(arr.channels)
        for c in self.clips:
            if c.sample_rate != cfg.sample_rate:
                raise AudioInputError(f"{c.audio}: sample rate {c.sample_rate} Hz, the feature config expects "
                                      f"{cfg.sample_rate} Hz")
            if c.channels < need:
                raise AudioInputError(f"{c.audio}: {c.channels} channels, the array reads channel(s) "
                                      f"{list(arr.channels)}")

    def _read_table(self, clip: ClipInfo) -> np.ndarray:
        if clip.metadata is None:
            return np.zeros((0, 6))
        table = read_dcase_csv(clip.metadata, num_classes=len(self.classes))
        if self.layout == "starss":
            table[:, 5] /= 100.0  # STARSS/DCASE distances are in centimetres
        if self.array.is_planar:
            # a planar array hears a source and its mirror image below its plane alike: train and score on the
            # one above (the detector folds the same way), or the network learns the average of the two
            table[:, 4] = np.abs(table[:, 4])
        return table

    # --- features -------------------------------------------------------------------------------------

    def _cache_root(self, cache_dir: str | os.PathLike | None) -> Path:
        if cache_dir:
            return Path(cache_dir)
        local = self.root / ".cache" / "features"
        if os.access(self.root, os.W_OK):
            return local
        return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "seld-live" / "features"

    def _cache_ident(self) -> dict:
        ident = {"version": CACHE_VERSION, "features": self.feature_config.to_dict(),
                 "channels": list(self.array.channels)}
        if self.cache_dtype != np.float32:  # float32 keeps its old key: existing caches stay valid
            ident["dtype"] = self.cache_dtype.name
        return ident

    def _cache_key(self) -> str:
        return hashlib.sha1(json.dumps(self._cache_ident(), sort_keys=True).encode()).hexdigest()[:16]

    def cache_path(self, clip: ClipInfo) -> Path:
        st = clip.audio.stat()
        ident = f"{clip.audio.resolve()}|{st.st_size}|{st.st_mtime_ns}"
        h = hashlib.sha1(ident.encode()).hexdigest()[:12]
        return self.cache_dir / f"{clip.name.replace('/', '__')}-{h}.npy"

    def load_audio(self, clip: ClipInfo) -> np.ndarray:
        """The array's channels of a clip [samples, M] float32."""
        try:
            audio, _ = sf.read(str(clip.audio), dtype="float32", always_2d=True)
        except (RuntimeError, sf.LibsndfileError) as e:
            raise AudioInputError(f"{clip.audio}: unreadable audio ({e})") from None
        audio = audio[:, [c - 1 for c in self.array.channels]]
        if not np.all(np.isfinite(audio)):
            raise AudioInputError(f"{clip.audio}: NaN or Inf samples")
        return audio

    def compute_features(self, clip: ClipInfo) -> np.ndarray:
        if self._extractor is None:
            self._extractor = FeatureExtractor(self.feature_config)
        return self._extractor.process(self.load_audio(clip))

    def features(self, clip: ClipInfo) -> np.ndarray:
        """Whole-clip features [C, frames, n_mels] in the cache dtype, from the cache (memory-mapped) or
        computed and cached (the same values either way)."""
        if clip.name in self._mapped:
            return self._mapped[clip.name]
        path = self.cache_path(clip)
        if path.exists():
            try:
                feats = np.load(path, mmap_mode="r")
                if feats.dtype == self.cache_dtype:
                    self._mapped[clip.name] = feats
                    return feats
            except (OSError, ValueError):
                pass  # a damaged (or foreign) cache file is recomputed
        feats = self.compute_features(clip).astype(self.cache_dtype, copy=False)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not (path.parent / "config.json").exists():
            ident = self._cache_ident()
            ident.pop("version")
            (path.parent / "config.json").write_text(json.dumps(ident, indent=1))
        with atomic_path(path) as tmp, open(tmp, "wb") as f:  # concurrent DataLoader workers never read half a file
            np.save(f, feats)
        return feats

    def prepare(self, progress: bool = False) -> None:
        """Fill the feature cache for every clip (otherwise it fills during the first epoch)."""
        from tqdm import tqdm

        for c in tqdm(self.clips, desc="features", disable=not progress):
            self.features(c)

    # --- items ----------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict:
        ci, start = self.index[i]
        clip = self.clips[ci]
        L = self.chunk_frames
        x = self.chunk_features(i)
        table = self._tables[ci]
        rows = table[(table[:, 0] >= start) & (table[:, 0] < start + L)].copy()
        rows[:, 0] -= start
        if self.transform is not None:
            rng = np.random.default_rng((self.seed, self.epoch, i))
            x, rows = self.transform(x, rows, L, rng, self, i)
        targets = build_targets(rows, L, len(self.classes), max_tracks=self.max_tracks).as_dict()
        item = {"features": torch.from_numpy(x)}
        item.update({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in targets.items()})
        item.update({"clip": clip.name, "start_frame": start, "valid_frames": min(L, clip.num_frames - start)})
        return item

    def chunk_features(self, i: int) -> np.ndarray:
        """Cached features of item ``i`` [C, chunk frames, n_mels], zero-padded past the clip end, before any
        augmentation. In the cache dtype: a float16 chunk stays float16 until the training step (numpy's
        conversion is slow)."""
        ci, start = self.index[i]
        L, fpl = self.chunk_frames, self.frames_per_label
        feats = self.features(self.clips[ci])
        x = np.zeros((feats.shape[0], L * fpl, feats.shape[2]), feats.dtype)
        part = feats[:, start * fpl: (start + L) * fpl]
        x[:, : part.shape[1]] = part
        return x

    def chunk_audio(self, i: int, context: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Audio of item ``i`` with ``context`` samples before it (zeros before the clip start), and its
        event table with chunk-relative frames. Clip ends are zero-padded to the chunk length."""
        ci, start = self.index[i]
        clip = self.clips[ci]
        hop = round(FRAME_SECONDS * clip.sample_rate)
        first = start * hop - context
        n = self.chunk_frames * hop + context
        try:
            audio, _ = sf.read(str(clip.audio), start=max(0, first), frames=n - max(0, -first), dtype="float32",
                               always_2d=True)
        except (RuntimeError, sf.LibsndfileError) as e:
            raise AudioInputError(f"{clip.audio}: unreadable audio ({e})") from None
        audio = audio[:, [c - 1 for c in self.array.channels]]
        out = np.zeros((n, audio.shape[1]), np.float32)
        out[max(0, -first): max(0, -first) + len(audio)] = audio
        table = self._tables[ci]
        rows = table[(table[:, 0] >= start) & (table[:, 0] < start + self.chunk_frames)].copy()
        rows[:, 0] -= start
        return out, rows

    def clip(self, key: int | str) -> ClipData:
        """Whole-clip features (zero-padded to whole label frames) and event table, for evaluation."""
        ci = self._by_name[key] if isinstance(key, str) else int(key)
        clip = self.clips[ci]
        feats = self.features(clip)
        T = clip.num_frames
        x = np.zeros((feats.shape[0], T * self.frames_per_label, feats.shape[2]), np.float32)
        n = min(feats.shape[1], x.shape[1])
        x[:, :n] = feats[:, :n]
        return ClipData(clip.name, x, self._tables[ci].copy(), T)


def _frames(seconds: float, what: str) -> int:
    n = round(seconds / FRAME_SECONDS)
    if n < 1 or abs(n * FRAME_SECONDS - seconds) > 1e-6:
        raise DatasetError(f"{what} length must be a positive multiple of 0.1 s, got {seconds}")
    return n


def chunk_starts(num_frames: int, chunk: int, hop: int) -> list[int]:
    """Start frames of the chunks of a clip: every ``hop`` frames until a chunk reaches the end (the
    last one may be partial; a clip shorter than a chunk gives one padded chunk)."""
    starts = [0]
    while starts[-1] + chunk < num_frames:
        starts.append(starts[-1] + hop)
    return starts


class Prefetcher:
    """The items of ``source`` in order, made ahead by a background thread.

    The next batches (feature reads, augmentation, targets, collation: mostly numpy and scipy, which release the
    GIL) are prepared while torch computes the current step; on two cores this beat DataLoader worker processes
    (bench/RESULTS.md). The thread makes items until ``depth`` are waiting, then rests until the consumer has
    taken them down to ``refill_at``: long stretches with the thread resting (``resting``), in which the step can
    use every core, and long ones with it working. An exception in the thread is raised to the consumer when it
    reaches that item; ``close()`` (or leaving a ``with`` block) stops the thread, also mid-way.
    """

    def __init__(self, source: Iterable, depth: int = 2, refill_at: int | None = None):
        self.depth = max(1, depth)
        self.refill_at = min(self.depth - 1, max(0, self.depth // 2 if refill_at is None else refill_at))
        self._items: collections.deque = collections.deque()
        self._cond = threading.Condition()
        self._stop = False
        self._finished = False  # the thread has handed over its last message
        self._waiting = False  # the thread rests until the items are down to refill_at
        self._len = len(source) if hasattr(source, "__len__") else None
        self._thread = threading.Thread(target=self._fill, args=(source,), name="seld-prefetch", daemon=True)
        self._thread.start()

    def _fill(self, source: Iterable) -> None:
        try:
            for item in source:
                if not self._hand_over((True, item)):
                    return
        except BaseException as e:  # handed to the consumer, raised there
            self._hand_over((False, e))
            return
        self._hand_over((False, None))

    def _hand_over(self, message: tuple) -> bool:
        with self._cond:
            self._items.append(message)
            self._finished = not message[0]
            self._cond.notify_all()
            if message[0] and len(self._items) >= self.depth:
                self._waiting = True
                while len(self._items) > self.refill_at and not self._stop:
                    self._cond.wait()
                self._waiting = False
            return not self._stop

    @property
    def resting(self) -> bool:
        """Whether the thread makes no items now and will not until more are taken (or it has finished)."""
        with self._cond:
            return self._finished or (self._waiting and len(self._items) > self.refill_at)

    def __iter__(self) -> Prefetcher:
        return self

    def __next__(self):
        with self._cond:
            while not self._items:
                self._cond.wait()
            ok, item = self._items[0]
            if ok:  # the last message (the end, or an error) stays: later calls stop or raise again
                self._items.popleft()
                self._cond.notify_all()
        if ok:
            return item
        if item is None:
            raise StopIteration
        raise item

    def __len__(self) -> int:
        if self._len is None:
            raise TypeError("the source has no length")
        return self._len

    def close(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join()

    def __enter__(self) -> Prefetcher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
