"""Training throughput features, held to the plain path: batches made ahead (thread) or by worker processes are
the batches made in the loop, in the same order; bfloat16 autocast only where the CPU has it, close to float32;
the float16 feature cache; checkpoints stay float32."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from seld_live.checkpoint import read_checkpoint
from seld_live.geometry import load_array
from training import compute
from training.augment import ChunkAugmenter
from training.batches import EpochItems, EpochSampler, collate, make_loader
from training.compute import choose_precision, single_threaded_blas
from training.config import AugmentSection, ConfigError, load_config
from training.data import Prefetcher, SeldDataset
from training.synth.classes import load_class_list
from training.synth.runner import synthesize
from training.synth.scene import SceneConfig
from training.synth.writer import DatasetSpec
from training.train import _batches, train


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("speed") / "d"
    spec = DatasetSpec(SceneConfig(duration=3.0, max_overlap=2, rt60=None, event_gap=(0.0, 0.5)),
                       load_class_list("home13"), load_array("dcase_mic"), seed=4)
    synthesize(root, spec, 2, workers=1, progress=False)
    return root


def _config(data: Path, out: Path, *sets: str):
    return load_config(None, [f'data.train=["{data}"]', f'data.val=["{data}"]', f'out="{out}"', "model.size=tiny",
                              "data.chunk_seconds=1.0", "data.hop_seconds=0.5", "optim.batch_size=4",
                              "augment.mix_prob=0.5", 'device="cpu"', *sets])


class _Run:
    """What ``_batches`` reads of a training run."""

    def __init__(self, loader, prefetch: int):
        self.loader, self.prefetch = loader, prefetch


def _epoch_batches(data: Path, tmp_path: Path, epochs: int, *sets: str) -> list[list[dict]]:
    cfg = _config(data, tmp_path, *sets)
    ds = SeldDataset(data, 1.0, 0.5, cache_dir=tmp_path / "cache", cache_dtype=cfg.data.cache_dtype)
    ds.prepare()
    ds.transform = ChunkAugmenter(AugmentSection(spec=True, symmetry=True, mix_prob=0.5), ds.feature_config,
                                  ds.array)
    ds.seed = 7
    sampler = EpochSampler(len(ds), seed=7)
    loader = make_loader(cfg, EpochItems(ds, [ds]), sampler, channels_last=True)
    prefetch = cfg.data.prefetch if cfg.data.workers == 0 else 0
    out = []
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        with _batches(_Run(loader, prefetch)) as batches:
            out.append(list(batches))
    return out


def _same(a: list[list[dict]], b: list[list[dict]]) -> None:
    assert [len(e) for e in a] == [len(e) for e in b]
    for ea, eb in zip(a, b, strict=True):
        for x, y in zip(ea, eb, strict=True):
            assert x.keys() == y.keys()
            for k in x:
                if isinstance(x[k], torch.Tensor):
                    assert x[k].dtype == y[k].dtype and x[k].stride() == y[k].stride(), k
                    assert torch.equal(x[k], y[k]), k
                else:
                    assert x[k] == y[k], k


@pytest.mark.parametrize("loading", [["data.prefetch=2"], ["data.prefetch=3"], ["data.workers=2"]])
def test_batches_made_ahead_or_by_workers_are_the_loops_batches(data, tmp_path, loading):
    """Two epochs (augmentation with mixing depends on the epoch: persistent workers must learn it from the
    sampler's keys), the same batches in the same order as with nothing ahead."""
    plain = _epoch_batches(data, tmp_path / "plain", 2, "data.prefetch=0", "data.workers=0")
    other = _epoch_batches(data, tmp_path / "other", 2, *loading)
    _same(plain, other)
    assert not torch.equal(plain[0][0]["features"], plain[1][0]["features"])  # epochs differ
    feats = plain[0][0]["features"]
    assert feats.dtype == torch.float16 and feats.is_contiguous(memory_format=torch.channels_last)


def test_prefetcher_keeps_order_raises_where_the_error_was_and_stops_mid_way():
    assert list(Prefetcher(range(50), depth=4)) == list(range(50))

    def failing():
        yield from range(3)
        raise ValueError("bad item")

    got = []
    with pytest.raises(ValueError, match="bad item"), Prefetcher(failing(), depth=2) as p:
        got.extend(p)
    assert got == [0, 1, 2]
    made = []

    def endless():
        while True:
            made.append(len(made))
            yield made[-1]

    with Prefetcher(endless(), depth=4) as p:
        assert [next(p) for _ in range(3)] == [0, 1, 2]
    n = len(made)
    assert n <= 3 + 4 + 1  # at most a full queue ahead (and the item in hand when stopped)
    assert len(made) == n  # the thread has stopped


def _wait_until_resting(p: Prefetcher) -> bool:
    for _ in range(400):
        if p.resting:
            return True
        time.sleep(0.005)
    return False


def test_prefetcher_rests_between_refills():
    """It fills to ``depth``, rests until the consumer has taken the items down to ``refill_at``, then works
    again; a finished source counts as resting (the step may use every core)."""
    made = []

    def counted():
        for i in range(100):
            made.append(i)
            yield i

    with Prefetcher(counted(), depth=4, refill_at=2) as p:
        assert _wait_until_resting(p) and len(made) == 4
        assert next(p) == 0 and p.resting  # 3 left: still resting
        time.sleep(0.05)
        assert len(made) == 4
        assert next(p) == 1  # 2 left: it refills
        assert _wait_until_resting(p) and len(made) == 6
    with Prefetcher(range(2), depth=4) as p:
        assert list(p) == [0, 1] and p.resting


def test_bf16_only_where_the_cpu_has_it(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(compute, "cpu_bf16_flags", lambda *a: [])
    for setting in ("auto", "bf16"):
        p = choose_precision(setting, cpu)
        assert p.name == "fp32" and p.dtype is None and "no native bfloat16" in p.why
    monkeypatch.setattr(compute, "cpu_bf16_flags", lambda *a: ["avx512_bf16"])
    monkeypatch.setattr(compute, "bf16_autocast_works", lambda: False)
    assert choose_precision("auto", cpu).name == "fp32"
    monkeypatch.setattr(compute, "bf16_autocast_works", lambda: True)
    p = choose_precision("auto", cpu)
    assert p.name == "bf16" and p.dtype == torch.bfloat16 and not p.scaled and "avx512_bf16" in p.why
    assert choose_precision("fp32", cpu).name == "fp32"
    # CUDA keeps its float16 mixed precision with a gradient scaler
    assert choose_precision("auto", torch.device("cuda")).scaled
    assert choose_precision("auto", torch.device("cuda"), amp=False).name == "fp32"
    with pytest.raises(ConfigError, match=r"optim\.precision"):
        load_config(None, ['data.train=["."]', "optim.precision=fp16"]).validate()


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    (tmp_path / "a").write_text("processor : 0\nflags : fpu sse avx512f avx512_bf16 amx_bf16\n")
    (tmp_path / "b").write_text("processor : 0\nflags : fpu sse avx2\n")
    assert compute.cpu_bf16_flags(tmp_path / "a") == ["amx_bf16", "avx512_bf16"]
    assert compute.cpu_bf16_flags(tmp_path / "b") == []
    assert compute.cpu_bf16_flags(tmp_path / "missing") == []


def test_the_quick_bf16_check_leaves_the_random_state_alone():
    state = torch.get_rng_state()
    compute.bf16_autocast_works()
    assert torch.equal(state, torch.get_rng_state())


def test_a_bf16_step_is_close_to_the_fp32_step(data, tmp_path):
    """One batch through the network under bfloat16 autocast and in float32: outputs, loss and the gradient's
    direction agree (what makes bfloat16 training learn as float32 does; bench/RESULTS.md has the runs)."""
    from seld_live.models import build_model, sized_config
    from training.losses import make_loss

    ds = SeldDataset(data, 1.0, cache_dir=tmp_path / "cache")
    batch = collate([ds[i] for i in range(4)], channels_last=True)
    fc = ds.feature_config
    torch.manual_seed(0)
    model = build_model(sized_config("compact", num_classes=13, in_channels=fc.num_feature_channels,
                                     spectral_channels=fc.num_spectral_channels)).to(memory_format=torch.channels_last)
    model.train()
    loss_fn = make_loss("agg2")
    targets = {k: v for k, v in batch.items() if isinstance(v, torch.Tensor) and k != "features"}

    def step(bf16: bool):
        torch.manual_seed(1)  # the same dropout masks
        model.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = model(batch["features"])
        res = loss_fn({k: v.float() for k, v in out.items()}, targets)
        res.total.backward()
        return float(res.total.detach()), torch.cat([p.grad.flatten() for p in model.parameters()]).clone()

    loss32, grad32 = step(False)
    try:
        loss16, grad16 = step(True)
    except RuntimeError as e:  # pragma: no cover - a torch build without CPU bfloat16 kernels
        pytest.skip(f"no bfloat16 autocast here: {e}")
    assert loss16 == pytest.approx(loss32, rel=0.02)
    cos = float(torch.nn.functional.cosine_similarity(grad16, grad32, dim=0))
    assert cos > 0.9  # 0.96 measured: bfloat16 keeps 8 bits of mantissa through some 20 layers


def test_float16_feature_cache(data, tmp_path, monkeypatch):
    calls = []
    real = SeldDataset.compute_features
    monkeypatch.setattr(SeldDataset, "compute_features", lambda self, clip: calls.append(clip.name) or real(self, clip))
    full = SeldDataset(data, 1.0, cache_dir=tmp_path)
    half = SeldDataset(data, 1.0, cache_dir=tmp_path, cache_dtype="float16")
    assert full.cache_dir != half.cache_dir  # another format, another key: neither reads the other's files
    first = half[3]["features"]  # computed now, then cached
    half.prepare()
    assert first.dtype == torch.float16
    again = SeldDataset(data, 1.0, cache_dir=tmp_path, cache_dtype="float16")
    mapped = again.features(again.clips[0])
    assert isinstance(mapped, np.memmap) and mapped.dtype == np.float16
    assert torch.equal(again[3]["features"], first)  # from the file: the same values as when computed
    assert json.loads((half.cache_dir / "config.json").read_text())["dtype"] == "float16"
    # a float32 chunk rounded to float16 is the float16 chunk; half the bytes on disk
    ref = full[3]["features"]
    full.prepare()
    n = len(calls)
    assert ref.dtype == torch.float32 and torch.equal(ref.half(), first)
    assert torch.allclose(first.float(), ref, rtol=1e-3, atol=0.04)
    size = {d: sum(p.stat().st_size for p in ds.cache_dir.glob("*.npy")) for d, ds in (("16", half), ("32", full))}
    assert size["16"] < 0.51 * size["32"]
    # a file of the wrong dtype under the float16 key (left by something else) is recomputed, not read as is
    path = half.cache_path(half.clips[1])
    np.save(path, real(half, half.clips[1]))  # float32
    fresh = SeldDataset(data, 1.0, cache_dir=tmp_path, cache_dtype="float16")
    assert fresh.features(fresh.clips[1]).dtype == np.float16 and len(calls) == n + 1
    assert np.load(path).dtype == np.float16
    # an evaluation clip is float32 either way
    assert fresh.clip(0).features.dtype == np.float32


def test_training_in_bf16_saves_float32_contiguous_weights_and_resumes_exactly(data, tmp_path, monkeypatch, capsys):
    """The defaults (bfloat16 where the CPU has it, channels-last, prefetch thread, float16 cache): best.pt and
    last.pt hold float32 weights in the default layout, and a resumed run ends where an unbroken one does."""
    sets = ("optim.epochs=2", "model.size=compact")
    full = train(_config(data, tmp_path / "a", *sets), progress=False)
    printed = capsys.readouterr().out
    assert "compute thread(s)" in printed and "features cached as float16" in printed
    weights, _ = read_checkpoint(full.best_path)
    assert all(v.dtype == torch.float32 and v.is_contiguous() for v in weights.values() if v.is_floating_point())
    state = torch.load(tmp_path / "a" / "last.pt", weights_only=True)
    assert all(v.dtype == torch.float32 and v.is_contiguous() for v in state["model"].values()
               if v.is_floating_point())
    train(_config(data, tmp_path / "b", "optim.epochs=1", "model.size=compact"), progress=False)
    resumed = train(_config(data, tmp_path / "b", *sets), resume=True, progress=False)
    for (k, a), b in zip(full.model.state_dict().items(), resumed.model.state_dict().values(), strict=True):
        assert torch.equal(a, b), k


def test_torch_and_blas_threads_come_back_after_training(data, tmp_path):
    before = torch.get_num_threads()
    train(_config(data, tmp_path / "t", "optim.epochs=1", "threads=3"), progress=False)
    assert torch.get_num_threads() == before
    controls = compute._openblas_thread_controls()
    was = [get() for _, get in controls]
    with single_threaded_blas():
        assert all(get() == 1 for _, get in controls)
    assert [get() for _, get in controls] == was
