"""A run's files that ``--resume`` reads: the training state after the last finished epoch (``last.pt``) and the
settings the run last ran with (``config.json``), with what a resume checks against them."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from seld_live.atomic import atomic_path
from seld_live.checkpoint import load_torch_file
from seld_live.errors import SeldError
from seld_live.models import SeldNet
from training.config import TrainConfig


def save_train_state(path: Path, model: SeldNet, opt, sched, epoch: int, best: float, history: list) -> None:
    state = {
        "model": {k: v.contiguous() for k, v in model.state_dict().items()},  # float32, the default layout
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict(),
        "epoch": epoch,
        "best_seld": best,
        "history_json": json.dumps(history),
        "torch_rng": torch.get_rng_state(),
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def read_train_state(path: Path) -> dict:
    """``last.pt`` read the way checkpoints are (``seld_live.checkpoint.load_torch_file``): a PyTorch archive,
    loaded with ``weights_only`` so that a crafted file cannot run code; anything else is one-line SeldError."""
    st = load_torch_file(path, "training state", hint="remove it to start afresh")
    kinds = {"model": dict, "optimizer": dict, "scheduler": dict, "epoch": int, "best_seld": float,
             "history_json": str, "torch_rng": torch.Tensor}
    wrong = list(kinds) if not isinstance(st, dict) else [k for k, t in kinds.items() if not isinstance(st.get(k), t)]
    if wrong:
        raise SeldError(f"{path}: not a seld-train training state (missing or mistyped: {', '.join(wrong)})")
    return st


def saved_config(out: Path) -> dict | None:
    """The settings the run in ``out`` last ran with (its ``config.json``); None where there is no record (a
    state copied into a new folder: the weights themselves are checked)."""
    try:
        saved = json.loads((out / "config.json").read_text())
    except (OSError, ValueError):
        return None
    return saved if isinstance(saved, dict) else None


def check_same_network(out: Path, cfg: TrainConfig, saved: dict | None) -> None:
    """Refuse to resume a run with another network than the one its ``config.json`` records."""
    try:
        old = saved["model"]
        was = (old["arch"], old["size"], old.get("overrides", {}))
    except (KeyError, TypeError, AttributeError):
        return
    m = cfg.model
    if was != (m.arch, m.size, json.loads(json.dumps(m.overrides))):
        raise SeldError(f"{out} is a run of a {was[0]} network (size {was[1]}"
                        f"{', overrides ' + json.dumps(was[2]) if was[2] else ''}), not {m.arch} (size {m.size}"
                        f"{', overrides ' + json.dumps(m.overrides) if m.overrides else ''}); resume it with its "
                        "own --arch and config, or use another --out")


def changed_settings(old: dict, new: dict, prefix: str = "") -> list[str]:
    """``"key: old -> new"`` for each setting that differs between two configs (nested sections flattened)."""
    out = []
    for k in sorted(set(old) | set(new)):
        a, b, name = old.get(k), new.get(k), f"{prefix}{k}"
        if isinstance(a, dict) and isinstance(b, dict):
            out += changed_settings(a, b, name + ".")
        elif a != b:
            out.append(f"{name}: {json.dumps(a)} -> {json.dumps(b)}")
    return out


def _with_defaults(saved: dict, defaults: dict) -> dict:
    """A saved config with the settings added since it was written at their defaults (what the run had)."""
    out = dict(defaults)
    for k, v in saved.items():
        out[k] = _with_defaults(v, defaults[k]) if isinstance(v, dict) and isinstance(defaults.get(k), dict) else v
    return out


def resume_notice(cfg: TrainConfig, saved: dict | None) -> str | None:
    """A resumed run goes on with the settings it is given (a longer schedule is a common reason); the line that
    says which differ from those it last ran with, since its ``config.json`` then records only the new ones."""
    if saved is None:
        return None
    defaults, now = (json.loads(json.dumps(c.to_dict())) for c in (TrainConfig(), cfg))
    changed = changed_settings(_with_defaults(saved, defaults), now)
    return f"resuming with settings changed since the last start: {'; '.join(changed)}" if changed else None
