"""The bank recipe (``bank_recipe.toml``, see its header): which packages, and which of their files are
recordings of which class; SoundFont packages name the classes to render instead."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from seld_live.config_dict import dataclass_from_dict
from seld_live.errors import ConfigError, SeldError

RECIPE = Path(__file__).with_name("bank_recipe.toml")


@dataclass(frozen=True)
class Rule:
    match: str
    label: str
    group: str = ""
    speaker: str = ""
    speaker_default: str = ""  # the speaker's name where the speaker pattern captures nothing
    gender: str = ""  # speech: known gender, where the pitch would mislead (a radio-band recording)
    max_s: float = 0.0

    def search(self, path: str) -> bool:
        return re.search(self.match, path, re.IGNORECASE) is not None

    def _capture(self, pattern: str, path: str) -> str | None:
        m = re.search(pattern, path, re.IGNORECASE)
        if m is None:
            return None
        groups = [g for g in m.groups() if g]
        return "".join(groups) if groups else m.group(0)

    def group_of(self, path: str) -> str:
        """The recording (speech: the speaker) a file belongs to."""
        if self.speaker:
            return "speaker:" + (self._capture(self.speaker, path) or self.speaker_default or "default")
        if self.group:
            return "group:" + (self._capture(self.group, path) or path)
        return "file:" + path


@dataclass(frozen=True)
class SoundFontClass:
    """A class rendered from every SoundFont package: GM programs (0-based) or GM drum keys."""

    label: str
    programs: tuple[int, ...] = ()
    drum_keys: tuple[int, ...] = ()
    pattern: str = ""  # default: the program's own (training.synth.gm.program_defaults); drums: hits


@dataclass(frozen=True)
class PackageRecipe:
    name: str
    source: str  # "deb" or "pypi"
    rules: tuple[Rule, ...]
    soundfont: str = ""  # regex of the .sf2 inside the package: rendered, not scanned
    renders: tuple[SoundFontClass, ...] = ()  # with soundfont: the classes to render

    def rule_for(self, path: str) -> Rule | None:
        return next((r for r in self.rules if r.search(path)), None)


def load_recipe(path: str | os.PathLike = RECIPE) -> list[PackageRecipe]:
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise SeldError(f"bank recipe {p}: {e}") from None
    try:
        renders = tuple(dataclass_from_dict(SoundFontClass, c, f"soundfont_class {i}.")
                        for i, c in enumerate(data.get("soundfont_class", []), 1))
    except ConfigError as e:
        raise SeldError(f"bank recipe {p}: {e}") from None
    out = []
    for i, pkg in enumerate(data.get("package", []), 1):
        name, source, soundfont = pkg.get("name"), pkg.get("source", "deb"), pkg.get("soundfont", "")
        if not isinstance(name, str) or source not in ("deb", "pypi") or not isinstance(soundfont, str):
            raise SeldError(f"bank recipe {p}: package {i} needs a name and source = \"deb\" or \"pypi\"")
        if soundfont and not renders:
            raise SeldError(f"bank recipe {p}: package {name} is a SoundFont but no [[soundfont_class]] is given")
        rules = []
        for j, r in enumerate(pkg.get("rules", []), 1):
            try:
                rule = dataclass_from_dict(Rule, r, f"rule {j}.")
                for pattern in (rule.match, rule.group, rule.speaker):
                    re.compile(pattern)
            except (ConfigError, re.error) as e:
                raise SeldError(f"bank recipe {p}: package {name}: bad rule {r}: {e}") from None
            rules.append(rule)
        out.append(PackageRecipe(name, source, tuple(rules), soundfont, renders if soundfont else ()))
    return out
