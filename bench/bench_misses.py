"""Where the missed sounds go: each reference frame of a seld-synth dataset, against a model's predictions.

    python bench/bench_misses.py --data data/xsource/val_real --pred PRED_DIR [--json OUT.json]

PRED_DIR holds DCASE CSV predictions, one per clip (``seld-eval model --pred-out PRED_DIR``). Every frame of
every reference event is put in exactly one bin:

- **hit**: the right class, within 20 deg;
- **wrong direction**: the right class, but not within 20 deg (counted apart: where that output points at another
  event active in the frame, a class paired with another source's direction; where no other event is active);
- **confused**: not the right class, but another class within 20 deg (which one is counted);
- **silent here**: nothing within 20 deg (though something may be output elsewhere in the frame).

The bins are shared per class and per source (the recording's package and file group, from the scene JSON), so
that a class's misses can be read as "the model hears something there and names it wrongly" (a class boundary
to learn) or "the model hears nothing there" (a sound it has no notion of). An event counts as found when any of
its frames is a hit. Frame-level, no matching across tracks: a diagnosis, not a DCASE metric.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np

from seld_live.atomic import write_json_atomic
from seld_live.events import read_dcase_csv

DOA_DEG = 20.0
BINS = ("hit", "wrong_dir", "confused", "silent")


def unit(az_deg: np.ndarray, el_deg: np.ndarray) -> np.ndarray:
    az, el = np.radians(az_deg), np.radians(el_deg)
    return np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], axis=-1)


@dataclass
class Tally:
    frames: Counter = field(default_factory=Counter)  # bin -> frames
    confused_as: Counter = field(default_factory=Counter)  # class index -> frames
    wrong_deg: list[float] = field(default_factory=list)  # wrong direction: the nearest same-class output's error
    events: int = 0
    found: int = 0

    def add(self, other: Tally) -> None:
        self.frames.update(other.frames)
        self.confused_as.update(other.confused_as)
        self.wrong_deg += other.wrong_deg
        self.events += other.events
        self.found += other.found

    def as_dict(self, names: list[str]) -> dict:
        total = sum(self.frames[b] for b in BINS)
        return {"frames": total, "events": self.events, "found": self.found,
                **{b: self.frames[b] / total if total else float("nan") for b in BINS},
                "wrong_dir_median_deg": float(np.median(self.wrong_deg)) if self.wrong_deg else float("nan"),
                # of the wrong-direction frames: the output points at another active event; no other event active
                **{k: self.frames[k] / self.frames["wrong_dir"] if self.frames["wrong_dir"] else float("nan")
                   for k in ("wrong_dir_at_other", "wrong_dir_alone")},
                # the share of frames with the right class in the wrong direction, alone and in overlap
                "alone": self.frames["alone"] / total if total else float("nan"),
                "wrong_dir_rate_alone": _ratio(self.frames["wrong_dir_alone"], self.frames["alone"]),
                "wrong_dir_rate_overlap": _ratio(self.frames["wrong_dir"] - self.frames["wrong_dir_alone"],
                                                 total - self.frames["alone"]),
                "confused_as": {names[k]: n for k, n in self.confused_as.most_common()}}


def _ratio(a: int, b: int) -> float:
    return a / b if b else float("nan")


def classify_frame(cls: int, ref_dir: np.ndarray, pred_rows: np.ndarray,
                   others: np.ndarray | None = None) -> tuple[str, dict]:
    """The bin of one reference frame (class ``cls``, unit vector ``ref_dir``) given that frame's prediction rows
    (frame, class, track, azimuth, elevation[, distance]) and the unit vectors of the other reference events
    active in it (``others``, n x 3); with it, for ``confused`` the nearest other class (``as``), for
    ``wrong_dir`` the angle to the nearest output of the right class (``deg``) and whether that output points
    at another active reference event (``at_other``)."""
    others = np.zeros((0, 3)) if others is None else others
    if len(pred_rows) == 0:
        return "silent", {}
    dirs = unit(pred_rows[:, 3], pred_rows[:, 4])
    angle = np.degrees(np.arccos(np.clip(dirs @ ref_dir, -1.0, 1.0)))
    same = pred_rows[:, 1].astype(int) == cls
    near = angle <= DOA_DEG
    if np.any(same & near):
        return "hit", {}
    if np.any(same):
        k = int(np.argmin(np.where(same, angle, np.inf)))
        to_others = np.degrees(np.arccos(np.clip(others @ dirs[k], -1.0, 1.0)))
        return "wrong_dir", {"deg": float(angle[k]), "at_other": bool(np.any(to_others <= DOA_DEG))}
    if np.any(near):
        k = int(np.argmin(np.where(near, angle, np.inf)))
        return "confused", {"as": int(pred_rows[k, 1])}
    return "silent", {}


def event_source(event: dict) -> str:
    """The package of the recording an event plays (or the render's source kind where it is no recording)."""
    render = event.get("render", {})
    group = render.get("group") or render.get("source", "?")
    return group.split("/", 1)[0] if render.get("source") == "file" else f"{render.get('source', '?')}:{group}"


def clip_tallies(ref: np.ndarray, pred: np.ndarray, scene: dict) -> list[tuple[int, str, Tally]]:
    """(class, source, tally) per reference event of one clip."""
    by_frame: dict[int, np.ndarray] = {}
    if len(pred):
        frames = pred[:, 0].astype(int)
        for f in np.unique(frames):
            by_frame[int(f)] = pred[frames == f]
    empty = np.zeros((0, 6))
    out = []
    for ev in scene["events"]:
        cls, track = int(ev["class"]), int(ev["track"])
        lo, hi = int(np.floor(ev["onset"] * 10)), int(np.ceil(ev["offset"] * 10))
        rows = ref[(ref[:, 1] == cls) & (ref[:, 2] == track) & (ref[:, 0] >= lo) & (ref[:, 0] < hi)]
        tally = Tally(events=1)
        for r in rows:
            f = int(r[0])
            other = ref[(ref[:, 0] == f) & ~((ref[:, 1] == cls) & (ref[:, 2] == track))]
            b, detail = classify_frame(cls, unit(r[3], r[4]), by_frame.get(f, empty), unit(other[:, 3], other[:, 4]))
            tally.frames[b] += 1
            tally.frames["alone"] += len(other) == 0
            if b == "confused":
                tally.confused_as[detail["as"]] += 1
            elif b == "wrong_dir":
                tally.wrong_deg.append(detail["deg"])
                tally.frames["wrong_dir_at_other"] += detail["at_other"]
                tally.frames["wrong_dir_alone"] += len(other) == 0
        tally.found = int(tally.frames["hit"] > 0)
        if len(rows):
            out.append((cls, event_source(ev), tally))
    return out


def analyse(data: Path, pred: Path) -> dict:
    names = [line.split("\t")[1].strip() for line in (data / "classes.tsv").read_text().splitlines() if line.strip()]
    per_class: dict[int, Tally] = defaultdict(Tally)
    per_source: dict[tuple[int, str], Tally] = defaultdict(Tally)
    clips = sorted((data / "metadata").glob("*.csv"))
    if not clips:
        raise SystemExit(f"{data}/metadata: no reference CSV files")
    missing = [c.name for c in clips if not (pred / c.name).exists()]
    if missing:
        raise SystemExit(f"{pred}: no predictions for {len(missing)} clips (first: {missing[0]})")
    for csv in clips:
        ref = read_dcase_csv(csv, len(names))
        scene = json.loads((data / "scenes" / f"{csv.stem}.json").read_text())
        for cls, src, tally in clip_tallies(ref, read_dcase_csv(pred / csv.name, len(names)), scene):
            per_class[cls].add(tally)
            per_source[(cls, src)].add(tally)
    total = Tally()
    for t in per_class.values():
        total.add(t)
    return {"data": str(data), "pred": str(pred), "date": date.today().isoformat(), "doa_deg": DOA_DEG,
            "all": total.as_dict(names),
            "classes": {names[c]: per_class[c].as_dict(names) for c in sorted(per_class)},
            "sources": [{"class": names[c], "source": s, **t.as_dict(names)}
                        for (c, s), t in sorted(per_source.items())]}


def table(result: dict) -> str:
    def line(name: str, d: dict) -> str:
        top = ", ".join(f"{k} {n / d['frames']:.0%}" for k, n in list(d["confused_as"].items())[:2] if d["frames"])
        return (f"| {name} | {d['events']} | {d['found'] / max(1, d['events']):.0%} | "
                + " | ".join(f"{d[b]:.0%}" for b in BINS)
                + f" | {d['wrong_dir_median_deg']:.0f}° | {d['wrong_dir_at_other']:.0%} | {top} |")

    head = ["| class | events | found | hit | wrong direction | confused | silent here | wrong by (median) "
            "| wrong: at another event | confused as (share of frames) |", "|---|---|---|---|---|---|---|---|---|---|"]
    rows = [line(n, d) for n, d in result["classes"].items()] + [line("**all**", result["all"])]
    src = ["", "| class | source | events | found | hit | wrong direction | confused | silent here | wrong by "
           "| at another | confused as |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    src += [line(f"{s['class']} | {s['source']}", s) for s in result["sources"]]
    return "\n".join(head + rows + src)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="seld-synth dataset (metadata/, scenes/, classes.tsv)")
    ap.add_argument("--pred", type=Path, required=True, help="folder of DCASE CSV predictions, one per clip")
    ap.add_argument("--json", type=Path, help="also write the result here")
    args = ap.parse_args(argv)
    result = analyse(args.data, args.pred)
    print(table(result))
    if args.json:
        write_json_atomic(args.json, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
