"""The built wheel is the whole app: installed into a fresh virtual environment it runs the demo with the
shipped model from a folder outside the checkout (its assets come from the package, not the checkout)."""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_folder_is_listed_in_pyproject():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for top in ("seld_live", "training")
             for p in (ROOT / top).rglob("__init__.py")}
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"
    assert "seld_live.assets" in listed


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # build from a copy of what git tracks, so the checkout gets no build/ folder and stray files do not ship
    src = out / "src"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True).stdout
    for rel in filter(None, tracked.decode().split("\0")):
        if (ROOT / rel).is_file():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, src / rel)
    # no build isolation: setuptools is already in the test environment, and no registry is needed
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(out), str(src)], check=True, capture_output=True, timeout=300)
    wheels = list(out.glob("seld_live-*.whl"))
    assert len(wheels) == 1
    return wheels[0]


def test_the_wheel_carries_the_assets(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for shipped in (ROOT / "assets").rglob("*"):
        if shipped.is_file() and "__pycache__" not in shipped.parts:
            rel = shipped.relative_to(ROOT / "assets").as_posix()
            assert f"seld_live/assets/{rel}" in names, rel
    assert "training/synth/bank_recipe.toml" in names and "training/configs/scenes_v1.toml" in names


@pytest.mark.slow
def test_the_installed_wheel_runs_the_demo_outside_the_checkout(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py, seld_live = venv / "bin" / "python", venv / "bin" / "seld-live"
    # the wheel alone (no index: nothing is downloaded), with the venv's own pip
    r = subprocess.run([str(py), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    purelib = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                  check=True, capture_output=True, text=True).stdout.strip())
    # reuse this environment's dependencies (torch, Qt...) through a path file: its entries come after the
    # venv's own site-packages, so the wheel's seld_live is found first, and the editable checkout of this
    # environment is not found at all (its finder is installed by a .pth that is not read from there)
    (purelib / "zz_reuse_test_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    assert seld_live.exists()
    away = tmp_path / "elsewhere"
    away.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("SELD_LIVE_ASSETS", "PYTHONPATH")}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(py), str(seld_live), *args], cwd=away, env=env, capture_output=True, text=True,
                              timeout=300)

    where = subprocess.run([str(py), "-c", "import seld_live.paths as p; print(p.ASSETS)"], cwd=away, env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert Path(where).is_relative_to(purelib), where  # the wheel's own copy, not the checkout's
    r = run("--version")
    assert r.returncode == 0 and r.stdout.startswith("seld-live "), r.stderr
    r = run("--headless", "--duration", "5", "--cpu")
    assert r.returncode == 0, r.stderr
    events = [json.loads(line) for line in r.stdout.splitlines()]
    assert events and all(e["t"] < 5 for e in events)
    assert "input: replay demo_scene.flac" in r.stderr
    r = run("--list-devices")
    assert r.returncode == 0, r.stderr
