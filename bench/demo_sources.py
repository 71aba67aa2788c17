"""The recordings a synthesized clip uses, for a shipped scene's licence list (assets/demo/demo_scene_sources.tsv).

    python bench/demo_sources.py --clip data/demo_real_v4/scenes/test_00001.json --bank data/bank_demo \\
        --out assets/demo/demo_scene_sources.tsv

One row per recording, in the order the clip first uses it (events, then unlabelled interferers, then the
recorded background): its role (the class, 'unlabelled: LABEL' or 'ambience'), package, version, the file in
the package (ARCHIVE!ENTRY) and its licence, from the bank's manifest. Renders (SoundFont, espeak-ng) have no
recording and are left out; a recording missing from the manifest is an error.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path

from seld_live.atomic import write_text_atomic

HEADER = ["role", "package", "version", "file in the package (ARCHIVE!ENTRY)", "licence"]


def clip_recordings(scene: dict) -> list[tuple[str, str]]:
    """(role, bank file) for each recording the clip uses, first use first, each file once."""
    uses: list[tuple[str, str]] = []
    for e in scene.get("events", []):
        uses += [(e["name"], f) for f in e.get("render", {}).get("files", [])]
    for i in scene.get("interferers", []):
        uses += [(f"unlabelled: {i['label']}", f) for f in i.get("render", {}).get("files", [])]
    bg = scene.get("background")
    if bg and bg.get("file"):
        uses.append(("ambience", bg["file"]))
    seen: set[str] = set()
    out = []
    for role, f in uses:
        if f not in seen:
            seen.add(f)
            out.append((role, f))
    return out


def source_rows(scene: dict, manifest: dict) -> list[list[str]]:
    by_file = {r["file"]: r for r in manifest["recordings"]}
    rows = []
    for role, f in clip_recordings(scene):
        r = by_file.get(f)
        if r is None:
            raise SystemExit(f"demo_sources: {f} is not in the bank's manifest (wrong --bank?)")
        rows.append([role, r["package"], r["version"], r["source_path"], r["licence"]])
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clip", required=True, help="the clip's scene description (DATASET/scenes/CLIP.json)")
    p.add_argument("--bank", required=True, help="the bank the clip was synthesized from (--bank of seld-synth)")
    p.add_argument("--out", default="-", help="TSV file (default: standard output)")
    args = p.parse_args(argv)
    scene = json.loads(Path(args.clip).read_text())
    manifest = json.loads((Path(args.bank) / "manifest.json").read_text())
    buf = io.StringIO()
    w = csv.writer(buf, delimiter="\t", lineterminator="\n")
    w.writerow(HEADER)
    w.writerows(source_rows(scene, manifest))
    if args.out == "-":
        sys.stdout.write(buf.getvalue())
    else:
        write_text_atomic(Path(args.out), buf.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
