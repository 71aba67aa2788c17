"""The model catalog: shipped models read from their checkpoints, grouped and picked by array, mismatches refused."""

from __future__ import annotations

import pytest
import torch
from helpers import make_checkpoint

from seld_live import model_catalog, paths
from seld_live.checkpoint import read_checkpoint, save_checkpoint
from seld_live.errors import CheckpointError, SeldError
from seld_live.geometry import load_array
from seld_live.model_catalog import (
    ArrayMismatchError,
    check_model_array,
    model_for_array,
    models_by_array,
    shipped_models,
)
from seld_live.models import build_model


def with_test_f20(path, f20, seed=4301):
    """The checkpoint rewritten with a test score in its training summary, as a finished recipe records it."""
    state, meta = read_checkpoint(path)
    scenes = {"seed": seed, "split": "test"}
    test = {"data": "array_x/test_real", "scenes": scenes, "F20": f20, "LE_CD": 15.0}
    meta.training = {**meta.training, "test": test}
    model = build_model(meta.model)
    model.load_state_dict(state)
    save_checkpoint(path, model, meta)
    return path


def test_shipped_models_are_read_from_their_checkpoints(models_dir):
    make_checkpoint(models_dir / "zeta.pt", num_classes=3)
    make_checkpoint(models_dir / "seddoa_agg2.pt", num_classes=5)
    with_test_f20(make_checkpoint(models_dir / "foa_small.pt", array="foa", num_classes=4), 0.31)
    (models_dir / "notes.txt").write_text("not a model")
    infos = shipped_models()
    assert [m.name for m in infos] == ["seddoa_agg2.pt", "foa_small.pt", "zeta.pt"]  # the default first
    default, foa, _zeta = infos
    assert default.array == "dcase_mic" and default.classes == tuple(f"class{i}" for i in range(5))
    assert default.output_kind == "agg2" and default.test_f20 is None
    assert default.size_bytes == (models_dir / "seddoa_agg2.pt").stat().st_size > 0
    assert foa.array == "foa" and foa.test_f20 == pytest.approx(0.31) and len(foa.classes) == 4
    assert foa.test_scenes == "test_real, seed 4301" and default.test_scenes == ""
    assert foa.geometry.format == "foa"
    groups = models_by_array()
    assert list(groups) == ["dcase_mic", "foa"]
    assert [m.name for m in groups["dcase_mic"]] == ["seddoa_agg2.pt", "zeta.pt"]


def test_the_table_says_which_test_scenes_each_f20_comes_from(models_dir):
    """F20s from different scene draws are not comparable: the table names each model's and says so."""
    with_test_f20(make_checkpoint(models_dir / "seddoa_agg2.pt"), 0.36)
    with_test_f20(make_checkpoint(models_dir / "foa.pt", array="foa"), 0.37)
    table = model_catalog.format_model_table(shipped_models())
    assert table.splitlines()[1].endswith("36.0%  test_real, seed 4301")
    assert "only on the same test scenes" not in table
    with_test_f20(models_dir / "foa.pt", 0.37, seed=1301)  # another draw
    table = model_catalog.format_model_table(shipped_models())
    assert "test_real, seed 1301" in table and "only on the same test scenes" in table


def test_a_damaged_file_is_left_out_and_named(models_dir, caplog):
    make_checkpoint(models_dir / "good.pt")
    (models_dir / "broken.pt").write_bytes(b"garbage")
    assert [m.name for m in shipped_models()] == ["good.pt"]
    assert "broken.pt" in caplog.text


def test_model_for_array_matches_by_layout(models_dir, tmp_path):
    make_checkpoint(models_dir / "b.pt")
    make_checkpoint(models_dir / "a.pt")
    make_checkpoint(models_dir / "foa.pt", array="foa")
    assert model_for_array("dcase_mic").name == "a.pt"  # stable: by name where none is the default
    assert model_for_array(load_array("foa")).name == "foa.pt"
    assert model_for_array("respeaker_v2") is None
    # a user's own file with the tetrahedron's layout (other channels) finds the tetrahedron model
    custom = tmp_path / "mine.toml"
    custom.write_text((paths.ARRAYS / "dcase_mic.toml").read_text().replace("[1, 2, 3, 4]", "[3, 4, 5, 6]"))
    assert model_for_array(custom).name == "a.pt"
    assert "respeaker_v2" not in models_by_array() and model_catalog.no_model_message("respeaker_v2").startswith(
        "no shipped model for array 'respeaker_v2' (models exist for: dcase_mic, foa)")


def test_the_real_shipped_model_is_listed():
    if not paths.DEFAULT_MODEL.exists():
        pytest.skip("no shipped model in this checkout")
    info = model_for_array("dcase_mic")
    assert info is not None and info.name == paths.DEFAULT_MODEL.name and info.array == "dcase_mic"
    assert len(info.classes) == 13


def test_check_model_array_refuses_another_layout_with_the_reason():
    tetra, respeaker, foa = load_array("dcase_mic"), load_array("respeaker_v2"), load_array("foa")
    check_model_array(tetra, tetra, "m.pt")
    with pytest.raises(ArrayMismatchError) as e:
        check_model_array(tetra, respeaker, "m.pt")
    msg = str(e.value)
    assert isinstance(e.value, SeldError) and isinstance(e.value, CheckpointError) and "\n" not in msg
    assert msg.startswith("model m.pt was trained for array dcase_mic (4 mics, 3D, up to 6.9 cm apart); "
                          "the input is array respeaker_v2 (4 mics, planar, up to 6.4 cm apart)")
    assert msg.endswith("choose a model for respeaker_v2 or train one with training/recipes/array.sh")
    with pytest.raises(ArrayMismatchError, match=r"array foa \(first-order ambisonics \(ACN/SN3D\)\)"):
        check_model_array(tetra, foa, "m.pt")


def test_checkpoint_records_a_custom_array(models_dir, tmp_path):
    """A model trained for a user's own array is listed under that array's name."""
    geo = load_array("respeaker_v2")
    path = make_checkpoint(models_dir / "own.pt", array="respeaker_v2")
    state, meta = read_checkpoint(path)
    meta.array = type(geo).from_dict({**geo.to_dict(), "name": "My square", "key": "my_square"})
    model = build_model(meta.model)
    model.load_state_dict({k: torch.as_tensor(v) for k, v in state.items()})
    save_checkpoint(path, model, meta)
    (info,) = shipped_models()
    assert info.array == "My square" and model_for_array("respeaker_v2") == info
