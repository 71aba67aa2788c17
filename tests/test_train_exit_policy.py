"""The exit policy of the training-side commands (seld-synth, seld-train, seld-eval, seld-bank), the same as
seld-live's (``seld_live.command``): 0 ok, 1 an error (one ``PROG: error: ...`` line, no traceback), 2 usage,
130 interrupted (with a line that says what was kept)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from training import eval_cli, train_cli
from training.synth import bank_cli
from training.synth import cli as synth_cli

MAINS = {"seld-synth": synth_cli.main, "seld-train": train_cli.main, "seld-eval": eval_cli.main,
         "seld-bank": bank_cli.main}


def one_error_line(capsys, prog: str) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"{prog}: error: ") and "Traceback" not in err[0], err
    return err[0]


def error_args(tmp_path: Path) -> dict[str, list[str]]:
    return {
        "seld-synth": ["--out", str(tmp_path / "o"), "--classes", "nope", "--quiet"],
        "seld-train": ["--set", 'optim.lr="fast"'],
        "seld-eval": ["model", "--model", str(tmp_path / "missing.pt"), "--data", str(tmp_path)],
        "seld-bank": ["--subset-of", str(tmp_path / "no_bank"), "--out", str(tmp_path / "b")],
    }


@pytest.mark.parametrize("prog", sorted(MAINS))
def test_an_error_exits_1_with_one_line(prog, tmp_path, capsys):
    assert MAINS[prog](error_args(tmp_path)[prog]) == 1
    one_error_line(capsys, prog)


@pytest.mark.parametrize("prog, argv", [
    ("seld-synth", ["--out", "x", "--clips", "many"]),
    ("seld-train", ["--epochs", "ten"]),
    ("seld-eval", ["model", "--data", "x"]),  # --model missing
    ("seld-bank", ["--sample-rate", "fast"]),
])
def test_a_usage_error_exits_2(prog, argv, capsys):
    with pytest.raises(SystemExit) as e:
        MAINS[prog](argv)
    assert e.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_usage_errors_found_after_parsing_exit_2_too(tmp_path, capsys):
    assert eval_cli.main([]) == 2  # no subcommand: the help on stderr
    assert "COMMAND" in capsys.readouterr().err
    assert bank_cli.main(["--out", str(tmp_path / "b"), "--licence", "MIT"]) == 2  # --licence needs --subset-of
    assert "--licence goes with --subset-of" in capsys.readouterr().err


def _interrupt(*args, **kwargs):
    raise KeyboardInterrupt


@pytest.mark.parametrize("prog, target, argv, says", [
    ("seld-synth", "training.synth.cli.synthesize", ["--clips", "1", "--duration", "1.0", "--quiet"],
     "finished clips are kept"),
    ("seld-eval", "training.evaluate.evaluate_model", ["model", "--model", "m.pt", "--data", "d"], ""),
    ("seld-bank", "training.synth.bank_cli.build_bank", [], "downloads are kept"),
])
def test_an_interruption_exits_130(prog, target, argv, says, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(target, _interrupt)
    out = ["--out", str(tmp_path / "o")] if prog != "seld-eval" else []
    assert MAINS[prog]([*out, *argv]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"{prog}: interrupted") and says in err[0], err


def test_seld_train_interrupted_says_what_is_in_last_pt(tmp_path, monkeypatch, capsys):
    """Interrupted in its first epoch a run has no last.pt to resume; after an epoch it has."""
    import training.train

    out = tmp_path / "run"
    monkeypatch.setattr(training.train, "train", _interrupt)
    assert train_cli.main(["--out", str(out)]) == 130
    err = capsys.readouterr().err.strip()
    assert err == "seld-train: interrupted; no epoch of this run had finished (nothing to resume)"

    def one_epoch_then_interrupt(cfg, **kwargs):
        Path(cfg.out).mkdir(parents=True, exist_ok=True)
        (Path(cfg.out) / "last.pt").write_bytes(b"state")
        raise KeyboardInterrupt

    monkeypatch.setattr(training.train, "train", one_epoch_then_interrupt)
    assert train_cli.main(["--out", str(out)]) == 130
    err = capsys.readouterr().err.strip()
    assert err == f"seld-train: interrupted; the last finished epoch is in {out / 'last.pt'} (--resume continues)"


def test_seld_train_config_type_errors_name_the_key(tmp_path, capsys):
    cases = [
        (["--set", 'optim.lr="fast"'], "optim.lr must be a number, got 'fast'"),
        (["--set", "optim.lr=fast"], "optim.lr must be a number, got 'fast'"),
        (["--set", 'data.chunk_seconds="5"'], "data.chunk_seconds must be a number, got '5'"),
        (["--set", 'optim.decay_epochs=["a"]'], "optim.decay_epochs[0] must be an integer, got 'a'"),
        (["--set", "optim.decay_epochs=5"], "optim.decay_epochs must be a list, got 5"),
        (["--set", "optim=3", "--set", "optim.lr=1"], "optim is set to a value, not a table"),
        (["--set", "optim.learning_rate=1"], "unknown setting(s) optim.learning_rate"),
    ]
    for argv, message in cases:
        assert train_cli.main(argv) == 1, argv
        assert message in one_error_line(capsys, "seld-train"), argv
    toml = tmp_path / "run.toml"
    toml.write_text('[optim]\nlr = "fast"\n')
    assert train_cli.main(["--config", str(toml)]) == 1
    assert "optim.lr must be a number, got 'fast'" in one_error_line(capsys, "seld-train")
    toml.write_text("[data]\nchunk_seconds = [5]\n")
    assert train_cli.main(["--config", str(toml)]) == 1
    assert "data.chunk_seconds must be a number, got [5]" in one_error_line(capsys, "seld-train")


def test_seld_eval_threshold_out_of_range_is_one_line(tmp_path, capsys):
    for value in ("-3", "0", "2"):
        assert eval_cli.main(["model", "--model", str(tmp_path / "m.pt"), "--data", str(tmp_path),
                              "--threshold", value]) == 1
        assert f"--threshold {value}: expected a value in (0, 1.5)" in one_error_line(capsys, "seld-eval")


@pytest.mark.slow
@pytest.mark.parametrize("prog", sorted(MAINS))
def test_console_scripts_follow_the_policy(prog, tmp_path):
    """The installed commands themselves: status 1 and one line for an error, 2 for usage."""
    exe = Path(sys.executable).with_name(prog)
    module = {"seld-synth": "training.synth.cli", "seld-train": "training.train_cli", "seld-eval": "training.eval_cli",
              "seld-bank": "training.synth.bank_cli"}[prog]
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", module]
    bad = subprocess.run([*cmd, *error_args(tmp_path)[prog]], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1, bad.stderr
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{prog}: error: ") and "Traceback" not in bad.stderr
    usage = subprocess.run([*cmd, "--no-such-option"], capture_output=True, text=True, timeout=120)
    assert usage.returncode == 2 and "usage:" in usage.stderr
