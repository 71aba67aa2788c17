"""A key to the views: what marker size, fading, a hollow marker and (on the sphere) a white rim mean.

Drawn with the same encodings the views use (``style``), so the key cannot drift from the drawing.
Standalone: ``ViewLegend(trail_seconds=10.0)``; ``set_trail_seconds(s)`` when the trail length changes.
"""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from seld_live.gui.style import COASTING_RING_PX, DEPTH_RIM_PX, age_alpha, marker_size

SAMPLE = QtGui.QColor(96, 170, 255)  # a class colour for the samples
CONFIDENCES = (0.3, 0.6, 1.0)


class ViewLegend(QtWidgets.QWidget):
    ROW_H = 36

    def __init__(self, trail_seconds: float = 10.0, parent=None) -> None:
        super().__init__(parent)
        self.trail_seconds = float(trail_seconds)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Preferred, QtWidgets.QSizePolicy.Policy.Fixed)
        self.setMinimumWidth(260)

    def set_trail_seconds(self, seconds: float) -> None:
        self.trail_seconds = float(seconds)
        self.update()

    def entries(self) -> list[tuple[str, str]]:
        """(what is drawn, what it means), one per row."""
        s = f"{self.trail_seconds:g} s"
        return [
            ("size", "confidence (" + ", ".join(f"{c:.1f}" for c in CONFIDENCES) + ")"),
            ("fading", f"age: a trail fades from now to {s} ago"),
            ("hollow", "coasting: not detected now, shown at its last detection; its trail stops there"),
            ("white rim", "sphere: on the near side, facing you (thicker trails there too)"),
        ]

    def sizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(360, self.ROW_H * len(self.entries()) + 8)

    def minimumSizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(260, self.ROW_H * len(self.entries()) + 8)

    def sample_sizes(self) -> np.ndarray:
        """Diameters of the confidence samples drawn (the views' marker sizes)."""
        return marker_size(CONFIDENCES)

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:
        p = QtGui.QPainter(self)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
        sample_w = 96
        text = QtGui.QColor("#c8ccd4")
        white = QtGui.QPen(QtGui.QColor(255, 255, 255, 220), 1.5)
        for row, (_what, meaning) in enumerate(self.entries()):
            y = 4 + row * self.ROW_H + self.ROW_H / 2
            if row == 0:  # three markers, as big as the views draw them
                x = 10.0
                for d in self.sample_sizes():
                    p.setPen(white)
                    p.setBrush(SAMPLE)
                    p.drawEllipse(QtCore.QPointF(x + d / 2, y), d / 2, d / 2)
                    x += d + 8
            elif row == 1:  # a trail from old (left, faint) to now (right)
                n = 24
                for i in range(n):
                    c = QtGui.QColor(SAMPLE)
                    c.setAlphaF(float(age_alpha(1.0 - (i + 1) / n)))
                    pen = QtGui.QPen(c, 2.0)
                    p.setPen(pen)
                    x0 = 8 + i * (sample_w - 24) / n
                    p.drawLine(QtCore.QPointF(x0, y), QtCore.QPointF(x0 + (sample_w - 24) / n, y))
                d = float(marker_size(0.8))
                p.setPen(white)
                p.setBrush(SAMPLE)
                p.drawEllipse(QtCore.QPointF(sample_w - 16 + d / 2, y), d / 2, d / 2)
            elif row == 2:  # a short trail ending at a hollow marker
                d = float(marker_size(0.8))
                p.setPen(QtGui.QPen(SAMPLE, 2.0))
                p.drawLine(QtCore.QPointF(20, y), QtCore.QPointF(52, y))
                p.setBrush(QtCore.Qt.BrushStyle.NoBrush)
                p.setPen(QtGui.QPen(SAMPLE, COASTING_RING_PX))
                p.drawEllipse(QtCore.QPointF(52 + d / 2, y), d / 2, d / 2)
            else:  # a marker with the sphere's white rim
                d = float(marker_size(0.8))
                cx = 40.0
                p.setPen(QtCore.Qt.PenStyle.NoPen)
                p.setBrush(QtGui.QColor(255, 255, 255, 242))
                p.drawEllipse(QtCore.QPointF(cx, y), (d + DEPTH_RIM_PX) / 2, (d + DEPTH_RIM_PX) / 2)
                p.setBrush(SAMPLE)
                p.drawEllipse(QtCore.QPointF(cx, y), d / 2, d / 2)
            p.setPen(text)
            r = QtCore.QRectF(sample_w + 4, y - self.ROW_H / 2, self.width() - sample_w - 8, self.ROW_H)
            p.drawText(r, int(QtCore.Qt.AlignmentFlag.AlignVCenter | QtCore.Qt.AlignmentFlag.AlignLeft
                              | QtCore.Qt.TextFlag.TextWordWrap), meaning)
        p.end()
