"""seld-synth end to end: layout, byte-identical output for a seed whatever the worker count,
resuming, and one-line errors for bad options."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from seld_live.events import read_dcase_csv
from seld_live.geometry import load_array
from seld_live.recording_tag import recorded_array
from training.synth.cli import main

ARGS = ["--clips", "3", "--duration", "2.0", "--seed", "5", "--max-overlap", "2", "--quiet"]


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> tuple[Path, Path]:
    a = tmp_path_factory.mktemp("synth") / "one_worker"
    b = tmp_path_factory.mktemp("synth") / "two_workers"
    assert main(["--out", str(a), "--workers", "1", *ARGS]) == 0
    assert main(["--out", str(b), "--workers", "2", *ARGS]) == 0
    return a, b


def test_layout(made):
    root, _ = made
    names = [f"train_{i:05d}" for i in range(3)]
    assert sorted(p.stem for p in (root / "mic").glob("*.flac")) == names
    assert (root / "classes.tsv").read_text().splitlines()[0] == "0\tfemale_speech"
    arr = load_array(root / "array.toml")
    assert arr.format == "mic" and arr.channels == (1, 2, 3, 4) and arr.same_layout(load_array("dcase_mic"))
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["seed"] == 5 and manifest["config"]["max_overlap"] == 2 and manifest["num_clips"] == 3
    assert manifest["config"]["duration"] == 2.0 and manifest["split"] == "train"
    for n in names:
        info = sf.info(str(root / "mic" / f"{n}.flac"))
        assert (info.samplerate, info.channels, info.frames, info.subtype) == (24000, 4, 48000, "PCM_16")
        table = read_dcase_csv(root / "metadata" / f"{n}.csv", num_classes=13)
        assert np.all(table[:, 0] < 20) and np.all(~np.isnan(table[:, 5]))
        scene = json.loads((root / "scenes" / f"{n}.json").read_text())
        assert {e["track"] for e in scene["events"]} == set(table[:, 2].astype(int))
    assert not [p for p in root.rglob("*") if ".tmp" in p.name]  # no temporary of a write left


def test_same_seed_gives_identical_files_whatever_the_workers(made):
    a, b = made
    fa, fb = files(a), files(b)
    assert fa.keys() == fb.keys()
    for k in fa:
        assert fa[k] == fb[k], k


def test_resume_remakes_only_missing_clips(made, tmp_path, capsys):
    src, _ = made
    out = tmp_path / "resume"
    assert main(["--out", str(out), "--workers", "1", *ARGS]) == 0
    (out / "metadata" / "train_00001.csv").unlink()  # clip 1 was interrupted before its metadata
    (out / "mic" / "train_00001.flac").write_bytes(b"partial")
    keep = out / "mic" / "train_00000.flac"
    os.utime(keep, ns=(1, 1))
    capsys.readouterr()
    assert main(["--out", str(out), "--workers", "1", *ARGS]) == 0
    assert "1 clips made, 2 already there" in capsys.readouterr().out
    assert keep.stat().st_mtime_ns == 1  # untouched
    assert files(out) == files(src)


def test_other_settings_in_the_same_folder_are_refused(made, capsys):
    root, _ = made
    capsys.readouterr()
    assert main(["--out", str(root), "--clips", "3", "--duration", "2.0", "--seed", "6", "--quiet"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "other settings" in err[0] and "seed" in err[0]


@pytest.mark.parametrize("extra, message", [
    (["--classes", "nope"], "unknown class list"),
    (["--array", "nope"], "unknown array preset"),
    (["--duration", "0"], "duration"),
    (["--max-overlap", "9"], "max overlap"),
    (["--clips", "0"], "number of clips"),
    (["--moving", "1.5"], "moving"),
])
def test_bad_options_give_one_line(tmp_path, capsys, extra, message):
    argv = ["--out", str(tmp_path / "x"), "--clips", "1", "--duration", "1.0", "--quiet", *extra]
    assert main(argv) == 1  # an error (usage errors, from argparse, exit 2)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and "Traceback" not in err[0]


def test_config_file(tmp_path, capsys):
    cfg = tmp_path / "scene.toml"
    cfg.write_text("duration = 1.0\nrt60 = [0.3, 0.3]\nbogus = 1\n")
    assert main(["--out", str(tmp_path / "o"), "--config", str(cfg), "--clips", "1", "--quiet"]) == 1
    assert "unknown setting(s) bogus" in capsys.readouterr().err
    cfg.write_text("duration = 1.0\nrt60 = [0.3, 0.3]\nsnr_db = [20.0, 20.0]\n")
    out = tmp_path / "o2"
    assert main(["--out", str(out), "--config", str(cfg), "--clips", "1", "--array", "foa", "--quiet"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["rt60"] == [0.3, 0.3] and manifest["audio"]["dir"] == "foa"
    assert recorded_array(out / "foa" / "train_00000.flac") == "foa"  # its tag: replay reads it as FOA


@pytest.mark.parametrize("text, message", [
    ('duration = "long"\n', "duration must be a number, got 'long'"),
    ("rt60 = 5\n", "rt60 must be a list, got 5"),
    ("rt60 = [0.3]\n", "rt60 must have 2 values"),
    ('speed_deg = [10, "fast"]\n', "speed_deg[1] must be a number, got 'fast'"),
    ("max_overlap = 2.5\n", "max_overlap must be an integer, got 2.5"),
    ("duration = \n", "not valid TOML"),
    ("[room]\nsize = 3\n", "unknown setting(s) room"),
])
def test_config_file_errors_name_the_file_and_key(tmp_path, capsys, text, message):
    cfg = tmp_path / "scene.toml"
    cfg.write_text(text)
    assert main(["--out", str(tmp_path / "o"), "--config", str(cfg), "--clips", "1", "--quiet"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"seld-synth: error: {cfg}: {message}"), err
    assert not (tmp_path / "o").exists()  # refused before anything is written


def test_a_range_out_of_bounds_is_named(tmp_path, capsys):
    cfg = tmp_path / "scene.toml"
    cfg.write_text("rt60 = [0.3, 9.0]\n")
    assert main(["--out", str(tmp_path / "o"), "--config", str(cfg), "--clips", "1", "--quiet"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "RT60 must be [min, max]" in err[0]


def test_a_rate_without_a_whole_10_ms_hop_is_refused(tmp_path, capsys):
    """22.05 kHz: 10 ms is not a whole number of samples, so no network could be trained on it (16 and 48 kHz
    train end to end: tests/test_train_rates.py)."""
    assert main(["--out", str(tmp_path / "a"), "--sample-rate", "22050", "--clips", "1", "--quiet"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "multiple of 100 Hz" in err[0] and not (tmp_path / "a").exists()
