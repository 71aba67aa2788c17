"""The spectrogram panel (Qt offscreen): columns from the hops' audio or pushed directly, gaps blank."""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before Qt is imported: these tests never need a display

import numpy as np
import pytest

from seld_live.gui.spectrogram import SpectrogramView, SpectrumColumns
from seld_live.results import HopResult


def test_spectrum_columns_find_a_tone_at_its_frequency_and_level():
    sc = SpectrumColumns(24000, columns_per_frame=4)
    assert (sc.hop_samples, sc.n_fft, sc.bins) == (2400, 512, 257)
    t = np.arange(2400) / 24000
    cols = sc.push(0.5 * np.sin(2 * np.pi * 3000.0 * t))
    assert cols.shape == (4, 257)
    freqs = np.arange(257) * 24000 / 512
    peak = freqs[np.argmax(cols, axis=1)]
    np.testing.assert_allclose(peak, 3000.0, atol=24000 / 512)
    assert np.all(np.abs(cols.max(axis=1) - 20 * np.log10(0.5)) < 1.5)  # dB re full scale (window-corrected)
    with pytest.raises(ValueError):
        sc.push(np.zeros(100))
    # 16 kHz: overlapping windows carry the previous hop's tail
    sc16 = SpectrumColumns(16000, columns_per_frame=4)
    assert sc16.n_fft == 512 and sc16.step == 400
    assert sc16.push(np.zeros(1600)).shape == (4, 257)


def test_spectrogram_from_hop_audio_of_the_chosen_channel(qtbot):
    v = SpectrogramView(24000, ["1", "2", "3", "4"], seconds=10.0)
    qtbot.addWidget(v)
    rng = np.random.default_rng(0)
    t = np.arange(2400) / 24000
    hops = []
    for f in range(30):
        audio = (rng.standard_normal((2400, 4)) * 1e-4).astype(np.float32)
        audio[:, 2] += 0.5 * np.sin(2 * np.pi * 6000.0 * t)  # a tone on channel 3 only
        hops.append(HopResult(f, f * 0.1, [], [], audio=audio))
    hops = hops[:20] + hops[25:]  # frames 20-24 never arrive (dropped by the bounded queue)
    with qtbot.waitSignal(v.channel_changed, timeout=30000):
        v.set_channel(2)
    v.ingest(hops)
    v.refresh()
    img = v.ordered()  # [bins, columns], oldest first; newest frame 29 last
    k = v.columns_per_frame
    assert img.shape == (257, 100 * k)
    col = img[:, -1]
    assert abs(int(np.argmax(col)) - 128) <= 1  # 6 kHz is bin 128 of 257
    gap = img[:, (100 - 10) * k:(100 - 5) * k]  # frames 20..24
    assert np.all(gap == 0)  # blank, not stale
    assert np.all(img[:, : (100 - 30) * k] == 0)  # before the first hop: blank
    assert np.all(img[:, (100 - 5) * k:] > 0)
    # another channel: the old columns go (they would mislead)
    v.set_channel(0)
    assert np.all(v.ordered() == 0)
    v.ingest(hops[-3:])
    assert int(np.argmax(v.ordered()[:, -1])) != 128


def test_push_column_takes_spectra_made_elsewhere(qtbot):
    v = SpectrogramView(16000, ["1"], seconds=5.0, columns_per_frame=1)
    qtbot.addWidget(v)
    bins = v.bins
    m = np.full(bins, -100.0)
    m[10] = -20.0
    v.push_column(7, m)
    v.push_column(8, np.full(bins, np.nan))  # unknown: blank
    v.refresh()
    img = v.ordered()
    assert img[10, -2] == 255 and img[0, -2] == 1 and np.all(img[:, -1] == 0)
    with pytest.raises(ValueError):
        v.push_column(9, np.zeros(bins + 1))
    v.clear()
    assert np.all(v.ordered() == 0) and v.last_frame is None
