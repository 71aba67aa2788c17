"""A tiny network of every architecture fits one batch with each of its losses (loss / 10 within 300 steps)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seld_live.models import build_model, sized_config
from training.losses import LOSS_FOR_ARCH, make_loss
from training.targets import build_targets

B, T, C = 4, 10, 5
MAX_STEPS = 300
CASES = [(arch, name) for arch in ("seddoa", "einv2", "accdoa", "maccdoa") for name in LOSS_FOR_ARCH[arch]]


def one_batch():
    rng = np.random.default_rng(0)
    tables = []
    for _ in range(B):
        rows = []
        for src in range(3):  # up to three moving sources, possibly of the same class
            c, start = int(rng.integers(0, C)), int(rng.integers(0, 5))
            az, el = rng.uniform(-180, 180), rng.uniform(-40, 40)
            for f in range(start, min(T, start + int(rng.integers(3, 8)))):
                rows.append((f, c, src, az + 3 * (f - start), el, np.nan))
        tables.append(np.asarray(rows, dtype=np.float64))
    per_clip = [build_targets(t, T, C).as_dict() for t in tables]
    targets = {k: torch.from_numpy(np.stack([d[k] for d in per_clip])) for k in per_clip[0]}
    feats = torch.from_numpy(rng.standard_normal((B, 10, T * 10, 64)).astype(np.float32))
    return feats, targets


@pytest.fixture
def one_thread():
    # tiny tensors: a second thread only adds synchronisation (and the CPU is shared with other tests)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.slow
@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize(("arch", "loss_name"), CASES)
def test_tiny_network_overfits_one_batch(arch, loss_name):
    torch.manual_seed(0)
    feats, targets = one_batch()
    model = build_model(sized_config("tiny", arch=arch, num_classes=C, dropout=0.0))
    model.train()
    loss_fn = make_loss(loss_name)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = last = None
    for _ in range(MAX_STEPS):
        result = loss_fn(model(feats), targets)
        opt.zero_grad()
        result.total.backward()
        opt.step()
        last = result.total.item()
        first = last if first is None else first
        if last < first / 10:
            break
    assert np.isfinite(last)
    assert last < first / 10, f"{arch}/{loss_name}: loss {first:.4f} -> {last:.4f} in {MAX_STEPS} steps"
