"""Room responses and diffuse noise, each against a reference: pyroomacoustics' own simulation, a
brute-force loop, or the closed-form diffuse-field coherence."""

from __future__ import annotations

import numpy as np
import pyroomacoustics as pra
import pytest
import scipy.signal
from pyroomacoustics.directivities import CardioidFamily
from pyroomacoustics.simulation.ism import compute_ism_rir
from pyroomacoustics.simulation.rt import compute_rt_rir

from seld_live.geometry import load_array
from training.synth.diffuse import coloured_magnitude, diffuse_coherence, diffuse_mixing, diffuse_noise
from training.synth.room import (
    FRAC_HALF,
    HIST_BIN_S,
    OCTAVE_CENTRES,
    RoomSimulator,
    RoomSpec,
    _impulse_trains,
    rotation_matrix,
)
from training.synth.scene import SceneConfig, sample_position, sample_room

FS = 24000
ABSORPTION = (0.1, 0.12, 0.15, 0.2, 0.25, 0.3, 0.35)


def make_spec(rt60: float | None = 0.6) -> RoomSpec:
    rot = rotation_matrix(30.0, 8.0, -5.0)
    return RoomSpec((6.0, 5.0, 3.0), rt60, ABSORPTION, 0.1, (3.5, 2.0, 1.4), tuple(map(tuple, rot)))


def pra_room(spec: RoomSpec, receivers: np.ndarray, source: np.ndarray) -> pra.ShoeBox:
    """The same room built directly with pyroomacoustics (hybrid, so the ISM damping includes scattering)."""
    m = pra.Material(energy_absorption={"coeffs": list(spec.absorption), "center_freqs": list(OCTAVE_CENTRES)},
                     scattering=spec.scattering)
    room = pra.ShoeBox(list(spec.dims), fs=FS, materials=m, max_order=3, air_absorption=True, ray_tracing=True)
    room.add_source(source)
    room.add_microphone_array(receivers.T)
    room.image_source_model()
    return room


def test_rotation_and_frames_round_trip():
    spec = make_spec()
    r = spec.rot
    assert np.allclose(r @ r.T, np.eye(3)) and np.isclose(np.linalg.det(r), 1.0)
    u = np.array([[1.0, 0, 0], [0, 0.6, 0.8]])
    back, dist = spec.to_array(spec.to_room(u, np.array([2.0, 3.5])))
    assert np.allclose(back, u) and np.allclose(dist, [2.0, 3.5])


def test_impulse_trains_match_brute_force():
    rng = np.random.default_rng(0)
    delays = rng.uniform(45, 300, size=(2, 5))
    amps = rng.standard_normal((2, 3, 5))
    out = np.zeros((2, 3, 400))
    _impulse_trains(out, delays, amps)
    ref = np.zeros_like(out)
    for c in range(2):
        for i in range(5):
            n0 = int(np.floor(delays[c, i]))
            for n in range(n0 - FRAC_HALF, n0 + FRAC_HALF + 1):  # 81 taps around the delay
                x = n - delays[c, i]
                w = 0.5 * (1 + np.cos(np.pi * x / (FRAC_HALF + 1)))
                ref[c, :, n] += amps[c, :, i] * w * np.sinc(x)
    assert np.max(np.abs(out - ref)) < 1e-9


def test_early_response_matches_pyroomacoustics_ism():
    spec = make_spec()
    sim = RoomSimulator(spec, load_array("dcase_mic"), FS, ism_order=3)
    src = np.array([1.5, 3.2, 1.7])
    ours = sim.early(src)[0]
    room = pra_room(spec, sim.receivers, src)
    for m in range(4):
        ref = compute_ism_rir(room.sources[0], sim.receivers[m], None, None, room.visibility[0][m], 2 * FRAC_HALF + 1,
                              room.c, FS, room.octave_bands, min_phase=False,
                              air_abs_coeffs=room.air_absorption)[FRAC_HALF:]  # pyroomacoustics delays by 40
        n = min(len(ref), ours.shape[1])
        assert np.linalg.norm(ours[m, :n] - ref[:n]) / np.linalg.norm(ref[:n]) < 0.01
        assert np.sum(ours[m, n:] ** 2) < 1e-4 * np.sum(ref**2)


def test_foa_early_response_matches_pyroomacoustics_directional_mics():
    """W is an omni at the centre; Y, Z, X are figure-eights along the array's own y, z, x axes."""
    spec = make_spec()
    sim = RoomSimulator(spec, load_array("foa"), FS, ism_order=3)
    src = np.array([1.2, 4.1, 2.2])
    ours = sim.early(src)[0]
    centre = np.asarray(spec.array_centre)
    axes = {1: spec.rot[:, 1], 2: spec.rot[:, 2], 3: spec.rot[:, 0]}
    room = pra_room(spec, centre[None], src)
    for ch in range(4):
        direc = None if ch == 0 else CardioidFamily(orientation=axes[ch].copy(), p=0.0)
        ref = compute_ism_rir(room.sources[0], centre, direc, None, room.visibility[0][0], 2 * FRAC_HALF + 1, room.c,
                              FS, room.octave_bands, min_phase=False, air_abs_coeffs=room.air_absorption)[FRAC_HALF:]
        n = min(len(ref), ours.shape[1])
        assert np.linalg.norm(ours[ch, :n] - ref[:n]) / np.linalg.norm(ref[:n]) < 0.01, ch


