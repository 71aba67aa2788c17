"""Start-up of the desktop app: time to the first paint of the window, to the first hop drawn, and to an error
shown in the window, cold and warm.

Each run starts ``python -m seld_live.cli`` as a user would (the shipped model on the CPU, the window on the
display) with ``SELD_LIVE_STARTUP_TRACE`` set: the app notes each milestone's wall-clock time, and closes its
window after the first hop or error (``SELD_LIVE_STARTUP_QUIT``). Times are from just before the process is
started, so the interpreter's own start is included. Cases:

  demo       the demo scene (window painted, first hop drawn)
  missing    --replay of a file that does not exist (error shown: checked before torch is loaded)
  stereo     --replay of a 2-channel file (error shown: the channel count needs the model, so after it loads)

"warm": the files were read moments before (median of --runs). "cold": before the run, the page cache is told
to drop every file of the Python packages involved (torch, PySide6, pyqtgraph, numpy, scipy, soundfile...),
the interpreter's standard library, the model and the input (``posix_fadvise(DONTNEED)``; no root needed;
pages another process holds mapped, e.g. a training's torch, stay), one run.

Usage:  xvfb-run -a python bench/bench_startup.py [--runs 3]   (or on a desktop; offscreen without a display)
Writes bench/results/bench_startup.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import numpy as np

from seld_live.atomic import write_json_atomic

PACKAGES = ("torch", "PySide6", "shiboken6", "pyqtgraph", "numpy", "scipy", "soundfile", "_soundfile_data", "soxr",
            "sounddevice", "seld_live")
MILESTONES = ("window", "first_hop", "error")


def evict(paths: list[Path]) -> int:
    """Ask the kernel to drop these files (folders: every file below) from the page cache; files dropped."""
    n = 0
    for root in paths:
        files = [root] if root.is_file() else (p for p in root.rglob("*") if p.is_file())
        for p in files:
            try:
                fd = os.open(p, os.O_RDONLY)
            except OSError:
                continue
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                n += 1
            except OSError:
                pass
            finally:
                os.close(fd)
    return n


def package_dirs() -> list[Path]:
    out = [Path(sysconfig.get_paths()["stdlib"])]
    for name in PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin:
            origin = Path(spec.origin)
            out.append(origin.parent if origin.name == "__init__.py" else origin)
        elif spec is not None and spec.submodule_search_locations:
            out.extend(Path(p) for p in spec.submodule_search_locations)
    return out


def one_run(argv: list[str], home: Path, timeout: float = 300.0) -> dict:
    trace = home / f"trace-{time.monotonic_ns()}.jsonl"
    env = {**os.environ, "SELD_LIVE_STARTUP_TRACE": str(trace), "SELD_LIVE_STARTUP_QUIT": "1",
           "HOME": str(home), "XDG_CONFIG_HOME": str(home / "config")}  # no saved layout of the user's
    if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        env["QT_QPA_PLATFORM"] = "offscreen"
    t0 = time.time()
    p = subprocess.run([sys.executable, "-m", "seld_live.cli", *argv], env=env, capture_output=True, text=True,
                       timeout=timeout)
    total = time.time() - t0
    events = {}
    if trace.exists():
        for line in trace.read_text().splitlines():
            d = json.loads(line)
            events.setdefault(d["event"], d["t"] - t0)
            if d["event"] == "error":
                events["error_text"] = d.get("message", "")
    return {"status": p.returncode, "exit_s": total, **events,
            "stderr_tail": p.stderr.strip().splitlines()[-3:] if p.returncode not in (0, 1) else []}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, help="warm runs per case (median)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "bench_startup.json"))
    args = ap.parse_args(argv)

    import soundfile as sf

    from seld_live.launch import demo_scene
    from seld_live.paths import DEFAULT_MODEL

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        stereo = home / "stereo.wav"
        sf.write(str(stereo), np.zeros((24000 * 2, 2), np.float32), 24000)
        demo = demo_scene()
        cases = {
            "demo": ["--replay", str(demo), "--cpu"],
            "missing": ["--replay", str(home / "no-such-file.flac"), "--cpu"],
            "stereo": ["--replay", str(stereo), "--cpu"],
        }
        evictable = [*package_dirs(), DEFAULT_MODEL, demo, stereo]
        results: dict[str, dict] = {}
        for name, case in cases.items():
            one_run(case, home)  # warm the cache (and Python's bytecode)
            warm = [one_run(case, home) for _ in range(args.runs)]
            dropped = evict(evictable)
            cold = one_run(case, home)
            results[name] = {"warm_runs": warm, "cold": cold, "files_evicted": dropped,
                             "warm": {k: float(np.median([r[k] for r in warm if k in r]))
                                      for k in (*MILESTONES, "exit_s") if any(k in r for r in warm)}}

    meta = {"bench": "bench_startup", "date": time.strftime("%Y-%m-%d %H:%M"), "python": platform.python_version(),
            "machine": platform.machine(), "cpus": os.cpu_count(), "cpus_allowed": len(os.sched_getaffinity(0)),
            "load_average": os.getloadavg(), "display": "xcb" if os.environ.get("DISPLAY") else "offscreen",
            "runs": args.runs}
    print(f"seld-live start-up, seconds from process start ({meta['cpus_allowed']} cores, {meta['display']}, "
          f"load {meta['load_average'][0]:.1f})")
    print(f"{'case':<9}{'':>6}{'window':>9}{'first hop':>11}{'error':>8}{'exit':>8}  status")
    for name, r in results.items():
        for kind, d in (("warm", r["warm"]), ("cold", r["cold"])):
            cells = "".join(f"{d[k]:>{w}.2f}" if k in d else f"{'–':>{w}}"
                            for k, w in (("window", 9), ("first_hop", 11), ("error", 8), ("exit_s", 8)))
            status = r["cold"]["status"] if kind == "cold" else [x["status"] for x in r["warm_runs"]]
            print(f"{name:<9}{kind:>6}{cells}  {status}")
    for name, r in results.items():
        if "error_text" in r["cold"]:
            print(f"{name}: {r['cold']['error_text']}")
    write_json_atomic(args.out, {"meta": meta, "results": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
