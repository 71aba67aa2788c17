"""The app's start-up order, through the real command (a child process, Qt offscreen): the window paints before
torch or the plotting library load, a wrong input is said in the window at once, and the exit status says
whether the window ever ran. Times are measured by bench/bench_startup.py, not asserted here."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from helpers import make_checkpoint


def start(tmp_path, *argv):
    trace = tmp_path / "trace.jsonl"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "SELD_LIVE_STARTUP_TRACE": str(trace),
           "SELD_LIVE_STARTUP_QUIT": "1", "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    p = subprocess.run([sys.executable, "-m", "seld_live.cli", *argv, "--cpu"], env=env, capture_output=True,
                       text=True, timeout=300)
    events = [json.loads(line) for line in trace.read_text().splitlines()] if trace.exists() else []
    return p, {e["event"]: e for e in events}, [e["event"] for e in events]


@pytest.mark.slow
def test_the_window_paints_before_torch_loads_and_runs_the_replay(tmp_path):
    model = make_checkpoint(tmp_path / "tiny.pt")
    scene = tmp_path / "scene.flac"
    sf.write(str(scene), (np.random.default_rng(0).standard_normal((24000, 4)) * 0.05).astype(np.float32), 24000)
    p, ev, order = start(tmp_path, "--replay", str(scene), "--model", str(model))
    assert p.returncode == 0, p.stderr
    assert order == ["window", "first_hop"]
    assert not ev["window"]["torch_loaded"] and not ev["window"]["pyqtgraph_loaded"]


@pytest.mark.slow
def test_a_missing_file_is_said_in_the_window_before_torch_loads(tmp_path):
    model = make_checkpoint(tmp_path / "tiny.pt")
    p, ev, order = start(tmp_path, "--replay", str(tmp_path / "gone.flac"), "--model", str(model))
    assert p.returncode == 1 and order == ["window", "error"]
    assert ev["error"]["message"] == f"audio file not found: {tmp_path / 'gone.flac'}"
    assert not ev["window"]["torch_loaded"]
    assert f"audio file not found: {tmp_path / 'gone.flac'}" in p.stderr and "Traceback" not in p.stderr


@pytest.mark.slow
def test_outputs_named_on_the_command_line_are_refused_before_any_window(tmp_path):
    model = make_checkpoint(tmp_path / "tiny.pt")
    out = tmp_path / "events.csv"
    out.write_text("kept\n")
    p, _ev, order = start(tmp_path, "--model", str(model), "--output", str(out))
    assert p.returncode == 1 and order == [] and "exists; use --overwrite" in p.stderr
    assert out.read_text() == "kept\n"
