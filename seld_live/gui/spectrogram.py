"""Spectrogram of one input channel over the last N seconds, newest on the right.

The engine publishes each hop's samples (``HopResult.audio``, shared, never written); ``SpectrumColumns``
(no Qt) turns one channel of consecutive hops into short-time spectra, ``columns_per_frame`` columns per
100 ms hop. The view keeps them in a preallocated ring of colour indices and draws them as one indexed image.

Standalone API: ``ingest(results)`` (spectra of the chosen channel from the hops' audio),
``push_column(frame, magnitudes_db)`` (spectra computed elsewhere: one column ``[bins]`` or a hop's
``[columns_per_frame, bins]``), ``refresh()`` (redraws only after new columns), ``clear()``,
``set_channel(index)`` / the ``channel_changed(index)`` signal of its channel box, ``set_levels(lo, hi)``.
Frames never pushed (dropped, or before a seek) show as blank columns, never as stale ones.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from seld_live.events import FRAME_SECONDS
from seld_live.gui.map_view import BACKGROUND, GRID, TEXT
from seld_live.results import HopResult


def default_n_fft(sample_rate: int) -> int:
    """The power of two nearest above 20 ms of samples (512 at 16 and 24 kHz, 1024 at 48 kHz)."""
    return 1 << int(np.ceil(np.log2(0.02 * sample_rate)))


class SpectrumColumns:
    """Short-time magnitude spectra (dB re full scale) of one channel, hop after hop, with overlap kept."""

    def __init__(self, sample_rate: int, columns_per_frame: int = 4, n_fft: int | None = None) -> None:
        self.sample_rate = int(sample_rate)
        self.hop_samples = round(self.sample_rate * FRAME_SECONDS)
        if self.hop_samples % columns_per_frame:
            raise ValueError(f"{columns_per_frame} columns do not divide a hop of {self.hop_samples} samples")
        self.columns = int(columns_per_frame)
        self.step = self.hop_samples // self.columns
        self.n_fft = int(n_fft or default_n_fft(self.sample_rate))
        self.window = np.hanning(self.n_fft).astype(np.float32)
        self._scale = 2.0 / float(self.window.sum())  # a full-scale sine reads 0 dB
        self._tail = np.zeros(max(self.n_fft - self.step, 0), np.float32)

    @property
    def bins(self) -> int:
        return self.n_fft // 2 + 1

    def reset(self) -> None:
        self._tail[:] = 0.0

    def push(self, samples: np.ndarray) -> np.ndarray:
        """One hop of one channel [hop_samples] -> spectra [columns, bins] in dB."""
        x = np.asarray(samples, np.float32).reshape(-1)
        if len(x) != self.hop_samples:
            raise ValueError(f"a hop has {self.hop_samples} samples, got {len(x)}")
        x = np.where(np.isfinite(x), x, 0.0).astype(np.float32, copy=False)
        buf = np.concatenate([self._tail, x])
        starts = len(buf) - self.n_fft - self.step * np.arange(self.columns - 1, -1, -1)
        frames = np.lib.stride_tricks.sliding_window_view(buf, self.n_fft)[np.maximum(starts, 0)]
        mag = np.abs(np.fft.rfft(frames * self.window, axis=1)) * self._scale
        if len(self._tail):
            self._tail = buf[len(buf) - len(self._tail):].copy()
        return 20.0 * np.log10(np.maximum(mag, 1e-10))


def _lut() -> np.ndarray:
    """256 colours: index 0 is 'no data' (the background), 1..255 a dark-to-bright map."""
    cmap = pg.colormap.get("inferno")
    lut = cmap.getLookupTable(0.0, 1.0, 255, alpha=False).astype(np.uint8)
    bg = np.array([int(BACKGROUND[i:i + 2], 16) for i in (1, 3, 5)], np.uint8)
    return np.concatenate([bg[None], lut])


class SpectrogramView(QtWidgets.QWidget):
    """One channel's spectrogram, frequency up (kHz), the last ``seconds`` along, with a channel chooser."""

    channel_changed = QtCore.Signal(int)

    def __init__(self, sample_rate: int, channels: Sequence[str] = ("1",), seconds: float = 10.0,
                 columns_per_frame: int = 4, n_fft: int | None = None, parent=None) -> None:
        super().__init__(parent)
        self.spectra = SpectrumColumns(sample_rate, columns_per_frame, n_fft)
        self.sample_rate = int(sample_rate)
        self.seconds = float(seconds)
        self.columns_per_frame = self.spectra.columns
        self.bins = self.spectra.bins
        self.frames = max(2, round(self.seconds / FRAME_SECONDS))
        self.levels = (-100.0, -20.0)
        self._ring = np.zeros((self.bins, self.frames * self.columns_per_frame), np.uint8)
        self.last_frame: int | None = None
        self._audio_frame: int | None = None  # the last frame whose audio went through self.spectra
        self._dirty = True
        self.channel = 0

        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        bar = QtWidgets.QHBoxLayout()
        bar.setContentsMargins(4, 0, 4, 0)
        bar.addWidget(QtWidgets.QLabel("channel"))
        self.channel_box = QtWidgets.QComboBox()
        for label in channels:
            self.channel_box.addItem(str(label))
        self.channel_box.setToolTip("The input channel shown")
        self.channel_box.currentIndexChanged.connect(self._channel_chosen)
        bar.addWidget(self.channel_box)
        bar.addStretch(1)
        lay.addLayout(bar)
        self.plot_widget = pg.PlotWidget(background=BACKGROUND)
        self.plot_widget.setMinimumSize(300, 140)
        lay.addWidget(self.plot_widget, 1)
        plot = self.plot_widget.getPlotItem()
        plot.setMenuEnabled(False)
        plot.hideButtons()
        vb = plot.getViewBox()
        vb.setMouseEnabled(False, False)
        nyquist_khz = self.sample_rate / 2000.0
        vb.setRange(xRange=(-self.seconds, 0.0), yRange=(0.0, nyquist_khz), padding=0)
        for name in ("left", "bottom"):
            ax = plot.getAxis(name)
            ax.setTextPen(TEXT)
            ax.setPen(pg.mkPen((*GRID, 120)))
        step = 2 if self.seconds <= 10 else 5
        plot.getAxis("bottom").setTicks([[(-t, f"−{t:g} s" if t else "now")
                                          for t in np.arange(0, self.seconds + 1e-9, step)]])
        plot.getAxis("bottom").setStyle(hideOverlappingLabels=30)
        plot.setLabel("left", "kHz")
        plot.layout.setContentsMargins(0, 4, 18, 0)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setLookupTable(_lut())
        plot.addItem(self.image)
        self._rect = QtCore.QRectF(-self.seconds, 0.0, self.seconds, nyquist_khz)
        self.refresh()

    # ------------------------------------------------------------------ input
    def set_channel(self, index: int) -> None:
        self.channel_box.setCurrentIndex(int(index))

    def _channel_chosen(self, index: int) -> None:
        if index < 0 or index == self.channel:
            return
        self.channel = index
        self.clear()  # the old channel's columns would mislead
        self.channel_changed.emit(index)

    def set_levels(self, lo_db: float, hi_db: float) -> None:
        """dB shown darkest and brightest (applies to columns pushed from now on)."""
        self.levels = (float(lo_db), float(hi_db))

    def ingest(self, results: Sequence[HopResult]) -> None:
        """Spectra of the chosen channel of each hop's samples (hops without audio are skipped)."""
        for r in results:
            audio = r.audio
            if audio is None or audio.ndim != 2 or not 0 <= self.channel < audio.shape[1]:
                continue
            if len(audio) != self.spectra.hop_samples:
                continue
            if self._audio_frame is None or r.frame != self._audio_frame + 1:
                self.spectra.reset()  # not the continuation of the last hop: no overlap across the gap
            self._audio_frame = r.frame
            self.push_column(r.frame, self.spectra.push(audio[:, self.channel]))

    def push_column(self, frame: int, magnitudes_db: np.ndarray) -> None:
        """The spectra of frame ``frame``: one column [bins] (repeated over the frame) or [columns, bins]."""
        m = np.asarray(magnitudes_db, np.float64)
        if m.ndim == 1:
            m = np.broadcast_to(m, (self.columns_per_frame, m.shape[0]))
        if m.shape != (self.columns_per_frame, self.bins):
            raise ValueError(f"expected [{self.columns_per_frame}, {self.bins}] or [{self.bins}], got {m.shape}")
        self._advance(frame)
        lo, hi = self.levels
        idx = np.clip(np.nan_to_num((m - lo) / max(hi - lo, 1e-9), nan=-1.0) * 254.0 + 1.0, 1.0, 255.0)
        idx[~np.isfinite(m)] = 0
        c = (frame % self.frames) * self.columns_per_frame
        self._ring[:, c:c + self.columns_per_frame] = idx.T.astype(np.uint8)
        self._dirty = True

    def _advance(self, frame: int) -> None:
        k = self.columns_per_frame
        if self.last_frame is None or frame < self.last_frame:
            self._ring[:] = 0
        elif frame > self.last_frame + 1:
            missing = np.arange(self.last_frame + 1, min(frame, self.last_frame + 1 + self.frames))
            cols = ((missing % self.frames)[:, None] * k + np.arange(k)[None]).reshape(-1)
            self._ring[:, cols] = 0
        self.last_frame = frame if self.last_frame is None else max(frame, self.last_frame)

    def clear(self) -> None:
        self._ring[:] = 0
        self.last_frame = None
        self._audio_frame = None
        self.spectra.reset()
        self._dirty = True
        self.refresh()

    # ------------------------------------------------------------------ drawing
    def ordered(self) -> np.ndarray:
        """Colour indices [bins, columns], oldest column first (0: no data)."""
        if self.last_frame is None:
            return self._ring
        start = ((self.last_frame + 1) % self.frames) * self.columns_per_frame
        return np.roll(self._ring, -start, axis=1)

    def refresh(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        self.image.setImage(self.ordered(), autoLevels=False, levels=(0, 255))
        self.image.setRect(self._rect)  # after the image: the rect scales the image's own size
