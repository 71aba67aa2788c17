"""Dealing a bank's recordings into splits (see ``training.synth.bank``'s docstring): the cross-source split
holds out whole sources (packages where a pool has three or more, else groups), the recording-level split
holds out files of training sources; ``view_split`` is the split a recording serves under either."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from training.synth.real_bank import Recording

SPLITS = ("train", "val", "test")
HOLDOUTS = ("source", "recording")
HELD_SOURCES = 3  # sources per held-out split where a pool has enough (val and test each)
RECORDING_SHARE = 0.10  # of a training group's files, for each of val and test of the recording-level split


def split_key(r: Recording) -> str:
    """The pool a recording is split in: its label (speech: and gender)."""
    return f"{r.label}/{r.gender}" if r.label == "speech" else r.label


def held_sources(n: int) -> int:
    """Sources held out for each of val and test in a pool of ``n`` (3 from 17 up; a pool of 2 gives its
    shorter one to test only; 1 stays in training)."""
    if n < 3:
        return 1 if n == 2 else 0
    return max(1, min(HELD_SOURCES, round(0.15 * n)))


def _order(key: str, name: str) -> str:
    return hashlib.sha1(f"{key}\0{name}".encode()).hexdigest()


def is_rendered(group: str) -> bool:
    """Whether a group is one SoundFont's rendering of a class (not a recording)."""
    return "/soundfont:" in group


def _hold_out_sources(key: str, groups: dict[str, list[Recording]]) -> dict[str, str]:
    """The cross-source split of one pool's groups (see the module docstring)."""
    # renders stay in training: what a user meets, and what the held-out splits must stand for, are recordings
    chosen = dict.fromkeys((g for g in groups if is_rendered(g)), "train")
    recorded = {g: rs for g, rs in groups.items() if g not in chosen}
    return chosen | _hold_out_recorded(key, recorded)


def _hold_out_recorded(key: str, groups: dict[str, list[Recording]]) -> dict[str, str]:
    n = len(groups)
    if n == 2:  # two sources: the longer to learn from, the other to test on
        longer, other = sorted(groups, key=lambda g: (-sum(r.duration for r in groups[g]), g))
        return {longer: "train", other: "test"}
    package = {g: rs[0].package for g, rs in groups.items()}
    if len(set(package.values())) >= 3:
        by_package: dict[str, list[str]] = {}
        for g in groups:
            by_package.setdefault(package[g], []).append(g)
        # at most a quarter of the packages per held-out split: training keeps most recording chains
        chosen = _deal(key, by_package, n, max_units=max(1, len(by_package) // 4))
        if {"val", "test"} <= set(chosen.values()):
            return chosen
        # every package too large to hold out whole: hold out sources instead
    return _deal(key, {g: [g] for g in groups}, n)


def _deal(key: str, units: dict[str, list[str]], n: int, max_units: int | None = None) -> dict[str, str]:
    """Units (packages or groups) in hash order to test, then val, until each holds ``held_sources(n)``
    groups or ``max_units`` units; a unit of more than a quarter of the pool stays in training."""
    held = held_sources(n)
    cap = max(held, n // 4)
    got = {"test": 0, "val": 0}
    taken = {"test": 0, "val": 0}
    chosen = {}
    for u in sorted(units, key=lambda u: _order(key, u)):
        members = units[u]
        split = next((s for s in ("test", "val") if got[s] < held and len(members) <= cap
                      and (max_units is None or taken[s] < max_units)), "train")
        if split != "train":
            got[split] += len(members)
            taken[split] += 1
        chosen.update(dict.fromkeys(members, split))
    return chosen


def _hold_out_recordings(key: str, recs: list[Recording]) -> None:
    """The recording-level split within training sources: of each group with five files or more, about a
    tenth of its files (at least one) each to val and test, the rest to train."""
    files: dict[str, list[Recording]] = {}
    for r in recs:
        files.setdefault(r.group, []).append(r)
    for rs in files.values():
        ordered = sorted(rs, key=lambda r: _order(key, r.file))
        k = max(1, round(RECORDING_SHARE * len(rs))) if len(rs) >= 5 else 0
        for i, r in enumerate(ordered):
            r.split_recording = "test" if i < k else "val" if i < 2 * k else "train"


def assign_splits(recs: list[Recording]) -> None:
    """Deal sources into the cross-source splits per pool, then recordings of training sources into the
    recording-level splits (see the module docstring)."""
    pools: dict[str, dict[str, list[Recording]]] = {}
    for r in recs:
        pools.setdefault(split_key(r), {}).setdefault(r.group, []).append(r)
    for key, groups in pools.items():
        chosen = _hold_out_sources(key, groups)
        for g, rs in groups.items():
            for r in rs:
                r.split = chosen[g]
                r.split_recording = ""
        _hold_out_recordings(key, [r for rs in groups.values() for r in rs if r.split == "train"])


def view_split(r: Recording, holdout: str = "source") -> str:
    """The split a recording serves in a bank read with ``holdout`` ("" for none): training is the same for
    both; val and test are the held-out sources (``source``) or held-out recordings of training sources
    (``recording``). Banks built before the recording-level split treat every training recording as train."""
    if r.split == "train":
        within = r.split_recording or "train"
        return within if within == "train" or holdout == "recording" else ""
    return r.split if holdout == "source" else ""
