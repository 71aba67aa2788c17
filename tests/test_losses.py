"""The five losses against slow per-frame references, their invariances and their gradients."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from training.losses import LOSS_FOR_ARCH, LOSS_NAMES, make_loss
from training.targets import build_targets

B, T, C = 2, 12, 4
TOL = 1e-6


# ---------------------------------------------------------------- slow references (float64, per frame)

def bce(x, t):
    return max(x, 0.0) - x * t + math.log1p(math.exp(-abs(x)))


def ref_multitask(out, tgt, beta, pit_beta=None):
    """The permutation minimising pit_beta * SED + (1 - pit_beta) * DOA (default beta), scored with beta."""
    pit_beta = beta if pit_beta is None else pit_beta
    sed, doa = out["sed"].numpy(), out["doa"].numpy()
    t_sed, t_doa = tgt["sed"].numpy(), tgt["doa"].numpy()
    totals, seds, doas = [], [], []
    for b in range(sed.shape[0]):
        for t in range(sed.shape[1]):
            best = None
            for perm in itertools.permutations(range(3)):
                s = sum(bce(sed[b, t, i, c], t_sed[b, t, perm[i], c]) for i in range(3) for c in range(C)) / (3 * C)
                d = 0.0
                for i in range(3):
                    if t_sed[b, t, perm[i]].max() > 0:
                        d += sum((doa[b, t, i, k] - t_doa[b, t, perm[i], k]) ** 2 for k in range(3))
                d /= 9
                choice = pit_beta * s + (1 - pit_beta) * d
                if best is None or choice < best[0]:
                    best = (choice, s, d)
            totals.append(beta * best[1] + (1 - beta) * best[2])
            seds.append(best[1])
            doas.append(best[2])
    return np.mean(totals), np.mean(seds), np.mean(doas)


def agg_tracks(sed, doa, eps=1e-8):
    """Ŷ^i = sigmoid(sed^i) ⊗ doa^i / ‖doa^i‖ for one frame: [3, C, 3]."""
    out = np.zeros((3, sed.shape[-1], 3))
    for i in range(3):
        n = doa[i] / math.sqrt(float(doa[i] @ doa[i]) + eps)
        for c in range(sed.shape[-1]):
            out[i, c] = (1 / (1 + math.exp(-sed[i, c]))) * n
    return out


def target_tracks(t_sed, t_doa):
    out = np.zeros((3, t_sed.shape[-1], 3))
    for i in range(3):
        for c in range(t_sed.shape[-1]):
            out[i, c] = t_sed[i, c] * t_doa[i]
    return out


def ref_agg1(out, tgt):
    sed, doa = out["sed"].numpy(), out["doa"].numpy()
    losses = []
    for b in range(sed.shape[0]):
        for t in range(sed.shape[1]):
            yhat = agg_tracks(sed[b, t], doa[b, t])
            y = target_tracks(tgt["sed"].numpy()[b, t], tgt["doa"].numpy()[b, t])
            losses.append(min(np.mean((yhat - y[list(p)]) ** 2) for p in itertools.permutations(range(3))))
    return np.mean(losses)


def ref_agg2(out, tgt):
    sed, doa = out["sed"].numpy(), out["doa"].numpy()
    losses = []
    for b in range(sed.shape[0]):
        for t in range(sed.shape[1]):
            yhat = agg_tracks(sed[b, t], doa[b, t]).sum(0)
            y = target_tracks(tgt["sed"].numpy()[b, t], tgt["doa"].numpy()[b, t]).sum(0)
            losses.append(np.mean((yhat - y) ** 2))
    return np.mean(losses)


def ref_accdoa(out, tgt):
    o, y = out["accdoa"].numpy(), tgt["accdoa"].numpy()
    return np.mean([np.mean((o[b, t] - y[b, t]) ** 2) for b in range(o.shape[0]) for t in range(o.shape[1])])


def ref_adpit(out, tgt):
    """The 13 arrangements spelled out as in the DCASE 2022 baseline, per frame and class."""
    o, y = out["maccdoa"].numpy(), tgt["adpit"].numpy()
    losses = []
    for b in range(o.shape[0]):
        for t in range(o.shape[1]):
            for c in range(o.shape[3]):
                v = {name: y[b, t, k, 0, c] * y[b, t, k, 1:, c]
                     for k, name in enumerate(["A0", "B0", "B1", "C0", "C1", "C2"])}
                A = [v["A0"], v["A0"], v["A0"]]
                Bs = [[v[x] for x in p] for p in (("B0", "B0", "B1"), ("B0", "B1", "B0"), ("B0", "B1", "B1"),
                                                   ("B1", "B0", "B0"), ("B1", "B0", "B1"), ("B1", "B1", "B0"))]
                Cs = [[v[x] for x in p] for p in itertools.permutations(("C0", "C1", "C2"))]
                pad_a = [Bs[0][k] + Cs[0][k] for k in range(3)]
                pad_b = [A[k] + Cs[0][k] for k in range(3)]
                pad_c = [A[k] + Bs[0][k] for k in range(3)]
                cands = [[A[k] + pad_a[k] for k in range(3)]]
                cands += [[bb[k] + pad_b[k] for k in range(3)] for bb in Bs]
                cands += [[cc[k] + pad_c[k] for k in range(3)] for cc in Cs]
                assert len(cands) == 13
                pred = o[b, t, :, c, :]
                losses.append(min(np.mean((pred - np.stack(cand)) ** 2) for cand in cands))
    return np.mean(losses)


# ---------------------------------------------------------------- random data

def random_targets(seed, shuffle_slots=True):
    """Targets of random scenes with 0-3 active tracks per frame, same-class instances included."""
    rng = np.random.default_rng(seed)
    rows = []
    for b in range(B):
        for f in range(T):
            n = rng.integers(0, 4)
            classes = rng.integers(0, C, size=n)
            if n >= 2 and rng.random() < 0.4:
                classes[:] = classes[0]  # several instances of one class
            for k, c in enumerate(classes):
                rows.append((b, f, c, k, rng.uniform(-180, 180), rng.uniform(-90, 90)))
    per_clip = []
    for b in range(B):
        table = np.array([(f, c, k, az, el, np.nan) for bb, f, c, k, az, el in rows if bb == b]).reshape(-1, 6)
        per_clip.append(build_targets(table, T, C).as_dict())
    tg = {k: torch.from_numpy(np.stack([d[k] for d in per_clip])).double() for k in per_clip[0]}
    if shuffle_slots:  # empty slots anywhere, not only at the end
        perm = torch.from_numpy(np.stack([[rng.permutation(3) for _ in range(T)] for _ in range(B)]))
        tg["sed"] = torch.take_along_dim(tg["sed"], perm[..., None], dim=2)
        tg["doa"] = torch.take_along_dim(tg["doa"], perm[..., None], dim=2)
    return tg


def random_outputs(seed, requires_grad=False):
    g = torch.Generator().manual_seed(1000 + seed)
    out = {
        "sed": torch.randn(B, T, 3, C, generator=g, dtype=torch.float64) * 2,
        "doa": torch.randn(B, T, 3, 3, generator=g, dtype=torch.float64),
        "accdoa": torch.tanh(torch.randn(B, T, C, 3, generator=g, dtype=torch.float64)),
        "maccdoa": torch.tanh(torch.randn(B, T, 3, C, 3, generator=g, dtype=torch.float64)),
    }
    for v in out.values():
        v.requires_grad_(requires_grad)
    return out


def frame_permuted(x, seed, dim=2):
    rng = np.random.default_rng(seed)
    n = x.shape[dim]
    perm = torch.from_numpy(np.stack([[rng.permutation(n) for _ in range(x.shape[1])] for _ in range(x.shape[0])]))
    return torch.take_along_dim(x, perm.view(*perm.shape, *([1] * (x.dim() - 3))), dim=dim)


# ---------------------------------------------------------------- tests

@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("beta", [0.5, 0.2])
def test_multitask_matches_slow_reference(seed, beta):
    out, tg = random_outputs(seed), random_targets(seed)
    r = make_loss("multitask", beta=beta)(out, tg)
    total, sed, doa = ref_multitask(out, tg, beta)
    assert r.total.item() == pytest.approx(total, abs=TOL)
    assert r.parts["sed"].item() == pytest.approx(sed, abs=TOL)
    assert r.parts["doa"].item() == pytest.approx(doa, abs=TOL)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize(("beta", "pit_beta"), [(0.5, 1.0), (0.5, 0.0), (0.2, 0.9)])
def test_multitask_permutation_chosen_by_pit_beta_matches_slow_reference(seed, beta, pit_beta):
    out, tg = random_outputs(seed), random_targets(seed)
    r = make_loss("multitask", beta=beta, pit_beta=pit_beta)(out, tg)
    total, sed, doa = ref_multitask(out, tg, beta, pit_beta)
    assert r.total.item() == pytest.approx(total, abs=TOL)
    assert r.parts["sed"].item() == pytest.approx(sed, abs=TOL)
    assert r.parts["doa"].item() == pytest.approx(doa, abs=TOL)


def test_choosing_the_permutation_by_sed_alone_never_lowers_the_sed_term_below_the_joint_choice():
    out, tg = random_outputs(4), random_targets(4)
    by_sed = make_loss("multitask", beta=0.5, pit_beta=1.0)(out, tg)
    joint = make_loss("multitask", beta=0.5)(out, tg)
    assert by_sed.parts["sed"].item() <= joint.parts["sed"].item() + TOL
    assert by_sed.total.item() >= joint.total.item() - TOL  # the joint choice minimises the total itself


def test_pit_beta_outside_the_unit_interval_is_refused():
    with pytest.raises(ValueError, match="pit_beta"):
        make_loss("multitask", pit_beta=1.5)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize(("name", "reference"), [("agg1", ref_agg1), ("agg2", ref_agg2), ("accdoa", ref_accdoa),
                                                 ("adpit", ref_adpit)])
def test_losses_match_slow_reference(seed, name, reference):
    out, tg = random_outputs(seed), random_targets(seed)
    r = make_loss(name)(out, tg)
    assert r.total.item() == pytest.approx(reference(out, tg), abs=TOL)
    assert r.total.item() > 0


def test_adpit_matches_reference_on_arbitrary_targets():
    # Dummy tracks that real targets never produce (several groups active at once) exercise the padding.
    out = random_outputs(7)
    g = torch.Generator().manual_seed(3)
    tg = {"adpit": torch.rand(B, T, 6, 4, C, generator=g, dtype=torch.float64)}
    assert make_loss("adpit")(out, tg).total.item() == pytest.approx(ref_adpit(out, tg), abs=TOL)


@pytest.mark.parametrize("name", ["multitask", "agg1"])
def test_pit_losses_ignore_target_track_order(name):
    out, tg = random_outputs(1), random_targets(1, shuffle_slots=False)
    perm_tg = dict(tg)
    perm = frame_permuted(torch.arange(3).expand(B, T, 3).contiguous(), seed=5)
    perm_tg["sed"] = torch.take_along_dim(tg["sed"], perm[..., None], dim=2)
    perm_tg["doa"] = torch.take_along_dim(tg["doa"], perm[..., None], dim=2)
    assert not torch.equal(perm_tg["sed"], tg["sed"])
    loss = make_loss(name)
    assert loss(out, perm_tg).total.item() == pytest.approx(loss(out, tg).total.item(), abs=1e-12)


def test_agg2_ignores_any_track_order():
    out, tg = random_outputs(2), random_targets(2)
    loss = make_loss("agg2")
    base = loss(out, tg).total.item()
    p_out = dict(out)
    perm = frame_permuted(torch.arange(3).expand(B, T, 3).contiguous(), seed=9)
    p_out["sed"] = torch.take_along_dim(out["sed"], perm[..., None], dim=2)
    p_out["doa"] = torch.take_along_dim(out["doa"], perm[..., None], dim=2)
    p_tg = dict(tg)
    perm = frame_permuted(torch.arange(3).expand(B, T, 3).contiguous(), seed=10)
    p_tg["sed"] = torch.take_along_dim(tg["sed"], perm[..., None], dim=2)
    p_tg["doa"] = torch.take_along_dim(tg["doa"], perm[..., None], dim=2)
    assert loss(p_out, tg).total.item() == pytest.approx(base, abs=1e-12)
    assert loss(out, p_tg).total.item() == pytest.approx(base, abs=1e-12)
    # but a PIT-free loss does see the difference between outputs and targets
    assert loss(p_out, tg).total.item() != pytest.approx(make_loss("agg1")(p_out, tg).total.item(), abs=1e-6)


def test_adpit_ignores_order_of_same_class_instances():
    out, tg = random_outputs(3), random_targets(3)
    loss = make_loss("adpit")
    base = loss(out, tg).total.item()
    a = tg["adpit"]
    assert a[:, :, 1:, 0].sum() > 0  # the data has same-class pairs or triples
    swapped = a[:, :, [0, 2, 1, 5, 3, 4]]  # B0<->B1, C0C1C2 -> C2C0C1
    assert loss(out, {"adpit": swapped}).total.item() == pytest.approx(base, abs=1e-12)


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_gradients_reach_every_output(name):
    out, tg = random_outputs(4, requires_grad=True), random_targets(4)
    out["doa"].data[0, 0, 0] = 0.0  # a zero DOA vector must not give NaN (the norm has an epsilon)
    make_loss(name)(out, tg).total.backward()
    used = {"multitask": ("sed", "doa"), "agg1": ("sed", "doa"), "agg2": ("sed", "doa"),
            "accdoa": ("accdoa",), "adpit": ("maccdoa",)}[name]
    for key in used:
        grad = out[key].grad
        assert grad is not None and torch.isfinite(grad).all(), key
        assert grad.abs().sum() > 0, key
    elementwise = {"multitask": "sed", "agg1": "sed", "agg2": "sed", "accdoa": "accdoa", "adpit": "maccdoa"}[name]
    grad = out[elementwise].grad
    if name in ("agg1", "agg2"):  # a zero direction makes Ŷ zero whatever the activity: no gradient there
        grad = grad.clone()
        grad[0, 0, 0] = 1.0
    assert (grad != 0).all(), f"{name}: some {elementwise} outputs get no gradient"
    if name in ("agg1", "agg2"):  # every track direction is trained through its (nonzero) class activities
        assert (out["doa"].grad[..., 1:, :].abs().sum(-1) > 0).all()


def test_float32_and_loss_registry():
    out = {k: v.float() for k, v in random_outputs(0).items()}
    tg = {k: v.float() for k, v in random_targets(0).items()}
    for name in LOSS_NAMES:
        r = make_loss(name)(out, tg)
        assert r.total.dtype == torch.float32 and r.total.dim() == 0
        assert all(v.dim() == 0 and not v.requires_grad for v in r.parts.values())
    assert set(LOSS_FOR_ARCH) == {"einv2", "seddoa", "accdoa", "maccdoa"}
    assert all(n in LOSS_NAMES for names in LOSS_FOR_ARCH.values() for n in names)
    with pytest.raises(ValueError, match="unknown loss"):
        make_loss("focal")
    with pytest.raises(ValueError, match="does not take"):
        make_loss("accdoa", beta=0.3)
    with pytest.raises(ValueError, match="beta"):
        make_loss("multitask", beta=2)
    with pytest.raises(KeyError, match="maccdoa"):
        make_loss("adpit")({"sed": out["sed"]}, tg)


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_half_precision_outputs_are_scored_in_float32(name):
    out = {k: v.float().bfloat16() for k, v in random_outputs(5).items()}
    tg = {k: v.float() for k, v in random_targets(5).items()}
    loss = make_loss(name)
    want = loss({k: v.float() for k, v in out.items()}, tg).total
    got = loss(out, tg).total
    assert got.dtype == torch.float32 and got.item() == pytest.approx(want.item(), rel=1e-6)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under = loss({k: v.float() for k, v in out.items()}, tg).total
    assert under.item() == pytest.approx(want.item(), rel=1e-6)


# ---------------------------------------------------------------- onset weighting

def test_onset_weights_mark_the_first_frames_of_each_run():
    from training.losses import onset_weights

    active = torch.tensor([[0, 1, 1, 1, 1, 0, 1, 1], [1, 1, 1, 1, 0, 0, 1, 0]], dtype=torch.float64).T[None]
    w = onset_weights(active, frames=3, weight=4.0)[0].T
    assert w[0].tolist() == [1, 4, 4, 4, 1, 1, 4, 4]
    assert w[1].tolist() == [1, 1, 1, 1, 1, 1, 4, 1]  # a run on at the chunk's start may be older: no weight
    assert onset_weights(active, frames=1, weight=2.0)[0].T[0].tolist() == [1, 2, 1, 1, 1, 1, 2, 1]


def _slow_onset_weights(active: np.ndarray, frames: int, weight: float) -> np.ndarray:
    w = np.ones(active.shape)
    for b, c in itertools.product(range(active.shape[0]), range(active.shape[2])):
        for t in range(active.shape[1]):
            start = t
            while start > 0 and active[b, start - 1, c]:
                start -= 1
            if active[b, t, c] and start > 0 and t - start < frames:
                w[b, t, c] = weight
    return w


@pytest.mark.parametrize("seed", range(3))
def test_onset_weighted_losses_match_slow_reference(seed):
    out, tg = random_outputs(seed), random_targets(seed)
    sed, doa, t_sed, t_doa = (x.numpy() for x in (out["sed"], out["doa"], tg["sed"], tg["doa"]))
    w = _slow_onset_weights(t_sed.max(axis=2) > 0, 2, 3.0)
    assert (w > 1).any() and (w == 1).any()
    sq = [w[b, t, c] * np.sum((agg_tracks(sed[b, t], doa[b, t]).sum(0)[c]
                               - target_tracks(t_sed[b, t], t_doa[b, t]).sum(0)[c]) ** 2)
          for b in range(B) for t in range(T) for c in range(C)]
    got = make_loss("agg2", onset_weight=3.0, onset_frames=2)(out, tg).total.item()
    assert got == pytest.approx(np.sum(sq) / (B * T * C * 3), abs=TOL)
    o, y = out["accdoa"].numpy(), tg["accdoa"].numpy()
    w = _slow_onset_weights(np.abs(y).max(-1) > 0, 2, 3.0)
    got = make_loss("accdoa", onset_weight=3.0, onset_frames=2)(out, tg).total.item()
    assert got == pytest.approx(np.mean((o - y) ** 2 * w[..., None]), abs=TOL)


@pytest.mark.parametrize("name", ["agg2", "accdoa"])
def test_onset_weighting_is_off_by_default_and_weights_the_onset_gradient(name):
    out, tg = random_outputs(6, requires_grad=True), random_targets(6)
    assert make_loss(name, onset_weight=1.0)(out, tg).total.item() == make_loss(name)(out, tg).total.item()
    key = "sed" if name == "agg2" else "accdoa"
    grads = []
    for weight in (1.0, 5.0):
        out[key].grad = None
        make_loss(name, onset_weight=weight, onset_frames=3)(out, tg).total.backward()
        grads.append(out[key].grad.clone())
    act = (tg["sed"].amax(2) if name == "agg2" else tg["accdoa"].abs().amax(-1)) > 0
    fresh = torch.from_numpy(_slow_onset_weights(act.numpy(), 3, 2.0) > 1)
    per_class = [g.abs().sum(2) if name == "agg2" else g.abs().sum(-1) for g in grads]  # [B, T, C]
    # a class's output (ACCDOA vector, or AGG2 activity of each track) gets its own error times its weight
    assert fresh.any() and (~fresh).any()
    torch.testing.assert_close(per_class[1][fresh], 5 * per_class[0][fresh])
    torch.testing.assert_close(per_class[1][~fresh], per_class[0][~fresh])


def test_onset_weighting_options_are_checked():
    with pytest.raises(ValueError, match="onset_weight"):
        make_loss("agg2", onset_weight=0.0)
    with pytest.raises(ValueError, match="onset_frames"):
        make_loss("accdoa", onset_weight=2.0, onset_frames=0)
    with pytest.raises(ValueError, match="does not take"):
        make_loss("agg1", onset_weight=2.0)


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_config_loss_section_gives_each_loss_the_parameters_it_takes(name):
    from training.config import LossSection

    section = LossSection(name=name, onset_weight=3.0, onset_frames=2, beta=0.7, pit_beta=1.0)
    loss = make_loss(name, **section.params())  # make_loss refuses parameters a loss does not take
    if name in ("agg2", "accdoa"):
        assert (loss.onset_weight, loss.onset_frames) == (3.0, 2)
    if name == "multitask":
        assert (loss.beta, loss.pit_beta) == (0.7, 1.0)
        assert make_loss(name, **LossSection(name=name, beta=0.7).params()).pit_beta == 0.7  # unset: beta
