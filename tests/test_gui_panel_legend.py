"""The key to the views (Qt offscreen): it explains size, fading, the hollow marker and the sphere's rim, drawn
with the views' own encodings."""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before Qt is imported: these tests never need a display

import numpy as np
from PySide6 import QtGui

from seld_live.gui import style
from seld_live.gui.view_legend import SAMPLE, ViewLegend


def test_key_explains_each_channel_with_the_views_sizes(qtbot):
    k = ViewLegend(trail_seconds=10.0)
    qtbot.addWidget(k)
    k.resize(k.sizeHint())
    k.show()
    qtbot.waitExposed(k)
    what = dict(k.entries())
    assert "confidence" in what["size"] and "age" in what["fading"] and "10 s" in what["fading"]
    assert "coasting" in what["hollow"] and "last detection" in what["hollow"] and "near side" in what["white rim"]
    np.testing.assert_allclose(k.sample_sizes(), style.marker_size([0.3, 0.6, 1.0]))
    k.set_trail_seconds(20.0)
    assert "20 s" in dict(k.entries())["fading"]

    def painted():
        img = k.grab().toImage().convertToFormat(QtGui.QImage.Format.Format_RGB32)
        # the biggest sample marker's centre is painted in the sample colour
        d = k.sample_sizes()
        x = round(10 + d[0] + 8 + d[1] + 8 + d[2] / 2)
        y = round(4 + k.ROW_H / 2)
        c = img.pixelColor(x, y)
        assert abs(c.red() - SAMPLE.red()) + abs(c.green() - SAMPLE.green()) + abs(c.blue() - SAMPLE.blue()) < 40

    qtbot.waitUntil(painted, timeout=30000)


def test_style_encodings():
    assert style.marker_size(0.0) == style.MARKER_MIN_PX
    assert style.marker_size(2.0) == style.MARKER_MIN_PX + style.MARKER_SPAN_PX
    a = style.age_alpha(np.linspace(0, 1, 11))
    assert a[0] == 1.0 and np.isclose(a[-1], style.AGE_ALPHA_MIN) and np.all(np.diff(a) < 0)
    assert style.confidence_text(0.735) == f"{0.735:.2f}"
    m = style.visible_mask(3, {1, 7})
    assert m.tolist() == [True, False, True]
    assert style.class_shown(m, np.array([0, 1, 2, 5, -1])).tolist() == [True, False, True, True, True]
