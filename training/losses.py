"""The five SELD losses compared in the loss-design experiment, batched over [B, T].

Model outputs (dicts of tensors):

- track-wise networks (EINV2, SEDDOA): ``{"sed": [B,T,3,C] logits, "doa": [B,T,3,3] unnormalised xyz}``;
- ACCDOA: ``{"accdoa": [B,T,C,3]}`` (already tanh'd); multi-ACCDOA: ``{"maccdoa": [B,T,3,C,3]}``.

Targets are ``training.targets.Targets.as_dict()`` arrays stacked with a leading batch dimension
(``sed`` [B,T,3,C], ``doa`` [B,T,3,3], ``accdoa`` [B,T,C,3], ``adpit`` [B,T,6,4,C]).

``make_loss(name, **params)`` returns a callable ``(outputs, targets) -> LossResult``; names:

- ``multitask`` (beta=0.5, the PSELDNets EINV2 setting): per frame and track permutation π,
  ``beta * BCE + (1 - beta) * MSE_DOA`` where BCE is the mean over (3 tracks, C classes) of
  BCE-with-logits against the permuted SED targets and MSE_DOA is the mean over (3 tracks, xyz) of the
  squared error of the raw DOA output, masked to active target tracks (an empty target track has no
  direction). The frame's loss is the minimum over the 3! permutations; the total is the mean over frames.
  Parts: ``sed`` and ``doa`` at the chosen permutations (total = beta*sed + (1-beta)*doa).
- ``agg1``: Ŷ^i = sigmoid(sed^i) ⊗ doa^i / sqrt(‖doa^i‖² + eps), Y^i = sed label^i ⊗ doa label^i (zero for an
  empty track); per frame the minimum over permutations of the mean squared error over (track, class, xyz).
- ``agg2``: mean squared error between Σ_i Ŷ^i and Σ_i Y^i over (class, xyz); no PIT, any track order.
  (Σ_i Y^i equals the ACCDOA target except where one class has several instances: then it is their sum.)
- ``accdoa``: mean squared error between the class-wise vectors and the ACCDOA target.
- ``adpit``: multi-ACCDOA with auxiliary duplicating PIT (Shimada et al. 2022): per (frame, class) the
  minimum over 13 arrangements of the dummy tracks (A0A0A0; six of B0/B1; six permutations of C0C1C2, each
  padded with the other groups' targets) of the mean squared error over (3 tracks, xyz); mean over
  (frames, classes).

Onset weighting (``agg2`` and ``accdoa``; ``onset_weight`` > 1, off by default): the error of a class in
the first ``onset_frames`` frames of each of its events in the target is multiplied by ``onset_weight``, so
that the network learns to rise at an event's start rather than a few frames into it. An event is a run of
frames where the class is active in the target; a run already active in a chunk's first frame is not
weighted (it may have started before the chunk), and a second instance of a class starting while another
one goes on is not an onset of the class. The weights are not normalised: the loss grows by the onset
frames' share.

Pairwise track costs are computed once per frame ([B,T,3,3]) and the 6 permutations are read from them, so
nothing loops over frames; AGG1 and AGG2 use that Ŷ^i and Y^j are outer products (no [.., C, 3] tensor);
ADPIT evaluates its 13 arrangements only where a class has a target (elsewhere they are all equal).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from torch.nn import functional

from seld_live.models.config import OUTPUT_KINDS_FOR_ARCH

NUM_TRACKS = 3
PERMUTATIONS = tuple(itertools.permutations(range(NUM_TRACKS)))  # 6, in itertools order

# the decoder output kind a network trained with each loss has (stored in its checkpoint)
OUTPUT_KIND_FOR_LOSS = {"multitask": "trackwise", "agg1": "agg1", "agg2": "agg2", "accdoa": "accdoa",
                        "adpit": "maccdoa"}
# the losses each architecture can be trained with: those whose output kind it has, in OUTPUT_KIND_FOR_LOSS order
LOSS_FOR_ARCH: dict[str, tuple[str, ...]] = {
    arch: tuple(loss for loss, kind in OUTPUT_KIND_FOR_LOSS.items() if kind in kinds)
    for arch, kinds in OUTPUT_KINDS_FOR_ARCH.items()
}

# ADPIT arrangements as (B dummy, C dummy) per output track; A0 is in every track target. Dummy tracks in the
# target are ordered A0, B0, B1, C0, C1, C2. The A candidate is padded with B0B0B1 + C0C1C2, the B candidates
# with A0A0A0 + C0C1C2 and the C candidates with A0A0A0 + B0B0B1, as in the DCASE 2022 baseline.
_B_PERMS = ((0, 0, 1), (0, 1, 0), (0, 1, 1), (1, 0, 0), (1, 0, 1), (1, 1, 0))
_C_PERMS = tuple(itertools.permutations(range(3)))
ADPIT_ARRANGEMENTS: tuple[tuple[tuple[int, int], ...], ...] = (
    ((0, 0), (0, 1), (1, 2)),
    *(tuple(zip(bp, (0, 1, 2), strict=True)) for bp in _B_PERMS),
    *(tuple(zip((0, 0, 1), cp, strict=True)) for cp in _C_PERMS),
)


@dataclass
class LossResult:
    total: torch.Tensor  # scalar, differentiable
    parts: dict[str, torch.Tensor]  # detached scalars for logging


def _require(d: Mapping[str, torch.Tensor], key: str, what: str, ndim: int) -> torch.Tensor:
    if key not in d:
        raise KeyError(f"{what} lacks '{key}' (has {sorted(d)})")
    x = d[key]
    if x.dim() != ndim:
        raise ValueError(f"{what}['{key}'] must have {ndim} dimensions, got shape {tuple(x.shape)}")
    return x


def _target(targets: Mapping, key: str, ndim: int, like: torch.Tensor) -> torch.Tensor:
    t = targets.get(key)
    if t is None:
        raise KeyError(f"targets lack '{key}' (have {sorted(targets)})")
    t = torch.as_tensor(t).to(device=like.device, dtype=like.dtype)
    if t.dim() != ndim:
        raise ValueError(f"targets['{key}'] must have {ndim} dimensions, got shape {tuple(t.shape)}")
    return t


def _check_same(a: torch.Tensor, b: torch.Tensor, what: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{what}: output shape {tuple(a.shape)} does not match target shape {tuple(b.shape)}")


def _full_precision(call):
    """Losses run in float32 or float64 even under autocast: the factored costs (BCE as a matmul, AGG Gram
    products) would lose most of their digits in half precision."""

    @functools.wraps(call)
    def wrapped(self, outputs: Mapping[str, torch.Tensor], targets: Mapping) -> LossResult:
        device = next(iter(outputs.values())).device.type if outputs else "cpu"
        with torch.autocast(device_type=device, enabled=False):
            outputs = {k: v.float() if v.is_floating_point() and v.element_size() < 4 else v
                       for k, v in outputs.items()}
            return call(self, outputs, targets)

    return wrapped


def _trackwise(outputs: Mapping[str, torch.Tensor], targets: Mapping) -> tuple[torch.Tensor, ...]:
    """SED logits, DOA outputs and their targets of a track-wise network, shapes checked."""
    logit = _require(outputs, "sed", "outputs", 4)
    doa = _require(outputs, "doa", "outputs", 4)
    t_sed = _target(targets, "sed", 4, logit)
    t_doa = _target(targets, "doa", 4, doa)
    _check_same(logit, t_sed, "sed")
    _check_same(doa, t_doa, "doa")
    return logit, doa, t_sed, t_doa


def _perm_costs(pair: torch.Tensor) -> torch.Tensor:
    """[..., 3, 3] cost of output track i against target track j -> [..., 6] cost per permutation."""
    perms = torch.tensor(PERMUTATIONS, device=pair.device)
    rows = torch.arange(NUM_TRACKS, device=pair.device)
    return pair[..., rows, perms].sum(-1)


def _unit(doa: torch.Tensor, eps: float) -> torch.Tensor:
    # eps inside the square root keeps the direction and its gradient finite at doa = 0.
    return doa / torch.sqrt((doa * doa).sum(-1, keepdim=True) + eps)


def _softplus(x: torch.Tensor) -> torch.Tensor:
    return x.clamp_min(0) + torch.log1p(torch.exp(-x.abs()))


class MultiTaskPITLoss:
    """beta * BCE(SED) + (1 - beta) * masked MSE(DOA), frame-level PIT over the 3! track permutations.

    The permutation minimises ``pit_beta * SED + (1 - pit_beta) * DOA`` (default: the loss's own ``beta``);
    ``pit_beta`` 1 lets the SED term alone choose which output track answers for which event, so a class
    need not fire on the track whose direction matches its event (a probe lever at many classes).
    """

    name = "multitask"

    def __init__(self, beta: float = 0.5, pit_beta: float | None = None):
        for what, value in (("beta", beta), ("pit_beta", beta if pit_beta is None else pit_beta)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{what} must be in [0, 1], got {value}")
        self.beta = float(beta)
        self.pit_beta = self.beta if pit_beta is None else float(pit_beta)

    @_full_precision
    def __call__(self, outputs: Mapping[str, torch.Tensor], targets: Mapping) -> LossResult:
        logit, doa, t_sed, t_doa = _trackwise(outputs, targets)
        C = logit.shape[-1]
        # BCE(x, t) = softplus(x) - x t, so the [3, 3] track-pair costs are one matmul.
        bce_pair = (_softplus(logit).sum(-1, keepdim=True) - logit @ t_sed.transpose(-1, -2)) / C
        active = t_sed.amax(-1)  # [B,T,3] target track activity
        sq = ((doa.unsqueeze(-2) - t_doa.unsqueeze(-3)) ** 2).sum(-1)  # [B,T,i,j]
        doa_pair = sq * active.unsqueeze(-2)
        sed_p = _perm_costs(bce_pair) / NUM_TRACKS  # [B,T,6]
        doa_p = _perm_costs(doa_pair) / (NUM_TRACKS * 3)
        best = torch.argmin(self.pit_beta * sed_p + (1 - self.pit_beta) * doa_p, dim=-1, keepdim=True)
        sed = sed_p.gather(-1, best).mean()
        doa_loss = doa_p.gather(-1, best).mean()
        total = self.beta * sed + (1 - self.beta) * doa_loss
        return LossResult(total, {"sed": sed.detach(), "doa": doa_loss.detach()})


class AGG1Loss:
    """min over track permutations of MSE(sigmoid(sed^i) ⊗ unit(doa^i), sed label ⊗ doa label), per frame."""

    name = "agg1"

    def __init__(self, eps: float = 1e-8):
        self.eps = float(eps)

    @_full_precision
    def __call__(self, outputs: Mapping[str, torch.Tensor], targets: Mapping) -> LossResult:
        logit, doa, t_sed, t_doa = _trackwise(outputs, targets)
        C = logit.shape[-1]
        s = torch.sigmoid(logit)
        n = _unit(doa, self.eps)
        # ‖s_i ⊗ n_i − t_j ⊗ u_j‖² = ‖s_i‖²‖n_i‖² + ‖t_j‖²‖u_j‖² − 2 (s_i·t_j)(n_i·u_j)
        p_norm = (s * s).sum(-1) * (n * n).sum(-1)  # [B,T,i]
        t_norm = (t_sed * t_sed).sum(-1) * (t_doa * t_doa).sum(-1)  # [B,T,j]
        cross = (s @ t_sed.transpose(-1, -2)) * (n @ t_doa.transpose(-1, -2))  # [B,T,i,j]
        pair = p_norm.unsqueeze(-1) + t_norm.unsqueeze(-2) - 2 * cross
        per_frame = _perm_costs(pair).amin(-1) / (NUM_TRACKS * C * 3)
        total = per_frame.mean()
        return LossResult(total, {"agg1": total.detach()})


def onset_weights(active: torch.Tensor, frames: int, weight: float) -> torch.Tensor:
    """Per (batch, frame, class) loss weights from the target's class activity [B, T, C]: ``weight`` in the
    first ``frames`` frames of each run of activity, 1 elsewhere. A run active in the first frame may have
    started before the chunk: frames before it count as active, so it gets no onset weight."""
    on = (active > 0).to(torch.float32)
    before = functional.pad(on, (0, 0, frames, 0), value=1.0)  # frames before the chunk: active
    T = on.shape[1]
    held = torch.ones_like(on)  # active in each of the `frames` frames before: not in the run's first frames
    for j in range(1, frames + 1):
        held = held * before[:, frames - j: frames - j + T]
    return 1.0 + (weight - 1.0) * on * (1.0 - held)


class _OnsetWeighting:
    """The onset-weighting options of a class-wise loss (see the module docstring)."""

    def __init__(self, onset_weight: float = 1.0, onset_frames: int = 3):
        if not onset_weight > 0:
            raise ValueError(f"onset_weight must be > 0, got {onset_weight}")
        if int(onset_frames) != onset_frames or onset_frames < 1:
            raise ValueError(f"onset_frames must be a whole number >= 1, got {onset_frames}")
        self.onset_weight = float(onset_weight)
        self.onset_frames = int(onset_frames)

    def class_weights(self, active: torch.Tensor) -> torch.Tensor | None:
        """[B, T, C] weights for the target activity ``active``; None when weighting is off."""
        if self.onset_weight == 1.0:
            return None
        return onset_weights(active, self.onset_frames, self.onset_weight).to(active.dtype)


class AGG2Loss(_OnsetWeighting):
    """MSE between Σ_i sigmoid(sed^i) ⊗ unit(doa^i) and Σ_i sed label^i ⊗ doa label^i (no PIT); the error of
    a class at its events' onsets optionally weighted (``onset_weight``, ``onset_frames``)."""

    name = "agg2"

    def __init__(self, eps: float = 1e-8, onset_weight: float = 1.0, onset_frames: int = 3):
        super().__init__(onset_weight, onset_frames)
        self.eps = float(eps)

    @_full_precision
    def __call__(self, outputs: Mapping[str, torch.Tensor], targets: Mapping) -> LossResult:
        logit, doa, t_sed, t_doa = _trackwise(outputs, targets)
        s, n = torch.sigmoid(logit), _unit(doa, self.eps)
        C = logit.shape[-1]
        w = self.class_weights(t_sed.amax(-2))
        ws = s if w is None else s * w.unsqueeze(-2)  # Σ_c w_c (Σ_i a_ic x_i)·(Σ_j b_jc y_j): weight one side

        def inner(a, b, x, y):  # <Σ_i a_i ⊗ x_i, Σ_j b_j ⊗ y_j> = Σ_ij (a_i·b_j)(x_i·y_j), per frame
            return ((a @ b.transpose(-1, -2)) * (x @ y.transpose(-1, -2))).sum((-1, -2))

        wt = t_sed if w is None else t_sed * w.unsqueeze(-2)
        sq = inner(ws, s, n, n) - 2 * inner(ws, t_sed, n, t_doa) + inner(wt, t_sed, t_doa, t_doa)
        total = sq.mean() / (C * 3)
        return LossResult(total, {"agg2": total.detach()})


class ACCDOALoss(_OnsetWeighting):
    """MSE on the class-wise activity-coupled DOA vectors; optionally onset-weighted like AGG2."""

    name = "accdoa"

    @_full_precision
    def __call__(self, outputs: Mapping[str, torch.Tensor], targets: Mapping) -> LossResult:
        out = _require(outputs, "accdoa", "outputs", 4)
        tgt = _target(targets, "accdoa", 4, out)
        _check_same(out, tgt, "accdoa")
        w = self.class_weights(tgt.abs().amax(-1))
        total = functional.mse_loss(out, tgt) if w is None else ((out - tgt) ** 2 * w.unsqueeze(-1)).mean()
        return LossResult(total, {"accdoa": total.detach()})


class ADPITLoss:
    """Multi-ACCDOA loss with auxiliary duplicating PIT over 13 arrangements per class and frame."""

    name = "adpit"

    @_full_precision
    def __call__(self, outputs: Mapping[str, torch.Tensor], targets: Mapping) -> LossResult:
        out = _require(outputs, "maccdoa", "outputs", 5)  # [B,T,3,C,3]
        tgt = _target(targets, "adpit", 5, out)  # [B,T,6,4,C]
        B, T, K, C, _ = out.shape
        if K != NUM_TRACKS or tgt.shape != (B, T, 6, 4, C):
            raise ValueError(f"maccdoa output {tuple(out.shape)} and adpit target {tuple(tgt.shape)} do not match "
                             f"([B,T,3,C,3] and [B,T,6,4,C])")
        # Where no dummy track of a class is active, every arrangement is zero and the loss is ‖output‖²: only
        # the few (frame, class) entries with an activity need the 13 arrangements.
        per = out.square().sum(-1).sum(2)  # [B,T,C]
        b, t, c = (tgt[:, :, :, 0].abs().amax(2) > 0).nonzero(as_tuple=True)
        o = out[b, t, :, c]  # [N,3,3]
        d = tgt[b, t, :, :, c]  # [N,6,4]
        d = d[..., :1] * d[..., 1:]  # activity-coupled dummy tracks A0, B0, B1, C0, C1, C2: [N,6,3]
        # The 6 distinct track targets A0 + B_b + C_c, indexed b * 3 + c.
        combos = (d[:, 0, None, None] + d[:, 1:3, None] + d[:, None, 3:6]).reshape(-1, 6, 3)
        err = ((o.unsqueeze(2) - combos.unsqueeze(1)) ** 2).sum(-1)  # [N, track, combo]
        idx = torch.tensor([[bb * 3 + cc for bb, cc in arr] for arr in ADPIT_ARRANGEMENTS], device=out.device)
        rows = torch.arange(NUM_TRACKS, device=out.device)
        best = err[:, rows, idx].sum(-1).amin(-1)  # [N]: minimum over the 13 arrangements
        total = per.index_put((b, t, c), best).mean() / (NUM_TRACKS * 3)
        return LossResult(total, {"adpit": total.detach()})


_LOSSES: dict[str, Callable[..., Callable[[Mapping, Mapping], LossResult]]] = {
    "multitask": MultiTaskPITLoss,
    "agg1": AGG1Loss,
    "agg2": AGG2Loss,
    "accdoa": ACCDOALoss,
    "adpit": ADPITLoss,
}
LOSS_NAMES = tuple(_LOSSES)


def make_loss(name: str, **params) -> Callable[[Mapping[str, torch.Tensor], Mapping], LossResult]:
    """The loss called ``name`` (one of LOSS_NAMES) with its parameters (multitask: beta, pit_beta; agg1/agg2: eps;
    agg2/accdoa: onset_weight, onset_frames)."""
    if name not in _LOSSES:
        raise ValueError(f"unknown loss '{name}' (choose from {', '.join(LOSS_NAMES)})")
    try:
        return _LOSSES[name](**params)
    except TypeError:
        raise ValueError(f"loss '{name}' does not take parameters {sorted(params)}") from None
