"""Dataset output in the DCASE layout, resumable and reproducible.

    OUT/mic/<clip>.flac  (foa/ for first-order ambisonics)  channels in the array's mic order; a comment
                              names the array preset, for replay (seld_live.recording_tag)
    OUT/metadata/<clip>.csv   frame,class,track,azimuth,elevation,distance (100 ms frames, no header)
    OUT/scenes/<clip>.json    the room, the array placement, every event and its rendering
    OUT/classes.tsv           index<TAB>name
    OUT/array.toml            the array geometry, channels numbered as in the audio files
    OUT/manifest.json         the full configuration and seed

Clip i of a dataset is drawn from ``SeedSequence([seed, split, i])``: it does not depend on the
number of workers or on which clips were made before, so an interrupted run resumes by making the
clips whose metadata file is missing (written last, atomically). Nothing here carries a timestamp or
an absolute path: the same seed and options give byte-identical files.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from seld_live.atomic import atomic_path, write_text_atomic
from seld_live.errors import SeldError
from seld_live.geometry import ArrayGeometry
from seld_live.recording_tag import scene_comment
from training.classes_tsv import CLASSES_FILE, write_classes_tsv
from training.synth.classes import ClassList
from training.synth.real_bank import DEFAULT_BANK, RealBank
from training.synth.scene import Clip, SceneConfig, render_rate
from training.synth.soundbank import SPLITS, SoundBank

MANIFEST_VERSION = 2  # 2: a scene plan apart from its rendering (one seed, one scene for every array and rate)
SUBTYPES = ("PCM_16", "PCM_24")


@dataclass(frozen=True)
class DatasetSpec:
    """Everything that determines the clips of a dataset (the number of clips aside)."""

    config: SceneConfig
    classes: ClassList
    array: ArrayGeometry
    split: str = "train"
    seed: int = 0
    subtype: str = "PCM_16"
    sources: tuple[str, ...] = ()  # source kinds to draw events from (empty: all of the class list's)
    bank: str = ""  # the bank of real recordings (empty: training.synth.real_bank.DEFAULT_BANK)
    holdout: str = "source"  # val/test recordings: held-out sources, or held-out recordings of training sources

    @property
    def event_classes(self) -> ClassList:
        """The class list with only the chosen source kinds."""
        return self.classes.only(self.sources) if self.sources else self.classes

    def sound_bank(self) -> SoundBank:
        bank = RealBank(self.bank or DEFAULT_BANK, self.holdout) if self.event_classes.uses_bank else None
        return SoundBank(self.event_classes, render_rate(self.config.sample_rate), self.split, bank=bank)

    @property
    def audio_dir(self) -> str:
        return "foa" if self.array.format == "foa" else "mic"

    def clip_name(self, index: int) -> str:
        return f"{self.split}_{index:05d}"

    def clip_rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([self.seed, SPLITS.index(self.split), index]))

    def identity(self) -> dict:
        """The manifest fields that must match for clips to belong to one dataset."""
        ident = self._identity()
        if self.sources:
            ident["sources"] = list(self.sources)
        if self.event_classes.uses_bank:  # which recordings (the manifest's hash), not where they lie
            ident["bank"] = RealBank(self.bank or DEFAULT_BANK).digest
            if self.holdout != "source":
                ident["holdout"] = self.holdout
            ident["classes"]["interferers"] = list(self.classes.interferers)
            ident["classes"]["backgrounds"] = list(self.classes.backgrounds)
        return ident

    def _identity(self) -> dict:
        return {
            "version": MANIFEST_VERSION,
            "seed": self.seed,
            "split": self.split,
            "config": self.config.to_dict(),
            "classes": {"name": self.classes.name, "names": self.classes.names,
                        "specs": [{"name": c.name, "sources": [s.to_dict() for s in c.sources],
                                   "duration": list(c.duration), "level_db": c.level_db}
                                  for c in self.classes.classes]},
            "array": dataset_array(self.array, self.config.sample_rate).to_dict(),
            "audio": {"dir": self.audio_dir, "format": "FLAC", "subtype": self.subtype,
                      "sample_rate": self.config.sample_rate},
        }


def dataset_array(array: ArrayGeometry, sample_rate: int) -> ArrayGeometry:
    """The array as the dataset files hold it: one audio channel per mic, numbered 1..M."""
    d = array.to_dict()
    d["channels"] = list(range(1, array.num_channels + 1))
    d.pop("device_names", None)  # files, not a device (and datasets made before the key stay resumable)
    d["sample_rate"] = int(sample_rate)
    return ArrayGeometry.from_dict(d, source=array.key or array.name)


def array_toml(array: ArrayGeometry) -> str:
    lines = [f"name = {json.dumps(array.name)}", f"description = {json.dumps(array.description)}",
             f"format = {json.dumps(array.format)}"]
    if array.convention:
        lines.append(f"convention = {json.dumps(array.convention)}")
    lines.append(f"channels = {list(array.channels)}")
    if array.native_rate:
        lines.append(f"sample_rate = {array.native_rate}")
    for az, el, r in array.mic_spherical:
        lines += ["", "[[mic]]", f"azimuth = {az!r}", f"elevation = {el!r}", f"radius = {r!r}"]
    return "\n".join(lines) + "\n"


def format_row(row: np.ndarray) -> str:
    f, c, tr, az, el, dist = row
    out = f"{int(f)},{int(c)},{int(tr)},{az:.1f},{el:.1f}"
    return out + ("" if math.isnan(dist) else f",{dist:.2f}")


class DatasetWriter:
    def __init__(self, out: str | os.PathLike, spec: DatasetSpec):
        self.out = Path(out)
        self.spec = spec
        self._comment = scene_comment(dataset_array(spec.array, spec.config.sample_rate))

    def prepare(self, num_clips: int) -> None:
        """Create the layout, or check that an existing one was made with the same settings."""
        if self.spec.subtype not in SUBTYPES:
            raise SeldError(f"audio subtype must be one of {SUBTYPES}, got {self.spec.subtype}")
        if self.out.exists() and not self.out.is_dir():
            raise SeldError(f"{self.out} exists and is not a directory")
        manifest = self.out / "manifest.json"
        ident = self.spec.identity()
        if manifest.exists():
            try:
                old = json.loads(manifest.read_text())
            except (OSError, json.JSONDecodeError) as e:
                raise SeldError(f"{manifest}: unreadable ({e}); remove it or use another --out") from None
            diff = [k for k in ident if old.get(k) != json.loads(json.dumps(ident[k]))]
            if diff:
                raise SeldError(f"{self.out} holds a dataset made with other settings (differs in: "
                                f"{', '.join(diff)}); use another --out or the same options to resume")
            num_clips = max(num_clips, int(old.get("num_clips", 0)))
        for sub in (self.spec.audio_dir, "metadata", "scenes"):
            (self.out / sub).mkdir(parents=True, exist_ok=True)
        write_classes_tsv(self.out / CLASSES_FILE, self.spec.classes.names)
        write_text_atomic(self.out / "array.toml",
                           array_toml(dataset_array(self.spec.array, self.spec.config.sample_rate)))
        write_text_atomic(manifest, json.dumps({**ident, "num_clips": num_clips,
                                                 "label_frame_seconds": 0.1}, indent=2) + "\n")

    def paths(self, index: int) -> tuple[Path, Path, Path]:
        name = self.spec.clip_name(index)
        return (self.out / self.spec.audio_dir / f"{name}.flac", self.out / "metadata" / f"{name}.csv",
                self.out / "scenes" / f"{name}.json")

    def is_done(self, index: int) -> bool:
        audio, meta, scene = self.paths(index)
        return meta.exists() and audio.exists() and scene.exists()

    def write(self, index: int, clip: Clip) -> None:
        audio, meta, scene = self.paths(index)
        rate, channels = self.spec.config.sample_rate, clip.audio.shape[1]
        # readers skip the temporary (seld_live.atomic.is_temporary)
        with atomic_path(audio) as tmp, sf.SoundFile(tmp, "w", rate, channels, self.spec.subtype,
                                                     format="FLAC") as f:
            f.comment = self._comment  # replay reads the array from it (seld_live.recording_tag)
            f.write(clip.audio)
        write_text_atomic(scene, json.dumps({"clip": self.spec.clip_name(index), **clip.info}, indent=1) + "\n")
        write_text_atomic(meta, "".join(format_row(r) + "\n" for r in clip.table))  # last: marks the clip done
