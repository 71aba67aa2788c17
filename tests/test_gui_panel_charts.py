"""The azimuth/elevation-vs-time charts (Qt offscreen): detections only, colours by class, cut at ±180°."""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before Qt is imported: these tests never need a display

import numpy as np
import pytest
from helpers import has_color_near
from PySide6 import QtCore, QtGui

from seld_live.gui.direction_chart import DirectionChart, chart_segments
from seld_live.gui.palette import class_colors
from seld_live.results import HopResult, TrackState

CLASSES = ["speech", "dog", "flute", "door", "bell"]


def _hop(f, tracks):
    return HopResult(f, f * 0.1, [], tracks)


@pytest.fixture
def chart(qtbot):
    c = DirectionChart(CLASSES, class_colors(len(CLASSES)), seconds=20.0)
    qtbot.addWidget(c)
    c.resize(700, 380)
    c.show()
    qtbot.waitExposed(c)
    return c


def _pixel(chart, name, t, v):
    vb = chart.plots[name].getViewBox()
    g = chart.graphics
    return g.mapTo(chart, g.mapFromScene(vb.mapViewToScene(QtCore.QPointF(t, v))))


def test_lines_follow_detections_and_stop_at_the_last_one(chart, qtbot):
    colors = class_colors(len(CLASSES))
    hops = []
    for f in range(60):
        if f < 40:  # the flute, heard from -160° to -121°
            hops.append(_hop(f, [TrackState(4, 2, "flute", -160.0 + f, 20.0, 0.8, f)]))
        elif f < 50:  # coasting: the prediction runs on to -60°
            hops.append(_hop(f, [TrackState(4, 2, "flute", -121.0 + 6 * (f - 39), 20.0, 0.8, f, f - 39)]))
        else:
            hops.append(_hop(f, []))
    chart.ingest(hops)
    chart.refresh()
    t0, v0, t1, v1, cls = chart.lines["az"].data
    assert len(t0) and set(cls.tolist()) == {2}
    assert max(v0.max(), v1.max()) <= -121.0 + 1e-9  # never past the last detection
    # time runs to the newest hop (frame 59 at 0 s): the last detection (frame 39) is 2 s before
    assert max(t0.max(), t1.max()) == pytest.approx(-2.0)
    el = chart.lines["el"].data
    np.testing.assert_allclose(np.concatenate([el[1], el[3]]), 20.0)

    def painted():
        chart.graphics.viewport().repaint()
        img = chart.grab().toImage().convertToFormat(QtGui.QImage.Format.Format_RGB32)
        assert has_color_near(img, _pixel(chart, "az", -3.0, -130.0), colors[2], radius=3, tol=120)
        assert not has_color_near(img, _pixel(chart, "az", -1.0, -90.0), colors[2], radius=3, tol=120)

    qtbot.waitUntil(painted, timeout=30000)


def test_azimuth_is_cut_at_the_back_not_drawn_across_the_chart():
    az = np.array([170.0, 178.0, -176.0, -170.0])[:, None]
    ages = np.arange(3, -1, -1)
    _t0, v0, _t1, v1, _col = chart_segments(az, ages, wrap=True, max_gap=1)
    assert np.all(np.abs(v1 - v0) <= 10.0)  # short pieces, two of them meeting the seam
    assert np.isclose(v1, 180.0).sum() == 1 and np.isclose(v0, -180.0).sum() == 1
    # a lone detection (a clap) still shows: a dash one frame long
    lone = np.full((5, 1), np.nan)
    lone[2, 0] = 33.0
    t0, v0, t1, v1, _col = chart_segments(lone, np.arange(4, -1, -1), wrap=False)
    assert len(t0) == 1 and v0[0] == v1[0] == 33.0 and t1[0] - t0[0] == pytest.approx(0.1)


def test_classes_can_be_hidden_and_clear_empties(chart):
    hops = [_hop(f, [TrackState(0, 0, "speech", 10.0 + f, 0.0, 0.9, f), TrackState(1, 3, "door", -30.0, 5.0, 0.7, f)])
            for f in range(20)]
    chart.ingest(hops)
    chart.refresh()
    assert set(chart.lines["az"].data[4].tolist()) == {0, 3}
    chart.set_class_visible(3, False)
    assert set(chart.lines["az"].data[4].tolist()) == {0} and set(chart.lines["el"].data[4].tolist()) == {0}
    chart.set_class_visible(3, True)
    assert set(chart.lines["az"].data[4].tolist()) == {0, 3}
    chart.clear()
    assert chart.segments("az") == chart.segments("el") == 0
