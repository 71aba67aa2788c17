"""The loss-design experiment command (issue 18): its grids, the 45-class vocabulary, the toy grid end to end,
resume after a kill (between runs and mid-training), and the report."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import torch

from training.experiments.loss_design import main
from training.experiments.loss_design.grid import BY_NAME, GRIDS, HERE, RunKey, base_of, chains, grid_names, shard
from training.experiments.loss_design.report import markdown
from training.experiments.loss_design.runner import run_dir, scored_epoch
from training.experiments.loss_design.vocab import gm45
from training.synth.classes import load_class_list

FIELDS = {"system", "classes", "seed", "steps", "F20", "LE_CD", "ER20", "LR_CD", "SELD", "MAR", "empty_frames"}
ROOT = Path(__file__).resolve().parents[1]


def test_main_and_sweep_grids():
    main_runs = [k for c in chains(grid_names("main"), 5000, "cpu") for k in c]
    assert len(main_runs) == len(set(main_runs)) == 7 * 2 * 2
    assert {(k.classes, k.seed) for k in main_runs} == {(v, s) for v in ("home13", "gm177") for s in (1, 2)}
    both = chains(grid_names("main,sweep"), 5000, "cpu")
    extra = {k for c in both for k in c} - set(main_runs)  # the sweep's 13 and 177 classes are the main grid's
    assert {(k.system, k.classes) for k in extra} == {(s, "gm45") for s in ("SEDDOA", "SEDDOA-AGG2", "mACCDOA")}
    for chain in both:  # every AGG system runs after the multi-task run it branches from, in its chain
        for i, key in enumerate(chain):
            base = base_of(BY_NAME[key.system])
            assert base is None or base.name in [k.system for k in chain[:i]]
    for n in (1, 3, 8):  # the shards split the chains, each chain once
        parts = [c for k in range(n) for c in shard(both, k, n)]
        assert sorted(map(str, parts)) == sorted(map(str, both))
    assert GRIDS["main"].steps >= 5000


def test_the_live_grid_adds_einv2_agg2_on_the_main_grids_einv2_runs():
    """EINV2-AGG2 (beyond the paper's seven) branches from the very EINV2 runs of the main grid (trained once)."""
    live = chains(grid_names("live"), 5000, "cpu")
    assert [[k.system for k in c] for c in live] == [["EINV2", "EINV2-AGG2"]] * 2
    main_runs = {k for c in chains(grid_names("main"), 5000, "cpu") for k in c}
    assert {c[0] for c in live} <= main_runs and not {c[1] for c in live} & main_runs
    record = {"classes": "home13", "num_classes": 13, "steps": 5000, "scale": "cpu", "F20": 0.5, "ER20": 0.5,
              "LE_CD": 20.0, "LR_CD": 0.6, "SELD": 0.4, "MAR": 0.5, "empty_frames": 0.2}
    runs = [{**record, "system": s, "seed": 1} for s in ("EINV2", "EINV2-AGG2")]
    table = markdown(runs, "cpu", 5000)
    assert "| EINV2-AGG2 | 50.0% |" in table and table.index("| EINV2 |") < table.index("| EINV2-AGG2 |")
    assert table.split("| EINV2-AGG2 |")[1].split("\n")[0].endswith("| 1 | – | – |")  # no paper columns


def test_part_of_a_grid(tmp_path, capsys):
    args = ["--grid", "main,sweep", "--json", str(tmp_path / "none.json"), "--list"]
    assert main([*args, "--classes", "gm177,gm45", "--seeds", "2", "--systems", "SEDDOA-AGG2,mACCDOA"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert sorted(listed) == sorted(f"todo {s} {v} seed 2 5000 steps (cpu)" for s in ("SEDDOA-AGG2", "mACCDOA")
                                    for v in ("gm177", "gm45"))
    assert main(args) == 0 and len(capsys.readouterr().out.splitlines()) == 7 * 2 * 2 + 3 * 2


def test_the_wide_scale_widens_seddoa_to_einv2s_size_on_the_cpu_scenes(tmp_path, monkeypatch):
    from seld_live.models import build_model, count_parameters, sized_config
    from training.config import config_from_dict
    from training.experiments.loss_design import runner

    monkeypatch.setattr(runner, "schedule", lambda scale, train_dir, steps: runner.Schedule(37, 9, (25, 33)))
    data = {s: tmp_path / "data" / "cpu" / "home13" / s for s in ("train", "val", "test")}
    sizes = {}
    for system, scale in (("SEDDOA-AGG2", "cpu_wide"), ("SEDDOA-AGG2", "cpu"), ("EINV2", "cpu")):
        cfg = config_from_dict(runner.train_config(RunKey(system, "home13", 1, 5000, scale), data, tmp_path, "cpu"))
        sizes[(system, scale)] = count_parameters(build_model(sized_config(
            cfg.model.size, arch=cfg.model.arch, num_classes=13, **cfg.model.overrides)))  # the tetrahedron's features
    wide, compact, einv2 = sizes.values()
    assert compact < 0.55 * einv2 and abs(wide - einv2) < 0.02 * einv2  # the control has EINV2's capacity
    monkeypatch.setattr(runner, "_complete", lambda path, spec, clips: True)  # no synthesis: the paths only
    assert runner.prepare_data(tmp_path, "cpu_wide", "home13") == runner.prepare_data(tmp_path, "cpu", "home13")


def test_the_sedpit_scales_change_the_multitask_loss_on_the_papers_scenes(tmp_path, monkeypatch):
    """The many-class recipes (beta 0.93 or 0.8, the permutation chosen by SED) reach every multi-task and AGG run,
    and train on the paper scale's scenes; the paper's scale keeps the paper's loss."""
    from training.config import config_from_dict
    from training.experiments.loss_design import runner

    monkeypatch.setattr(runner, "schedule", lambda scale, train_dir, steps: runner.Schedule(37, 9, (25, 33)))
    data = {s: tmp_path / s for s in ("train", "val", "test")}
    for suffix, beta in (("_sedpit", 0.93), ("_sedpit80", 0.8)):
        for system in ("SEDDOA", "EINV2", "SEDDOA-AGG2", "ACCDOA"):
            new = config_from_dict(runner.train_config(RunKey(system, "gm177", 1, 5000, f"cpu{suffix}"), data,
                                                       tmp_path, "cpu")).loss
            paper = config_from_dict(runner.train_config(RunKey(system, "gm177", 1, 5000, "cpu"), data, tmp_path,
                                                         "cpu")).loss
            assert (new.beta, new.pit_beta) == (beta, 1.0) and (paper.beta, paper.pit_beta) == (0.5, None)
            assert new.name == paper.name and new.params() == (
                {"beta": beta, "pit_beta": 1.0} if new.name == "multitask" else paper.params())
    monkeypatch.setattr(runner, "_complete", lambda path, spec, clips: True)  # no synthesis: the paths only
    for scale in ("cpu", "gpu"):
        for suffix in ("_sedpit", "_sedpit80"):
            assert runner.prepare_data(tmp_path, scale + suffix, "gm177") == runner.prepare_data(tmp_path, scale,
                                                                                                 "gm177")


def test_gm45_is_every_fourth_gm177_class():
    path = HERE / "gm45.toml"
    assert path.read_text() == gm45()  # the file is what vocab.py writes
    small, full = load_class_list(path), load_class_list("gm177")
    assert len(small) == 45 and small.names == full.names[::4]
    assert small.classes == full.classes[::4]  # the same renderings of each kept class


def _toy(tmp_path: Path, *extra: str) -> list[str]:
    return ["--grid", "toy", "--out", str(tmp_path / "ld"), "--json", str(tmp_path / "ld.json"), "--workers", "1",
            *extra]


def _wait_for(condition, timeout: float, proc: subprocess.Popen) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None or condition(), "the grid ended before the condition held"
        assert time.monotonic() < end, "timed out waiting for the grid"
        time.sleep(0.2)


@pytest.mark.slow
def test_toy_grid_end_to_end_resumes_after_kills(tmp_path, capsys):
    results = tmp_path / "ld.json"
    # killed once the first run's result is in the results file
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # output to a file, not a pipe nobody reads (a full pipe would stall the grid)
    with open(tmp_path / "grid.log", "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "training.experiments.loss_design", *_toy(tmp_path)],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_for(lambda: results.exists() and len(json.loads(results.read_text())) >= 1, 240, proc)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
    before = {(r["system"], r["classes"]): r for r in json.loads(results.read_text())}
    assert len(before) < len(GRIDS["toy"].systems) * len(GRIDS["toy"].vocabs)  # killed before the end
    stamps = {k: (run_dir(tmp_path / "ld", _key(r)) / "best.pt").stat().st_mtime_ns for k, r in before.items()}

    assert main(_toy(tmp_path)) == 0
    runs = json.loads(results.read_text())
    keys = [(r["system"], r["classes"]) for r in runs]
    assert sorted(keys) == sorted((s, v) for s in GRIDS["toy"].systems for v in GRIDS["toy"].vocabs)
    for r in runs:
        assert set(r) >= FIELDS and r["steps"] == GRIDS["toy"].steps and r["seed"] == 1
        assert 0.0 <= r["empty_frames"] <= 1.0 and r["num_classes"] == {"home13": 13, "gm45": 45}[r["classes"]]
    for k, r in before.items():  # the runs finished before the kill were not trained again
        assert next(x for x in runs if (x["system"], x["classes"]) == k) == r
        assert (run_dir(tmp_path / "ld", _key(r)) / "best.pt").stat().st_mtime_ns == stamps[k]
    agg = next(r for r in runs if r["system"] == "SEDDOA-AGG2")
    assert agg["branched_after_epoch"] >= 1 and agg["epochs"] > agg["branched_after_epoch"]
    for r in runs:  # the epoch recorded is the scored checkpoint's; an AGG run's is one of its own epochs
        assert r["best_epoch"] == scored_epoch(run_dir(tmp_path / "ld", _key(r)) / "best.pt") >= 1
        assert r["best_epoch"] > r["branched_after_epoch"]

    # killed mid-training: SEDDOA's state after epoch 1 (its kept branch point), no result yet
    seddoa = next(r for r in runs if r["system"] == "SEDDOA" and r["classes"] == "home13")
    folder = run_dir(tmp_path / "ld", _key(seddoa))
    (folder / "result.json").unlink()
    (folder / "last.pt").write_bytes((folder / "epoch1.pt").read_bytes())
    results.write_text(json.dumps([r for r in runs if r is not seddoa]))
    capsys.readouterr()
    assert main(_toy(tmp_path)) == 0
    assert "after epoch 1" in capsys.readouterr().out  # it went on from its last epoch, not from scratch
    state = torch.load(folder / "last.pt", weights_only=True)
    assert state["scheduler"]["last_epoch"] == GRIDS["toy"].steps  # and trained exactly the budget
    assert len(json.loads(results.read_text())) == len(runs)

    # a new machine: the results file kept, runs/ gone. SEDDOA-AGG2 is asked again; SEDDOA, done, is not
    # retrained, but its state at the branch point is, the same as before
    branch = torch.load(folder / "epoch1.pt", weights_only=True)["model"]
    kept = next(r for r in json.loads(results.read_text()) if r["system"] == "SEDDOA" and r["classes"] == "home13")
    shutil.rmtree(folder)
    agg_home = next(r for r in runs if r["system"] == "SEDDOA-AGG2" and r["classes"] == "home13")
    agg_folder = run_dir(tmp_path / "ld", _key(agg_home))
    shutil.rmtree(agg_folder)
    results.write_text(json.dumps([r for r in json.loads(results.read_text()) if r["system"] != "SEDDOA-AGG2"
                                   or r["classes"] != "home13"]))
    assert main(_toy(tmp_path)) == 0
    again = json.loads(results.read_text())
    assert len(again) == len(runs) and not (folder / "result.json").exists()
    assert next(r for r in again if r["system"] == "SEDDOA" and r["classes"] == "home13") == kept
    rebuilt = torch.load(folder / "epoch1.pt", weights_only=True)
    assert torch.load(folder / "last.pt", weights_only=True)["epoch"] == rebuilt["epoch"]  # cut at the branch
    rebuilt = rebuilt["model"]
    for name, w in branch.items():
        torch.testing.assert_close(rebuilt[name], w, msg=name)
    assert (agg_folder / "result.json").exists()

    # the report: tables beside the paper's, the sweep, and the plot
    md = tmp_path / "report" / "loss_design.md"
    assert main(["--report", "--json", str(results), "--md", str(md)]) == 0
    text = md.read_text()
    assert "## home13: 13 classes" in text and "## gm45: 45 classes" in text and "paper" in text
    assert "| SEDDOA-AGG2 |" in text and "Class-count sweep" in text
    assert ET.fromstring(md.with_suffix(".svg").read_text()).tag.endswith("svg")


def _key(record: dict) -> RunKey:
    return RunKey.of(record)


def test_probe_budget_fits_the_most_loaded_shard():
    from training.experiments.loss_design.probe import steps_that_fit

    # 4.5 compact-SEDDOA runs on the busiest shard at 40 steps/s, 6 runs of 20 s overhead, 550 steps an epoch
    steps = steps_that_fit(420, 40.0, 20.0, 4.5, 6, 550)
    assert steps % 500 == 0 and steps > 0
    spent = lambda s: 4.5 * s / 40.0 + 6 * (20.0 + s / 550 * 5.0)  # noqa: E731
    assert spent(steps) <= 420 < spent(steps + 500)
    assert steps_that_fit(100, 40.0, 20.0, 4.5, 6, 550) == 0  # the overheads alone exceed the budget


def _add_record(args: tuple[str, int]) -> None:
    from training.experiments.loss_design.runner import ResultStore

    path, i = args
    ResultStore(Path(path)).add({"system": f"S{i}", "classes": "home13", "seed": 1, "steps": 5, "scale": "toy",
                                 "num_classes": 13})


def test_result_store_keeps_every_record_of_processes_side_by_side(tmp_path):
    import multiprocessing

    path = tmp_path / "results" / "ld.json"
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        pool.map(_add_record, [(str(path), i % 12) for i in range(24)])  # each key twice: replaced, not repeated
    runs = json.loads(path.read_text())
    assert sorted(r["system"] for r in runs) == sorted(f"S{i}" for i in range(12))
    assert [p.name for p in path.parent.iterdir()] == ["ld.json"]  # no lock or temporary file left
