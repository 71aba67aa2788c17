"""``model.init``: a new run's network started from another checkpoint's weights, as far as they fit."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from seld_live.checkpoint import read_checkpoint
from seld_live.errors import SeldError
from seld_live.models import SeldNet
from seld_live.paths import resolve_model


def init_from(model: SeldNet, mcfg, classes: list[str], path: str) -> str:
    """Load another checkpoint's weights into a new run's network (same network) and say what was taken.

    A checkpoint of other classes gives everything but the class outputs (``SeldNet.CLASS_OUTPUTS``), which
    start fresh: its backbone and direction head for a new class list. A checkpoint of another array (other
    feature channels, e.g. the tetrahedron's log-mel + GCC-PHAT for an FOA run's log-mel + intensity vectors)
    gives every tensor whose shape fits, and in each first convolution the weights of the leading log-mel
    channels where both have as many; the rest (the other input channels) keeps its fresh initialisation. An
    EINV2 run can start from a SEDDOA checkpoint of the same size: both of its branches start as that backbone
    (the SED branch with its log-mel channels) and its heads as SEDDOA's; the cross-stitch units keep their
    fresh, near-identity mixing. The normalisation is recomputed for the run's data."""
    weights, meta = read_checkpoint(resolve_model(path))
    changes = {"in_channels": mcfg.in_channels, "spectral_channels": mcfg.spectral_channels}
    other_classes = list(meta.classes) != list(classes)
    if other_classes:
        changes["num_classes"] = mcfg.num_classes
        weights = {k: v for k, v in weights.items() if k.split(".")[0] not in SeldNet.CLASS_OUTPUTS}
    branched = (meta.model.arch, mcfg.arch) == ("seddoa", "einv2")
    if branched:
        changes["arch"] = mcfg.arch
        weights = _two_branches(weights)
    if dataclasses.replace(meta.model, **changes) != mcfg:
        raise SeldError(f"model.init {path}: another network ({meta.model.arch}, conv channels "
                        f"{list(meta.model.conv_channels)}) than this run's ({mcfg.arch}, "
                        f"{list(mcfg.conv_channels)})")
    own = model.state_dict()
    whole, spectral, fresh = 0, [], []
    for name, t in own.items():
        w = weights.get(name)
        if w is not None and w.shape == t.shape:
            own[name], whole = w, whole + 1
        elif (w is not None and w.dim() >= 2 and w.shape[0] == t.shape[0] and w.shape[2:] == t.shape[2:]
              and w.shape[1] == meta.model.in_channels and t.shape[1] in (mcfg.in_channels, mcfg.spectral_channels)
              and meta.model.spectral_channels == mcfg.spectral_channels):
            n = mcfg.spectral_channels  # an input convolution: its log-mel channels mean the same here
            own[name] = t.clone()
            own[name][:, :n] = w[:, :n]
            spectral.append(name)
        else:
            fresh.append(name)
    model.load_state_dict(own)
    note = f"initialised from {Path(path).name}: {whole} of {len(own)} tensors"
    if other_classes:
        note += f" (its {len(meta.classes)} classes are not this run's {len(classes)}: the class outputs start fresh)"
    if spectral:
        note += f", the log-mel channels of {len(spectral)} input convolution(s)"
    fresh = [n for n in fresh if n not in ("feat_mean", "feat_std")]  # recomputed for this run anyway
    return note + (f"; fresh: {', '.join(fresh)}" if fresh else "")


def _two_branches(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A SEDDOA state dict with its backbone (``branch.*``) copied to both EINV2 branches."""
    out = {k: v for k, v in weights.items() if not k.startswith("branch.")}
    for k, v in weights.items():
        if k.startswith("branch."):
            out["sed_" + k] = out["doa_" + k] = v
    return out
