"""bench/bench_misses.py: every reference frame in exactly one bin, counted by hand on a two-event clip."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def misses():
    spec = importlib.util.spec_from_file_location("bench_misses", ROOT / "bench" / "bench_misses.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclasses look their module up
    spec.loader.exec_module(mod)
    yield mod
    del sys.modules[spec.name]


def write_clip(root: Path, refs: list[tuple], preds: list[tuple], events: list[dict]) -> tuple[Path, Path]:
    data, pred = root / "data", root / "pred"
    for d in (data / "metadata", data / "scenes", pred):
        d.mkdir(parents=True)
    (data / "classes.tsv").write_text("0\tknock\n1\tclapping\n")
    (data / "metadata" / "c0.csv").write_text("".join(",".join(map(str, r)) + "\n" for r in refs))
    (data / "scenes" / "c0.json").write_text(json.dumps({"events": events}))
    (pred / "c0.csv").write_text("".join(",".join(map(str, r)) + "\n" for r in preds))
    return data, pred


def test_each_reference_frame_lands_in_one_bin(misses, tmp_path):
    # knock at azimuth 0 over frames 0-9; clapping at azimuth 180 over frames 0-4
    refs = [(f, 0, 0, 0, 0) for f in range(10)] + [(f, 1, 1, 180, 0) for f in range(5)]
    preds = ([(f, 0, 0, 5, 0) for f in range(3)]  # knock within 20 deg: hits
             + [(f, 0, 0, 175, 0) for f in (3, 4)]  # knock at the clapping: wrong direction, at another event
             + [(f, 1, 0, 2, 0) for f in (5, 6)]  # clapping where the knock is: confused
             + [(7, 0, 0, 90, 0)])  # knock 90 deg off, nothing else active: wrong direction, alone; 8-9 empty
    events = [{"track": 0, "class": 0, "onset": 0.0, "offset": 1.0,
               "render": {"source": "file", "group": "pkg-a/file:x.ogg"}},
              {"track": 1, "class": 1, "onset": 0.0, "offset": 0.5,
               "render": {"source": "file", "group": "pkg-b/file:y.ogg"}}]
    data, pred = write_clip(tmp_path, refs, preds, events)
    result = misses.analyse(data, pred)

    knock = result["classes"]["knock"]
    assert knock["frames"] == 10 and knock["events"] == 1 and knock["found"] == 1
    assert (knock["hit"], knock["wrong_dir"], knock["confused"], knock["silent"]) == pytest.approx((0.3, 0.3, 0.2,
                                                                                                     0.2))
    assert knock["confused_as"] == {"clapping": 2}
    assert knock["wrong_dir_median_deg"] == pytest.approx(175.0)
    assert (knock["wrong_dir_at_other"], knock["wrong_dir_alone"]) == pytest.approx((2 / 3, 1 / 3))
    # frames 5-9 alone (one wrong of five), frames 0-4 in overlap with the clapping (two wrong of five)
    assert (knock["alone"], knock["wrong_dir_rate_alone"], knock["wrong_dir_rate_overlap"]) == pytest.approx(
        (0.5, 0.2, 0.4))

    clap = result["classes"]["clapping"]  # frames 0-2: nothing near azimuth 180; 3-4: the misplaced knock
    assert clap["frames"] == 5 and clap["found"] == 0
    assert (clap["silent"], clap["confused"]) == pytest.approx((0.6, 0.4))
    assert clap["confused_as"] == {"knock": 2}

    assert result["all"]["frames"] == 15
    assert {(s["class"], s["source"]) for s in result["sources"]} == {("knock", "pkg-a"), ("clapping", "pkg-b")}
    assert "| knock | 1 | 100% | 30% | 30% | 20% | 20% | 175° | 67% | clapping 20%" in misses.table(result)


def test_missing_predictions_are_refused(misses, tmp_path):
    data, pred = write_clip(tmp_path, [(0, 0, 0, 0, 0)], [], [{"track": 0, "class": 0, "onset": 0.0, "offset": 0.1,
                                                                "render": {}}])
    (pred / "c0.csv").unlink()
    with pytest.raises(SystemExit, match="no predictions for 1 clips"):
        misses.analyse(data, pred)
