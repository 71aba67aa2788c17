"""Class lists: the vocabulary of a synthetic dataset and how each class is rendered.

A class list is a TOML file (presets in ``assets/classes/``)::

    name = "home13"
    description = "..."

    [[class]]
    name = "piano"
    sources = [{ kind = "gm", program = 0 }, { kind = "gm", program = 1 }]
    duration = [0.5, 4.0]     # optional, seconds
    level_db = 0.0            # optional, level relative to the other classes

A source is one of
- ``{ kind = "gm", program = P }``: General MIDI program P (0-based) of the FluidR3 SoundFont; optional
  ``keys = [low, high]`` and ``pattern`` (phrase, legato, hits, sustain, steps);
- ``{ kind = "drum", keys = [K, ...] }``: GM percussion keys 35..81; optional ``pattern`` (hits, steps);
- ``{ kind = "speech", gender = "female" | "male" }``: espeak-ng speech; optional ``languages``;
- ``{ kind = "file", label = "bird" }``: real recordings of that label from the bank (training/synth/bank.py;
  ``label = "speech"`` needs ``gender``); optional ``pattern``: ``once`` (one recording, or an excerpt of a
  long one), ``repeat`` (takes of one recording repeated every ``interval = [min, max]`` seconds: claps,
  knocks, steps) or ``speech`` (one speaker's utterances in a row).
Every source takes an optional ``weight`` (default 1): a class picks a source per event with probability
proportional to it, which sets the share of real recordings against renders.

Top-level ``interferers = ["dog", ...]`` and ``backgrounds = ["background"]`` name bank labels outside the
vocabulary that scenes use as unlabelled interfering sounds and recorded ambience.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from seld_live.errors import SeldError
from seld_live.paths import CLASSES
from seld_live.tomlfile import load_preset_or_path
from training.synth.gm import GM_DRUMS, program_defaults

KINDS = ("gm", "drum", "speech", "file")
PATTERNS = ("phrase", "legato", "hits", "sustain", "steps")
FILE_PATTERNS = ("once", "repeat", "speech")
SPEECH_LANGUAGES = ("en", "de", "fr-fr", "es", "it")
DEFAULT_DURATION = {
    "phrase": (0.5, 4.0),
    "legato": (0.8, 5.0),
    "hits": (0.3, 2.5),
    "sustain": (1.0, 6.0),
    "steps": (1.5, 5.0),
    "speech": (1.0, 5.0),
    "once": (1.0, 5.0),
    "repeat": (1.0, 4.0),
}


class ClassListError(SeldError):
    pass


@dataclass(frozen=True)
class SourceSpec:
    kind: str
    program: int = -1  # gm
    keys: tuple[int, ...] = ()  # gm: (low, high); drum: the keys to use
    pattern: str = ""
    gender: str = ""  # speech; file with label speech
    languages: tuple[str, ...] = ()  # speech
    label: str = ""  # file: the bank label
    interval: tuple[float, float] = ()  # file, pattern repeat: seconds between takes
    weight: float = 1.0

    @property
    def pool(self) -> str:
        """file: the bank pool (label, and gender for speech)."""
        return f"{self.label}/{self.gender}" if self.label == "speech" else self.label

    def to_dict(self) -> dict:
        d: dict = {"kind": self.kind}
        if self.kind == "gm":
            d.update(program=self.program, keys=list(self.keys), pattern=self.pattern)
        elif self.kind == "drum":
            d.update(keys=list(self.keys), pattern=self.pattern)
        elif self.kind == "file":
            d.update(label=self.label, gender=self.gender, pattern=self.pattern, interval=list(self.interval))
        else:
            d.update(gender=self.gender, languages=list(self.languages))
        if self.weight != 1.0:
            d["weight"] = self.weight
        return d


@dataclass(frozen=True)
class ClassSpec:
    name: str
    sources: tuple[SourceSpec, ...]
    duration: tuple[float, float]
    level_db: float = 0.0


@dataclass(frozen=True)
class ClassList:
    name: str
    classes: tuple[ClassSpec, ...]
    description: str = ""
    path: str = field(default="", compare=False)
    interferers: tuple[str, ...] = ()  # bank labels outside the vocabulary: unlabelled interfering sounds
    backgrounds: tuple[str, ...] = ()  # bank labels of recorded ambience

    @property
    def uses_bank(self) -> bool:
        return bool(self.interferers or self.backgrounds) or any(
            s.kind == "file" for c in self.classes for s in c.sources)

    def only(self, kinds: tuple[str, ...]) -> ClassList:
        """The same vocabulary with only sources of these kinds (a class left without any keeps its place
        with no sources and is never drawn): real-recordings-only or renders-only test sets."""
        classes = tuple(ClassSpec(c.name, tuple(s for s in c.sources if s.kind in kinds), c.duration, c.level_db)
                        for c in self.classes)
        return ClassList(self.name, classes, self.description, self.path, self.interferers, self.backgrounds)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.classes]

    def __len__(self) -> int:
        return len(self.classes)


def load_class_list(name_or_path: str | os.PathLike) -> ClassList:
    """A preset name (``home13``, ``gm177``) or the path of a class list TOML file."""
    data, path = load_preset_or_path(name_or_path, CLASSES, "class list", error=ClassListError)
    return parse_class_list(data, str(path))


def parse_class_list(data: dict, source: str = "<dict>") -> ClassList:
    entries = data.get("class")
    if not isinstance(entries, list) or not entries:
        raise ClassListError(f"{source}: no [[class]] entries")
    classes = []
    seen: set[str] = set()
    for i, entry in enumerate(entries, 1):
        where = f"{source}: class {i}"
        if not isinstance(entry, dict):
            raise ClassListError(f"{where}: expected a table")
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip() or "\t" in name or "\n" in name:
            raise ClassListError(f"{where}: needs a name (text without tabs or newlines)")
        where = f"{source}: class {i} '{name}'"
        if name in seen:
            raise ClassListError(f"{where}: name used twice")
        seen.add(name)
        raw_sources = entry.get("sources")
        if not isinstance(raw_sources, list) or not raw_sources:
            raise ClassListError(f"{where}: needs a non-empty 'sources' list")
        sources = tuple(_parse_source(s, where) for s in raw_sources)
        first = sources[0]
        default = DEFAULT_DURATION["speech" if first.kind == "speech" else first.pattern]
        duration = entry.get("duration", list(default))
        if (not isinstance(duration, list) or len(duration) != 2
                or not all(isinstance(x, int | float) for x in duration)
                or not 0.1 <= duration[0] <= duration[1] <= 60.0):
            raise ClassListError(f"{where}: duration must be [min, max] seconds with 0.1 <= min <= max <= 60")
        level = entry.get("level_db", 0.0)
        if not isinstance(level, int | float) or not -40.0 <= level <= 40.0:
            raise ClassListError(f"{where}: level_db must be a number of dB within -40..40")
        classes.append(ClassSpec(name.strip(), sources, (float(duration[0]), float(duration[1])), float(level)))
    pools = {}
    for key in ("interferers", "backgrounds"):
        v = data.get(key, [])
        if not isinstance(v, list) or not all(isinstance(x, str) and x for x in v):
            raise ClassListError(f"{source}: {key} must be a list of bank labels")
        pools[key] = tuple(v)
    return ClassList(str(data.get("name", Path(source).stem)), tuple(classes), str(data.get("description", "")),
                     path=source, **pools)


def _parse_source(s: object, where: str) -> SourceSpec:
    if not isinstance(s, dict):
        raise ClassListError(f"{where}: each source is an inline table like {{ kind = \"gm\", program = 0 }}")
    kind = s.get("kind")
    if kind not in KINDS:
        raise ClassListError(f"{where}: source kind must be one of {KINDS}, got {kind!r}")
    weight = s.get("weight", 1.0)
    if not isinstance(weight, int | float) or isinstance(weight, bool) or not 0 < weight <= 1000:
        raise ClassListError(f"{where}: source weight must be a number in (0, 1000], got {weight!r}")
    if kind == "file":
        return _parse_file_source(s, where, float(weight))
    pattern = s.get("pattern", "")
    if pattern and pattern not in PATTERNS:
        raise ClassListError(f"{where}: pattern must be one of {PATTERNS}, got {pattern!r}")
    if kind == "gm":
        program = s.get("program")
        if not isinstance(program, int) or not 0 <= program <= 127:
            raise ClassListError(f"{where}: gm source needs program = 0..127 (0-based GM program)")
        lo, hi, default_pattern = program_defaults(program)
        keys = s.get("keys", [lo, hi])
        if (not isinstance(keys, list) or len(keys) != 2 or not all(isinstance(k, int) for k in keys)
                or not 0 <= keys[0] <= keys[1] <= 127 or keys[1] - keys[0] < 4):
            raise ClassListError(f"{where}: gm keys must be [low, high] MIDI keys at least 4 apart")
        return SourceSpec("gm", program=program, keys=(keys[0], keys[1]), pattern=pattern or default_pattern,
                          weight=float(weight))
    if kind == "drum":
        keys = s.get("keys")
        if not isinstance(keys, list) or not keys or not all(isinstance(k, int) and k in GM_DRUMS for k in keys):
            raise ClassListError(f"{where}: drum source needs keys = [..] from the GM kit (35..81)")
        if pattern and pattern not in ("hits", "steps"):
            raise ClassListError(f"{where}: drum pattern must be hits or steps")
        return SourceSpec("drum", keys=tuple(keys), pattern=pattern or "hits", weight=float(weight))
    gender = s.get("gender")
    if gender not in ("female", "male"):
        raise ClassListError(f"{where}: speech source needs gender = \"female\" or \"male\"")
    languages = s.get("languages", list(SPEECH_LANGUAGES))
    if not isinstance(languages, list) or not languages or not all(lang in SPEECH_LANGUAGES for lang in languages):
        raise ClassListError(f"{where}: speech languages must be a list from {SPEECH_LANGUAGES}")
    return SourceSpec("speech", gender=gender, languages=tuple(languages), pattern="speech", weight=float(weight))


def _parse_file_source(s: dict, where: str, weight: float) -> SourceSpec:
    label = s.get("label")
    if not isinstance(label, str) or not label:
        raise ClassListError(f"{where}: file source needs label = \"...\" (a bank label)")
    gender = s.get("gender", "")
    if label == "speech" and gender not in ("female", "male"):
        raise ClassListError(f"{where}: file source with label speech needs gender = \"female\" or \"male\"")
    pattern = s.get("pattern", "speech" if label == "speech" else "once")
    if pattern not in FILE_PATTERNS:
        raise ClassListError(f"{where}: file pattern must be one of {FILE_PATTERNS}, got {pattern!r}")
    interval = s.get("interval", [0.25, 0.8] if pattern == "repeat" else [])
    if interval and (not isinstance(interval, list) or len(interval) != 2
                     or not all(isinstance(x, int | float) for x in interval)
                     or not 0.02 <= interval[0] <= interval[1] <= 10):
        raise ClassListError(f"{where}: interval must be [min, max] seconds within 0.02..10")
    return SourceSpec("file", pattern=pattern, gender=gender, label=label,
                      interval=tuple(float(x) for x in interval), weight=weight)
