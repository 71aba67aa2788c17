import numpy as np
import pytest
import torch

from seld_live.models import ARCHS, build_model, count_parameters, sized_config


def _random_chunks(total: int, per: int, rng) -> list[int]:
    sizes, left = [], total
    while left:
        n = min(left, per * int(rng.integers(1, 4)))
        sizes.append(n)
        left -= n
    return sizes


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("size", ["tiny", "small"])
def test_streaming_equals_offline(arch, size):
    cfg = sized_config(size, arch=arch, num_classes=7)
    model = build_model(cfg).eval()
    x = torch.randn(2, cfg.in_channels, 200, cfg.n_mels) * 5
    rng = np.random.default_rng(0)
    with torch.no_grad():
        offline = model(x)
        state: dict = {}
        outs, s = [], 0
        for n in _random_chunks(200, cfg.frames_per_output, rng):
            outs.append(model(x[:, :, s : s + n], state))
            s += n
        hop_by_hop: dict = {}
        steps = [model(x[:, :, i : i + 10], hop_by_hop) for i in range(0, 200, 10)]
    for key, ref in offline.items():
        assert ref.shape[:2] == (2, 20)
        assert torch.max(torch.abs(torch.cat([o[key] for o in outs], 1) - ref)) <= 1e-4
        assert torch.max(torch.abs(torch.cat([o[key] for o in steps], 1) - ref)) <= 1e-4


@pytest.mark.parametrize("arch", ARCHS)
def test_outputs_are_causal(arch):
    """Output frame t does not change when audio features after frame t change (zero look-ahead)."""
    cfg = sized_config("tiny", arch=arch, num_classes=4)
    model = build_model(cfg).eval()
    x = torch.randn(1, cfg.in_channels, 100, cfg.n_mels)
    y = x.clone()
    y[:, :, 50:] = torch.randn_like(y[:, :, 50:])
    with torch.no_grad():
        a, b = model(x), model(y)
    for key in a:
        assert torch.equal(a[key][:, :5], b[key][:, :5])
        assert torch.max(torch.abs(a[key][:, 5:] - b[key][:, 5:])) > 0


@pytest.mark.parametrize("arch", ARCHS)
def test_output_shapes_and_default_size(arch):
    cfg = sized_config("small", arch=arch, num_classes=13)
    model = build_model(cfg)
    assert count_parameters(model) <= 5_000_000
    with torch.no_grad():
        out = model.eval()(torch.zeros(3, 10, 50, 64))
    shapes = {k: tuple(v.shape) for k, v in out.items()}
    expected = {
        "einv2": {"sed": (3, 5, 3, 13), "doa": (3, 5, 3, 3)},
        "seddoa": {"sed": (3, 5, 3, 13), "doa": (3, 5, 3, 3)},
        "accdoa": {"accdoa": (3, 5, 13, 3)},
        "maccdoa": {"maccdoa": (3, 5, 3, 13, 3)},
    }[arch]
    assert shapes == expected


def test_einv2_sed_branch_sees_only_log_mel():
    """With the cross-stitch units set to identity, SED outputs ignore the spatial channels."""
    cfg = sized_config("tiny", arch="einv2", num_classes=4)
    model = build_model(cfg).eval()
    with torch.no_grad():
        for st in [*model.stitch_conv, *model.stitch_tcn]:
            st.weight.copy_(torch.eye(2).repeat(st.weight.shape[0], 1, 1))
        x = torch.randn(1, 10, 40, 64)
        y = x.clone()
        y[:, 4:] = torch.randn_like(y[:, 4:])
        a, b = model(x), model(y)
    assert torch.equal(a["sed"], b["sed"])
    assert not torch.allclose(a["doa"], b["doa"])


def test_normalisation_is_part_of_the_model():
    cfg = sized_config("tiny", arch="seddoa", num_classes=3)
    model = build_model(cfg).eval()
    mean, std = torch.randn(10, 64), torch.rand(10, 64) + 0.5
    model.set_normalization(mean, std)
    x = torch.randn(1, 10, 20, 64)
    ref = build_model(cfg).eval()
    ref.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("feat_")}, strict=False)
    with torch.no_grad():
        assert torch.allclose(model(x)["sed"], ref((x - mean[:, None]) / std[:, None])["sed"], atol=1e-5)
    assert "feat_mean" in model.state_dict()


@pytest.mark.parametrize("arch", ["accdoa", "maccdoa"])
def test_classwise_vectors_start_silent_but_trainable(arch):
    """Class-wise heads start at (almost) zero output, where the default init made training rest at the
    all-zero output; the backbone must still receive a gradient through them."""
    model = build_model(sized_config("tiny", arch=arch, num_classes=7)).train()
    x = torch.randn(2, model.cfg.in_channels, 50, model.cfg.n_mels) * 5
    out = model(x)[arch]
    assert out.abs().max() < 0.05
    out.sum().backward()
    grads = [p.grad for p in model.branch.parameters() if p.grad is not None]
    assert grads and max(g.abs().max() for g in grads) > 0
