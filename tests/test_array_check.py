"""The array check before training: what it reports for the presets, and the geometries it refuses."""

from __future__ import annotations

import re

import pytest

from seld_live.errors import GeometryError
from seld_live.geometry import ArrayGeometry, load_array
from training.array_check import UnusableArrayError, array_report, check_array, format_report
from training.train_cli import main


def mic_array(*mics: tuple[float, float, float], name: str = "test array", **extra) -> ArrayGeometry:
    return ArrayGeometry.from_dict({"name": name, "format": "mic", "channels": list(range(1, len(mics) + 1)),
                                    "mic": [{"azimuth": a, "elevation": e, "radius": r} for a, e, r in mics],
                                    **extra})


def test_the_presets_are_usable_and_their_symmetries_counted():
    tetra = check_array(load_array("dcase_mic"))
    assert tetra.num_mics == 4 and not tetra.planar and tetra.refusal is None
    assert tetra.max_spacing_m == pytest.approx(0.0686, abs=1e-3) and 2400 < tetra.aliasing_hz < 2600
    assert (tetra.rotations, tetra.reflections) == (11, 12)  # every permutation of the four capsules
    respeaker = check_array(load_array("respeaker_v2"))
    assert respeaker.planar and (respeaker.rotations, respeaker.reflections) == (3, 4)  # the square's 8 maps
    assert respeaker.min_spacing_m == pytest.approx(0.0453, abs=1e-3)
    foa = check_array(load_array("foa"))
    assert foa.format == "foa" and (foa.rotations, foa.reflections) == (7, 8)
    text = format_report(respeaker)
    assert "planar: cannot tell up from down" in text and "8 (the identity, 3 rotations, 4 reflections)" in text


def test_an_irregular_array_has_no_symmetry_to_use():
    r = check_array(mic_array((0, 0, 0.03), (100, 0, 0.04), (-150, 20, 0.05), (30, -60, 0.02)))
    assert (r.rotations, r.reflections) == (0, 0) and r.symmetries.startswith("none")


def test_many_mics_are_checked_without_a_symmetry_search():
    r = check_array(mic_array(*[(az, 0.0, 0.05) for az in range(0, 360, 30)]))  # 12 mics: 12! permutations
    assert r.num_mics == 12 and r.rotations is None and "not searched" in r.symmetries


@pytest.mark.parametrize(("mics", "message"), [
    ([(90, 0, 0.05), (-90, 0, 0.05)], "2 mics; at least 3 are needed"),
    ([(0, 0, 0.05), (0, 0, 0.053), (90, 0, 0.05), (180, 0, 0.05)], r"3\.0 mm apart: coincident"),
    ([(0, 0, 0.2), (120, 0, 0.2), (-120, 0, 0.2)], r"34\.6 cm apart: over 30 cm"),
    # the PS3 Eye: four mics in a row, 2 cm apart
    ([(90, 0, 0.03), (90, 0, 0.01), (-90, 0, 0.01), (-90, 0, 0.03)], "4 mics lie in a line: a linear array"),
    # a square on a wall in front of the listener: flat, but vertical
    ([(45, 45, 0.03), (-45, 45, 0.03), (45, -45, 0.03), (-45, -45, 0.03)], "a flat array that is not horizontal"),
])
def test_unusable_geometries_are_refused_in_one_line(mics, message):
    with pytest.raises(UnusableArrayError, match=message) as e:
        check_array(mic_array(*mics))
    assert isinstance(e.value, GeometryError) and "\n" not in str(e.value)
    assert str(e.value).startswith("array test array: unusable: ")


def test_foa_is_checked_by_format():
    geo = ArrayGeometry.from_dict({"name": "old mic", "format": "foa", "channels": [1, 2, 3, 4], "convention": "FuMa"})
    assert array_report(geo).refusal.startswith("B-format in FuMa")
    with pytest.raises(UnusableArrayError, match="convert it"):
        check_array(geo)


def test_seld_train_check_array(tmp_path, capsys):
    assert main(["check-array", "respeaker_v2"]) == 0
    out = capsys.readouterr().out
    assert "4 mics" in out and "usable     yes" in out
    wide = tmp_path / "wide.toml"
    wide.write_text('name = "wide"\nformat = "mic"\nchannels = [1, 2, 3]\n'
                    + "".join(f"[[mic]]\nazimuth = {a}\nelevation = 0.0\nradius = 0.25\n" for a in (0, 120, -120)))
    assert main(["check-array", str(wide)]) == 1
    captured = capsys.readouterr()
    assert "refused" in captured.out
    assert re.fullmatch(r"seld-train check-array: error: array wide: unusable: mics up to 43\.3 cm apart: .*\n",
                        captured.err)
    assert main(["check-array", "nosuch"]) == 1
    assert "unknown array preset 'nosuch'" in capsys.readouterr().err


def test_a_flat_array_measured_a_little_off_level_is_planar_not_refused():
    # a square measured with a millimetre or two of height error: flat and level, not "not horizontal"
    r = check_array(mic_array((45, 2.0, 0.03), (135, -1.5, 0.03), (-135, 1.0, 0.03), (-45, -2.5, 0.03)))
    assert r.planar and r.refusal is None
