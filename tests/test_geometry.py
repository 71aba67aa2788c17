import numpy as np
import pytest

from seld_live.errors import GeometryError
from seld_live.geometry import ArrayGeometry, list_presets, load_array


def test_presets():
    assert {"dcase_mic", "respeaker_v2", "foa"} <= set(list_presets())
    tet = load_array()
    assert tet.format == "mic" and tet.num_channels == 4
    assert np.allclose(np.linalg.norm(tet.positions, axis=1), 0.042)
    assert tet.max_spacing == pytest.approx(0.0686, abs=1e-3)
    assert 2400 < tet.aliasing_frequency < 2600
    assert not tet.is_planar
    rs = load_array("respeaker_v2")
    assert rs.is_planar and rs.channels == (2, 3, 4, 5) and rs.native_rate == 16000
    foa = load_array("foa")
    assert foa.format == "foa" and foa.convention == "ACN/SN3D" and len(foa.positions) == 0
    assert ArrayGeometry.from_dict(tet.to_dict()) == tet


GOOD_MIC = """
format = "mic"
channels = [1, 2]
[[mic]]
azimuth = 90
elevation = 0
radius = 0.05
[[mic]]
azimuth = -90
elevation = 0
radius = 0.05
"""


@pytest.mark.parametrize(
    "text, message",
    [
        (GOOD_MIC.replace("channels = [1, 2]", "channels = [1, 2, 3]"), "2 mics but 3 channels"),
        (GOOD_MIC.replace("radius = 0.05", "radius = 5", 1), "units are metres"),
        (GOOD_MIC.replace('format = "mic"', 'format = "stereo"'), "format must be one of"),
        (GOOD_MIC.replace("elevation = 0", "elevation = 120", 1), "outside -90..90"),
        (GOOD_MIC.replace("channels = [1, 2]", "channels = [0, 1]"), "1-based"),
        (GOOD_MIC.replace("azimuth = -90", "azimuth = 90"), "share a position"),
        (GOOD_MIC.replace("radius = 0.05", 'radius = "big"', 1), "numeric azimuth"),
        ('format = "foa"\nchannels = [1, 2, 3]', "4 channels"),
        ("format = mic", "not valid TOML"),
    ],
)
def test_validation_names_the_problem(tmp_path, text, message):
    p = tmp_path / "arr.toml"
    p.write_text(text)
    with pytest.raises(GeometryError, match=message) as info:
        load_array(p)
    assert str(p) in str(info.value)


def test_good_custom_file_and_unknown_preset(tmp_path):
    p = tmp_path / "pair.toml"
    p.write_text(GOOD_MIC)
    g = load_array(p)
    assert g.num_channels == 2 and g.key == "pair"
    with pytest.raises(GeometryError, match="unknown array preset"):
        load_array("no_such_array")


def test_a_device_name_finds_its_preset():
    from seld_live.geometry import device_preset

    assert load_array("respeaker_v2").device_names == ("ReSpeaker",)
    assert device_preset("ReSpeaker 4 Mic Array (UAC1.0): USB Audio (hw:2,0)").key == "respeaker_v2"
    assert device_preset("respeaker 4 mic array").key == "respeaker_v2"  # case-insensitive
    assert device_preset("HDA Intel PCH: ALC892 Analog (hw:0,0)") is None
    geo = load_array("respeaker_v2")
    assert ArrayGeometry.from_dict(geo.to_dict()).device_names == ("ReSpeaker",)  # kept in a checkpoint


@pytest.mark.parametrize("names", ["ReSpeaker", [""], [3]])
def test_device_names_must_be_a_list_of_words(names):
    d = load_array("respeaker_v2").to_dict()
    d["device_names"] = names
    with pytest.raises(GeometryError, match="device_names must be a list of non-empty strings"):
        ArrayGeometry.from_dict(d)


def test_a_dataset_array_has_no_device_names():
    """A dataset is files, not a device; and the identity of datasets made before the key must not change."""
    from training.synth.writer import array_toml, dataset_array

    ds = dataset_array(load_array("respeaker_v2"), 16000)
    assert ds.device_names == () and "device_names" not in ds.to_dict() and "device_names" not in array_toml(ds)