def test_anechoic_response_is_the_direct_path():
    spec = make_spec(rt60=None)
    sim = RoomSimulator(spec, load_array("dcase_mic"), FS)
    src = np.array([1.0, 1.0, 2.0])
    h = sim.rir(src, np.random.default_rng(0))
    for m, mic in enumerate(sim.receivers):
        d = np.linalg.norm(src - mic)
        assert abs(np.argmax(np.abs(h[m])) - d / sim.c * FS) <= 1.0
        assert np.isclose(np.sum(h[m]), 1.0 / d, rtol=0.02)  # DC gain of a delayed impulse: 1/r


def test_tail_has_unit_energy_per_histogram_bin():
    sim = RoomSimulator(make_spec(), load_array("dcase_mic"), FS)
    sim.air[:] = 0.0
    hist = np.zeros((sim.n_bands, 300))
    hist[:, 50:250] = 1.0
    energy = np.mean([np.sum(sim.tail_from_histogram(hist, np.random.default_rng(s)) ** 2, axis=1)
                      for s in range(4)], axis=0)
    assert np.allclose(energy, 200.0, rtol=0.05)


def test_tail_band_energies_match_pyroomacoustics():
    """Same histogram: our diffuse tail vs pyroomacoustics' Poisson-sequence tail, per octave band. The
    Poisson normalisation of pyroomacoustics runs about 1 dB hot (Jensen bias of a local power estimate)."""
    spec = make_spec()
    sim = RoomSimulator(spec, load_array("dcase_mic"), FS, rt_rays=2000)
    src = np.array([1.5, 3.2, 1.7])
    hist = sim.histogram(src)
    room = pra_room(spec, np.asarray(spec.array_centre)[None], src)
    ob = room.octave_bands
    hop = round(HIST_BIN_S * FS)
    ours, ref = [], []
    for s in range(4):
        t = sim.tail_from_histogram(hist, np.random.default_rng(s))[0]
        r = compute_rt_rir(0.01, [hist], {"response": np.ones(1), "is_impulse_response": False}, HIST_BIN_S, hop,
                           room.get_volume(), 2 * FRAC_HALF + 1, room.c, FS, ob, air_abs_coeffs=room.air_absorption)
        ours.append([np.sum(ob.analysis(t, band=b) ** 2) for b in range(7)])
        ref.append([np.sum(ob.analysis(r, band=b) ** 2) for b in range(7)])
    ratio_db = 10 * np.log10(np.mean(ours, axis=0) / np.mean(ref, axis=0))
    assert np.all(np.abs(ratio_db) < 2.5), ratio_db
    assert abs(np.mean(ratio_db)) < 1.5, ratio_db


@pytest.mark.parametrize("seed", [0, 3, 5])
def test_room_rt60_near_target(seed):
    cfg = SceneConfig()
    rng = np.random.default_rng(seed)
    room = sample_room(cfg, rng)
    sim = RoomSimulator(room, load_array("dcase_mic"), FS, rt_rays=2000)
    u, d = sample_position(cfg, room, rng)
    h = sim.rir(room.to_room(u, d), rng)[0]
    ob = sim._make_room(True).octave_bands
    mid = np.mean([pra.experimental.measure_rt60(ob.analysis(h, band=b), FS, decay_db=20) for b in (2, 3, 4)])
    assert 0.7 * room.rt60 < mid < 1.3 * room.rt60, (room.rt60, mid)


def test_diffuse_noise_has_diffuse_field_coherence():
    array = load_array("dcase_mic")
    noise = diffuse_noise(diffuse_mixing(array, FS), 10 * FS, np.random.default_rng(1))
    f, _ = scipy.signal.csd(noise[:, 0], noise[:, 0], fs=FS, nperseg=512)
    theory = diffuse_coherence(array.positions, f)
    band = (f > 100) & (f < 8000)
    for i in range(4):
        for j in range(i + 1, 4):
            _, pij = scipy.signal.csd(noise[:, i], noise[:, j], fs=FS, nperseg=512)
            _, pii = scipy.signal.csd(noise[:, i], noise[:, i], fs=FS, nperseg=512)
            _, pjj = scipy.signal.csd(noise[:, j], noise[:, j], fs=FS, nperseg=512)
            coh = np.real(pij / np.sqrt(np.real(pii) * np.real(pjj)))
            assert np.max(np.abs(coh[band] - theory[band, i, j])) < 0.1
    assert np.allclose(noise.var(axis=0), 1.0, rtol=0.05)


def test_diffuse_foa_noise_statistics():
    noise = diffuse_noise(diffuse_mixing(load_array("foa"), FS), 10 * FS, np.random.default_rng(2))
    var = noise.var(axis=0)
    assert np.allclose(var / var[0], [1, 1 / 3, 1 / 3, 1 / 3], rtol=0.05)
    corr = np.corrcoef(noise.T)
    assert np.max(np.abs(corr - np.eye(4))) < 0.02


def test_coloured_magnitude_slope():
    mag = coloured_magnitude(FS, FS, -3.0, f_low=50.0)
    f = np.fft.rfftfreq(FS, 1 / FS)
    a, b = np.argmin(np.abs(f - 500)), np.argmin(np.abs(f - 1000))
    assert np.isclose(20 * np.log10(mag[b] / mag[a]), -3.0, atol=0.01)
