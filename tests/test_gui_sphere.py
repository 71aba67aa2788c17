"""The 3D sphere view under a real X server: Xvfb started by the test, OpenGL through Mesa."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import make_checkpoint

TOOL = Path(__file__).parent.parent / "bench" / "gui_screenshot.py"  # the README screenshots' tool


@pytest.mark.slow
def test_sphere_view_renders_markers_at_the_tracks_under_xvfb(tmp_path):
    model = make_checkpoint(tmp_path / "tiny.pt", threshold=0.3)
    rng = np.random.default_rng(3)
    n = 24000 * 6
    audio = (rng.standard_normal((n, 4)) * 0.03).astype(np.float32)
    t = np.arange(n) / 24000
    burst = (np.sin(2 * np.pi * 700 * t) * (t > 0.5)).astype(np.float32) * 0.3
    for ch, delay in enumerate([0, 3, 5, 2]):
        audio[:, ch] += np.roll(burst, delay)
    scene = tmp_path / "scene.flac"
    sf.write(str(scene), audio, 24000, subtype="PCM_24")
    out = tmp_path / "sphere.png"
    xvfb = shutil.which("xvfb-run")
    assert xvfb, "xvfb-run (Debian xvfb) is needed for the 3D view test"
    p = subprocess.run([xvfb, "-a", "-s", "-screen 0 1600x1000x24", sys.executable, str(TOOL),
                        str(model), str(scene), str(out), "--view", "sphere", "--speed", "2", "--hops", "25"],
                       capture_output=True, text=True, timeout=400)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "gui_screenshot: ok" in p.stdout
    head = out.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    assert (width, height) == (1440, 900)
