"""A built bank of real recordings, as scenes read it: the manifest's recordings by pool (a label; speech:
and gender) and split, loaded on demand at unit loudness. ``holdout="source"`` (default) gives the
cross-source val and test, ``holdout="recording"`` the recording-level ones; training is the same in both."""

from __future__ import annotations

import functools
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from seld_live.config_dict import dataclass_from_dict
from seld_live.errors import ConfigError, SeldError
from training.synth.bank_splits import HOLDOUTS, split_key, view_split
from training.synth.loudness import trim_and_normalise

DEFAULT_BANK = Path(os.environ.get("SELD_BANK", "data/bank"))
MANIFEST_VERSION = 1


@dataclass
class Recording:
    file: str  # relative to the bank root
    label: str
    package: str
    version: str
    source_path: str  # path inside the package (ARCHIVE!ENTRY for archive entries)
    licence: str
    duration: float
    group: str  # recording group (speech: speaker), the split unit
    split: str = ""  # cross-source split: train / val / test
    split_recording: str = ""  # within training sources: train / val / test (recording-level); "" if held out
    gender: str = ""  # speech: female / male
    f0_hz: float | None = None  # speech: the speaker's median pitch
    credit: str = ""  # the archive's own credit line for this sound, where it has one


class RealBank:
    """A built bank: recordings by (pool, split), loaded on demand at unit loudness."""

    def __init__(self, root: str | os.PathLike = DEFAULT_BANK, holdout: str = "source"):
        if holdout not in HOLDOUTS:
            raise SeldError(f"holdout must be one of {', '.join(HOLDOUTS)}, got '{holdout}'")
        self.root = Path(root)
        self.holdout = holdout
        manifest = self.root / "manifest.json"
        if not manifest.exists():
            raise SeldError(f"no bank of real recordings at {self.root} (build it: seld-bank --out {self.root})")
        try:
            data = json.loads(manifest.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise SeldError(f"{manifest}: unreadable ({e}); rebuild the bank") from None
        try:
            self.sample_rate = int(data["sample_rate"])
            self.recordings = [dataclass_from_dict(Recording, r, f"recordings[{i}].")
                               for i, r in enumerate(data["recordings"])]
        except (KeyError, TypeError, ValueError, ConfigError) as e:
            detail = f"no {e} entry" if isinstance(e, KeyError) else str(e)
            raise SeldError(f"{manifest}: damaged ({detail}); rebuild the bank") from None
        # which recordings, at which rate and in which splits: what scenes draw on (not the skip reasons)
        self.digest = hashlib.sha1(json.dumps([data["sample_rate"], data["recordings"]], sort_keys=True)
                                   .encode()).hexdigest()
        # pool/split -> group -> recordings: events pick a group first, so a voice or a drum with many
        # files is not drawn more often than one with few
        self._index: dict[tuple[str, str], dict[str, list[Recording]]] = {}
        for r in self.recordings:
            split = view_split(r, holdout)
            if split:
                self._index.setdefault((split_key(r), split), {}).setdefault(r.group, []).append(r)

    def groups(self, pool: str, split: str) -> dict[str, list[Recording]]:
        return self._index.get((pool, split), {})

    def has(self, pool: str, split: str) -> bool:
        return bool(self.groups(pool, split))

    def pick_group(self, pool: str, split: str, rng: np.random.Generator) -> list[Recording]:
        groups = self.groups(pool, split)
        if not groups:
            raise SeldError(f"the bank at {self.root} has no '{pool}' recordings in the {split} split")
        names = sorted(groups)
        return groups[names[int(rng.integers(len(names)))]]

    def load(self, rec: Recording) -> np.ndarray:
        return _load(str(self.root / rec.file), self.sample_rate)


@functools.lru_cache(maxsize=128)
def _load(path: str, sample_rate: int) -> np.ndarray:
    audio, rate = sf.read(path, dtype="float32")
    if rate != sample_rate:
        raise SeldError(f"{path}: {rate} Hz in a {sample_rate} Hz bank; rebuild the bank")
    return trim_and_normalise(audio, sample_rate)
