"""The 2D views and panels, fed with HopResult-like data, checked on the rendered pixels (Qt offscreen)."""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before Qt is imported: these tests never need a display

import numpy as np
import pytest
from helpers import has_color_near
from PySide6 import QtCore, QtGui

from seld_live.events import Event
from seld_live.gui.history import ActivityBuffer, TrailBuffer
from seld_live.gui.map_view import MapView
from seld_live.gui.palette import class_colors
from seld_live.gui.timeline import TimelineView
from seld_live.gui.widgets import Legend, LevelMeters, TrackTable
from seld_live.results import TrackState

CLASSES = ["speech", "dog", "phone", "door", "bell"]


def _track(tid, cls, az, el, conf=0.9, age=5):
    return TrackState(tid, cls, CLASSES[cls], az, el, conf, age)


def _pixel_of(view: MapView, az: float, el: float) -> QtCore.QPoint:
    vb = view.getPlotItem().getViewBox()
    scene = vb.mapViewToScene(QtCore.QPointF(az, el))
    return view.mapFromScene(scene)


def _render(widget) -> QtGui.QImage:
    return widget.grab().toImage().convertToFormat(QtGui.QImage.Format.Format_RGB32)


def eventually(qtbot, check, timeout: float = 30.0) -> None:
    """Run ``check`` (which asserts) until it passes: layout and paint events come when a busy machine lets them."""
    qtbot.waitUntil(check, timeout=int(timeout * 1000))


@pytest.fixture
def map_view(qtbot):
    v = MapView(CLASSES, class_colors(len(CLASSES)), trail_frames=100)
    qtbot.addWidget(v)
    v.resize(900, 500)
    v.show()
    qtbot.waitExposed(v)
    return v


def test_markers_are_drawn_at_track_directions(map_view, qtbot):
    colors = class_colors(len(CLASSES))
    tracks = [_track(0, 0, 30.0, 20.0), _track(1, 1, -120.0, -40.0), _track(2, 2, 170.0, 60.0)]
    trails = TrailBuffer(100)
    trails.push(0, tracks)
    map_view.update_view(tracks, trails)
    np.testing.assert_allclose(map_view.marker_positions(), [[30, 20], [-120, -40], [170, 60]])
    assert sorted(map_view.labels.visible_texts()) == ["dog 0.90", "phone 0.90", "speech 0.90"]

    def painted():
        img = _render(map_view)
        for t in tracks:
            p = _pixel_of(map_view, t.azimuth, t.elevation)
            assert has_color_near(img, p, colors[t.class_index]), (t, p)

    eventually(qtbot, painted)
    # left of the listener is on the left of the map (positive azimuth counter-clockwise)
    assert _pixel_of(map_view, 90, 0).x() < _pixel_of(map_view, 0, 0).x() < _pixel_of(map_view, -90, 0).x()
    # markers leave with their tracks; labels are hidden, not recreated
    map_view.update_view([], trails)
    assert len(map_view.marker_positions()) == 0 and map_view.labels.visible_texts() == []


def test_trail_across_the_back_wraps_instead_of_crossing_the_map(map_view, qtbot):
    colors = class_colors(len(CLASSES))
    trails = TrailBuffer(100)
    az = 150.0
    for f in range(40):  # 60° of motion through azimuth 180 at constant elevation 10°
        az_f = (150.0 + 1.5 * f + 180.0) % 360.0 - 180.0
        trails.push(f, [_track(7, 1, az_f, 10.0)])
        az = az_f
    map_view.update_view([_track(7, 1, az, 10.0)], trails)
    seg = map_view.trails.segments
    assert np.all(np.abs(seg.x1 - seg.x0) <= 1.5 + 1e-9)
    assert np.any(np.isclose(seg.x1, 180.0)) and np.any(np.isclose(seg.x0, -180.0))

    def painted():
        img = _render(map_view)
        # trail pixels near both edges of the map, none across the middle of the row
        assert has_color_near(img, _pixel_of(map_view, 175.0, 10.0), colors[1], tol=140)
        assert has_color_near(img, _pixel_of(map_view, -155.0, 10.0), colors[1], tol=140)
        for a in range(-120, 121, 20):
            assert not has_color_near(img, _pixel_of(map_view, float(a), 10.0), colors[1], radius=1, tol=140), a

    eventually(qtbot, painted)


def test_trails_fade_with_age(map_view, qtbot):
    trails = TrailBuffer(100)
    for f in range(100):
        trails.push(f, [_track(1, 0, -150.0 + 3.0 * f, 15.0)])  # off the graticule lines
    map_view.update_view([], trails)

    def fading():
        img = _render(map_view)
        bg = img.pixelColor(_pixel_of(map_view, -15.0, -75.0))  # plain background

        def contrast(az):
            p = _pixel_of(map_view, az, 15.0)
            c = max((img.pixelColor(p.x(), p.y() + dy) for dy in (-1, 0, 1)),
                    key=lambda c: abs(c.red() - bg.red()) + abs(c.green() - bg.green()) + abs(c.blue() - bg.blue()))
            return abs(c.red() - bg.red()) + abs(c.green() - bg.green()) + abs(c.blue() - bg.blue())

        old, mid, new = contrast(-140.0), contrast(-15.0), contrast(135.0)  # off the grid lines
        assert old < mid < new, (old, mid, new)

    eventually(qtbot, fading)


def test_timeline_rows_show_class_activity(qtbot):
    colors = class_colors(len(CLASSES))
    tl = TimelineView(CLASSES, colors, frames=200)
    qtbot.addWidget(tl)
    act = ActivityBuffer(200, len(CLASSES))
    for f in range(50):
        act.push(f, [Event(f, 3, "door", 0, 0.0, 0.0, 1.0)] if f >= 40 else [])
    tl.update_view(act)
    assert tl.rows == CLASSES
    np.testing.assert_array_equal(tl.rgba[3, -10:, :3], np.broadcast_to(colors[3], (10, 3)))
    assert np.all(tl.rgba[3, :-10, :3] == tl.rgba[0, :-10, :3])  # inactive: background
    assert np.all(tl.rgba[0, -1, :3] != colors[0])


def test_timeline_with_many_classes_shows_active_rows_only(qtbot):
    names = [f"class{i}" for i in range(170)]
    tl = TimelineView(names, class_colors(170), frames=200)
    qtbot.addWidget(tl)
    act = ActivityBuffer(200, 170)
    act.push(0, [Event(0, 120, "class120", 0, 0.0, 0.0, 0.8), Event(0, 7, "class7", 0, 0.0, 0.0, 0.6)])
    tl.update_view(act)
    assert tl.rows == ["class7", "class120"]


def test_track_table_lists_tracks_by_id(qtbot):
    table = TrackTable(class_colors(len(CLASSES)))
    qtbot.addWidget(table)
    table.set_tracks([_track(4, 1, -35.4, 12.6, 0.734, age=23), _track(2, 0, 170.0, -5.0, 0.5, age=3)])
    assert table.rows() == [("2", "speech", "+170°", "-5°", "0.50", "0.3 s"),
                            ("4", "dog", "-35°", "+13°", "0.73", "2.3 s")]
    table.set_tracks([_track(4, 1, -36.0, 12.0, 0.8, age=24)])
    assert table.rows() == [("4", "dog", "-36°", "+12°", "0.80", "2.4 s")]


def test_level_meters_latch_clipping_and_fall_back(qtbot):
    m = LevelMeters(4)
    qtbot.addWidget(m)
    m.set_levels(np.array([-6.0, -20.0, 0.0, -80.0]), np.array([False, False, True, False]), now=100.0)
    np.testing.assert_allclose(m.level, [-6.0, -20.0, 0.0, -60.0])
    assert m.clipping(now=101.0).tolist() == [False, False, True, False]
    assert not m.clipping(now=100.0 + m.CLIP_HOLD_S + 0.1).any()
    m.decay(now=101.0)
    np.testing.assert_allclose(m.level[:3], [-6.0 - m.FALL_DB_PER_S, -20.0 - m.FALL_DB_PER_S, -m.FALL_DB_PER_S])
    np.testing.assert_allclose(m.peak[:3], [-6.0, -20.0, 0.0])  # held for PEAK_HOLD_S
    m.resize(260, 100)
    m.grab()  # paints without error


def test_stacked_labels_never_overlap_and_only_move_down():
    from seld_live.gui.map_view import stack_labels

    rng = np.random.default_rng(4)
    for _ in range(50):
        n = int(rng.integers(1, 12))
        x0, y0 = rng.uniform(0, 200, n), rng.uniform(0, 100, n)
        w, h = rng.uniform(40, 90, n), np.full(n, 14.0)
        top = stack_labels(x0, y0, w, h)
        assert np.all(top >= y0)
        for i in range(n):
            for j in range(i + 1, n):
                overlap_x = x0[i] < x0[j] + w[j] and x0[j] < x0[i] + w[i]
                overlap_y = top[i] < top[j] + h[j] and top[j] < top[i] + h[i]
                assert not (overlap_x and overlap_y)
    # labels that do not touch stay where they are
    np.testing.assert_array_equal(stack_labels(np.array([0.0, 100.0]), np.array([5.0, 5.0]), np.array([50.0, 50.0]),
                                               np.array([14.0, 14.0])), [5.0, 5.0])


def test_labels_of_close_markers_are_stacked_on_the_map(map_view, qtbot):
    tracks = [_track(i, i, 40.0 + 0.5 * i, 10.0 - 0.5 * i) for i in range(4)]
    trails = TrailBuffer(100)
    trails.push(0, tracks)
    map_view.update_view(tracks, trails)

    def stacked():
        items = [it for it in map_view.labels._items if it.isVisible()]
        # the glyphs' boxes: the text item's rectangle less its document margin
        margin = items[0].textItem.document().documentMargin()
        rects = [it.textItem.mapRectToScene(it.textItem.boundingRect()).adjusted(0, margin, 0, -margin)
                 for it in items]
        assert len(rects) == 4
        for i in range(4):
            for j in range(i + 1, 4):
                assert rects[i].intersected(rects[j]).height() < 1.0, (i, j)

    eventually(qtbot, stacked)


def test_coasting_track_is_hollow_at_its_last_detection_and_its_trail_stops_there(map_view, qtbot):
    colors = class_colors(len(CLASSES))
    trails = TrailBuffer(100)
    for f in range(37):
        if f <= 26:
            tracks = [TrackState(5, 2, "phone", -160.0 + f, 10.0, 0.8, f)]
        else:  # the tracker coasts: its prediction runs on to -60°
            tracks = [TrackState(5, 2, "phone", -134.0 + 7.4 * (f - 26), 10.0, 0.8, f, missed_frames=f - 26)]
        trails.push(f, tracks)
    map_view.update_view(tracks, trails)
    np.testing.assert_allclose(map_view.marker_positions(), [[-134.0, 10.0]])
    assert map_view.shown_markers.coasting.tolist() == [True]
    assert map_view.markers.points()[0].brush().color().alpha() == 0  # hollow
    seg = map_view.trails.segments
    assert len(seg) and np.maximum(seg.x0, seg.x1).max() <= -134.0 + 1e-9
    assert map_view.labels.visible_texts() == ["phone 0.80"]

    def painted():
        img = _render(map_view)
        assert has_color_near(img, _pixel_of(map_view, -150.0, 10.0), colors[2], tol=140)  # the trail
        for az in (-120.0, -100.0, -80.0, -62.0):  # where the prediction went: nothing drawn
            assert not has_color_near(img, _pixel_of(map_view, az, 10.0), colors[2], radius=3, tol=140), az

    eventually(qtbot, painted)
    # no longer alive: the marker and its label go
    trails.push(37, [])
    map_view.update_view([], trails)
    assert len(map_view.marker_positions()) == 0 and map_view.labels.visible_texts() == []


@pytest.mark.parametrize("size", [(1024, 640), (690, 400), (560, 330), (420, 250), (360, 200)])
def test_axis_labels_never_collide_and_keep_both_ends(qtbot, size):
    v = MapView(CLASSES, class_colors(len(CLASSES)), trail_frames=100)
    qtbot.addWidget(v)
    v.resize(*size)
    v.show()
    qtbot.waitExposed(v)
    widget = QtCore.QRectF(v.rect())

    def fits():
        v.viewport().repaint()
        for axis, ends in (("bottom", ("180°", "−180°")), ("left", ("90°", "−90°"))):
            rects = v.tick_label_rects(axis)
            texts = [t for t, _ in rects]
            assert texts and texts[0].split()[-1] == ends[0] and texts[-1].split()[-1] == ends[1], (axis, texts)
            for _t, r in rects:
                assert widget.contains(r), (axis, _t, r, widget)
            for i in range(len(rects)):
                for j in range(i + 1, len(rects)):
                    assert not rects[i][1].intersects(rects[j][1]), (axis, rects[i], rects[j])
        # ±180, ±90 and the front at every size tried
        assert len(v.tick_label_rects("bottom")) >= 5

    eventually(qtbot, fits)


def test_fit_ticks_prefers_direction_words_and_falls_back_to_sparser_sets():
    from seld_live.gui.map_view import az_tick_candidates, fit_ticks

    def width(text):
        return 7.0 * len(text)

    def ticks_for(px):
        return fit_ticks(az_tick_candidates(), lambda v: (180 - v) / 360 * px, px, width)

    wide, mid, narrow = ticks_for(2000), ticks_for(520), ticks_for(150)
    assert len(wide) == 13 and wide[0] == (180.0, "back 180°") and wide[-1] == (-180.0, "−180°")
    assert [v for v, _ in mid] == [180, 90, 0, -90, -180] and "left 90°" in [t for _, t in mid]
    assert narrow[0][0] == 180 and narrow[-1][0] == -180


def test_array_inset_shows_the_mics_from_above_with_the_front_up(qtbot):
    from seld_live.geometry import load_array
    from seld_live.gui.map_view import array_top_view

    geo = load_array("dcase_mic")  # M1 45°/35°, M2 -45°/-35°, M3 135°/-35°, M4 -135°/35°
    xy, numbers, upper = array_top_view(geo)
    assert numbers == ["1", "2", "3", "4"]
    assert upper.tolist() == [True, False, False, True]
    # screen y down: front (az 0) is up; left (positive azimuth) is on the left, as on the map
    assert xy[0, 0] < 0 and xy[0, 1] < 0  # mic 1: front left -> upper left
    assert xy[1, 0] > 0 and xy[1, 1] < 0  # mic 2: front right -> upper right
    assert xy[2, 0] < 0 and xy[2, 1] > 0  # mic 3: back left -> lower left
    v = MapView(CLASSES, class_colors(len(CLASSES)), array=geo)
    qtbot.addWidget(v)
    v.resize(900, 520)
    v.show()
    qtbot.waitExposed(v)
    qtbot.waitUntil(lambda: v.inset.isVisible(), timeout=30000)
    assert "mic 1: azimuth +45°, elevation +35°" in v.inset.toolTip() and "front" in v.inset.toolTip()
    img = v.inset.grab().toImage()
    for x, y in v.inset.mic_points():  # each mic dot is painted (light or grey, never the background)
        c = img.pixelColor(round(x) + 4, round(y))
        assert c.red() > 100, (x, y, c.name())
    v.resize(380, 210)  # too small a map for it: hidden
    qtbot.waitUntil(lambda: not v.inset.isVisible(), timeout=30000)


def _random_hops(n: int, seed: int = 11):
    """Hops with a few tracks, some coasting now and then, confidences on the rounding edge (x.xx5)."""
    rng = np.random.default_rng(seed)
    hops = []
    for f in range(n):
        tracks = []
        for tid in range(4):
            missed = int(rng.integers(0, 3)) if rng.random() < 0.3 else 0
            conf = float(rng.choice([0.735, 0.125, 0.5049, 0.995, rng.random()]))
            tracks.append(TrackState(tid, tid % len(CLASSES), CLASSES[tid % len(CLASSES)],
                                     float(rng.uniform(-170, 170)), float(rng.uniform(-60, 60)), conf, f,
                                     missed_frames=missed))
        hops.append(tracks)
    return hops


def test_track_table_and_map_labels_show_the_same_confidence_and_direction(map_view):
    """One number, one source: the track's confidence in the newest hop drawn, formatted once (style)."""
    table = TrackTable(class_colors(len(CLASSES)))
    trails = TrailBuffer(100)
    for f, tracks in enumerate(_random_hops(60)):
        trails.push(f, tracks)
        map_view.update_view(tracks, trails)
        table.set_tracks(tracks, trails)
        labels = map_view.label_texts()
        conf = table.confidence_texts()
        assert labels.keys() == conf.keys(), f
        for tid, text in labels.items():
            assert text.rsplit(" ", 1)[1] == conf[tid], (f, tid, text, conf[tid])
        # and the direction: a coasting row shows where its hollow marker is (the last detection)
        rows = {int(r[0]): r for r in table.rows()}
        for t, az, el in zip(map_view.shown_markers.tracks, map_view.shown_markers.az, map_view.shown_markers.el,
                             strict=True):
            assert rows[t.track_id][2:4] == (f"{az:+.0f}°", f"{el:+.0f}°")
    assert sorted(map_view.labels.visible_texts()) == sorted(map_view.label_texts().values())


def test_clip_lamps_are_off_until_a_clip_then_red_until_cleared_or_held_out(qtbot):
    import time

    m = LevelMeters(4)
    qtbot.addWidget(m)
    m.resize(260, 100)

    def lamp_color(ch):
        img = _render(m)
        r = m.lamp_rect(ch)
        return img.pixelColor(round(r.left()) + 2, round(r.top()) + 2)  # a corner: background, not the text

    def reddish(c):
        return c.red() > c.green() + 60 and c.red() > c.blue() + 60

    def neutral(c):
        return max(c.red(), c.green(), c.blue()) - min(c.red(), c.green(), c.blue()) < 20

    m.set_levels(np.array([-6.0, -20.0, -3.0, -80.0]), np.zeros(4, bool))
    assert all(neutral(lamp_color(ch)) for ch in range(4))  # off means off: no red tint anywhere
    m.set_levels(np.array([-6.0, -20.0, 0.0, -80.0]), np.array([False, False, True, False]))
    assert reddish(lamp_color(2)) and neutral(lamp_color(0)) and neutral(lamp_color(3))
    m.reset_clips()  # a click clears it
    assert neutral(lamp_color(2))
    m.set_levels(np.array([0.0] * 4), np.array([True, False, False, False]), now=time.monotonic() - m.CLIP_HOLD_S - 1)
    assert neutral(lamp_color(0))  # clipped longer ago than the hold time: off again


def test_legend_click_toggles_a_class_and_says_so(qtbot):
    lg = Legend(CLASSES, class_colors(len(CLASSES)))
    qtbot.addWidget(lg)
    lg.resize(330, lg.heightForWidth(330))
    lg.show()
    qtbot.waitExposed(lg)
    with qtbot.waitSignal(lg.class_visibility_changed, timeout=30000) as sig:
        qtbot.mouseClick(lg.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=lg.item_rect(2).center())
    assert sig.args == [2, False] and lg.hidden == {2} and lg.item(2).font().strikeOut()
    with qtbot.waitSignal(lg.class_visibility_changed, timeout=30000) as sig:
        qtbot.mouseClick(lg.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=lg.item_rect(2).center())
    assert sig.args == [2, True] and lg.hidden == set()


def test_legend_shows_every_class_without_a_scrollbar(qtbot):
    names = ["female speech", "male speech", "clapping", "telephone", "laughter", "domestic sounds", "footsteps",
             "door", "music", "instrument", "water tap", "bell", "knock"]  # STARSS23
    lg = Legend(names, class_colors(len(names)))
    qtbot.addWidget(lg)
    assert lg.heightForWidth(330) <= 8 * (lg.fontMetrics().height() + 6) + 8  # two columns at the side's width
    lg.resize(330, lg.heightForWidth(330))
    lg.show()
    qtbot.waitExposed(lg)

    def all_shown():
        view = lg.viewport().rect()
        assert not lg.verticalScrollBar().isVisible()
        for k in range(len(names)):
            assert view.contains(lg.item_rect(k)), (k, lg.item_rect(k), view)

    eventually(qtbot, all_shown)
    # beside an empty track table in a splitter (the window's side panel) at 1024x640's height: the legend
    # takes the rows it needs from the table
    from PySide6 import QtWidgets

    side = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
    qtbot.addWidget(side)
    table = TrackTable(class_colors(len(names)))
    lg2 = Legend(names, class_colors(len(names)))
    side.addWidget(table)
    side.addWidget(lg2)
    side.addWidget(LevelMeters(4))
    side.setStretchFactor(0, 3)
    side.setStretchFactor(1, 2)
    side.resize(330, 420)
    side.show()
    qtbot.waitExposed(side)

    def fits_beside_the_table():
        assert not lg2.verticalScrollBar().isVisible()
        view = lg2.viewport().rect()
        assert all(view.contains(lg2.item_rect(k)) for k in range(len(names)))
        assert table.height() >= 40  # the table keeps its header and a row or so

    eventually(qtbot, fits_beside_the_table)


def test_hiding_a_class_removes_it_from_every_view(map_view, qtbot):
    from seld_live.gui.direction_chart import DirectionChart
    from seld_live.gui.widgets import connect_class_visibility
    from seld_live.results import HopResult

    colors = class_colors(len(CLASSES))
    legend = Legend(CLASSES, colors)
    table = TrackTable(colors)
    timeline = TimelineView(CLASSES, colors, frames=200)
    chart = DirectionChart(CLASSES, colors, seconds=20)
    for w in (legend, table, timeline, chart):
        qtbot.addWidget(w)
    connect_class_visibility(legend, map_view, table, timeline, chart)
    trails, act = TrailBuffer(100), ActivityBuffer(200, len(CLASSES))
    for f in range(30):
        tracks = [_track(0, 0, 20.0 + f, 10.0), _track(1, 1, -40.0 - f, -5.0)]
        events = [Event(f, t.class_index, t.class_name, t.track_id, t.azimuth, t.elevation, 0.9) for t in tracks]
        trails.push(f, tracks)
        act.push(f, events)
        chart.ingest([HopResult(f, f * 0.1, events, tracks)])
    map_view.update_view(tracks, trails)
    table.set_tracks(tracks, trails)
    timeline.update_view(act)
    chart.refresh()

    def classes_drawn():
        return {
            "map markers": {t.class_index for t in map_view.shown_markers.tracks},
            "map trails": set(map_view.trails.segments.col.tolist()) and
            {int(c) for c in trails.slot_class[trails.ordered()[3]][np.unique(map_view.trails.segments.col)]},
            "table": {CLASSES.index(r[1]) for r in table.rows()},
            "timeline": {CLASSES.index(name) for name in timeline.rows},
            "chart": {int(c) for c in chart.lines["az"].data[4]} | {int(c) for c in chart.lines["el"].data[4]},
        }

    assert all(v >= {0, 1} for v in classes_drawn().values()), classes_drawn()
    legend.toggle_class(1)  # what a click does
    drawn = classes_drawn()
    for view, classes in drawn.items():
        if view == "timeline":
            assert classes == {0, 2, 3, 4}, classes
        else:
            assert classes == {0}, (view, classes)
    assert map_view.labels.visible_texts() == ["speech 0.90"]
    # the map's trails: nothing of class 1 painted
    img = _render(map_view)
    assert not has_color_near(img, _pixel_of(map_view, -55.0, -5.0), colors[1], radius=2, tol=140)
    legend.toggle_class(1)
    assert all(v >= {0, 1} for v in classes_drawn().values())
    # a view built later (the sphere) gets the classes hidden so far when it joins
    legend.toggle_class(0)
    late = TimelineView(CLASSES, colors, frames=200)
    qtbot.addWidget(late)
    connect_class_visibility(legend, late)
    late.update_view(act)
    assert "speech" not in late.rows


def test_timeline_click_seeks_to_the_frame_under_the_mouse(qtbot):
    tl = TimelineView(CLASSES, class_colors(len(CLASSES)), frames=200)
    qtbot.addWidget(tl)
    tl.resize(700, 200)
    tl.show()
    qtbot.waitExposed(tl)
    act = ActivityBuffer(200, len(CLASSES))
    for f in range(300):  # 30 s in; the timeline shows 10..30 s
        act.push(f, [])
    tl.update_view(act)
    vb = tl.getPlotItem().getViewBox()

    def pixel_at(x_seconds):
        return tl.mapFromScene(vb.mapViewToScene(QtCore.QPointF(x_seconds, 2.5)))

    got = []
    tl.seek_requested.connect(got.append)
    qtbot.mouseClick(tl.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=pixel_at(-5.05))
    assert got == []  # live input: clicks do nothing
    tl.set_seekable(True)
    with qtbot.waitSignal(tl.seek_requested, timeout=30000) as sig:
        qtbot.mouseClick(tl.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=pixel_at(-5.05))
    # frame 299 ends at "now" (30.0 s); 5.05 s before is inside frame 249 (24.9-25.0 s)
    assert sig.args[0] == pytest.approx(24.9, abs=0.11)
    assert tl.time_at(-5.05) == pytest.approx(24.9)
    assert tl.time_at(-0.01) == pytest.approx(29.9) and tl.time_at(-19.99) == pytest.approx(10.0)
    assert tl.time_at(1.0) is None and tl.time_at(-25.0) is None
    # after a seek to 100 s that landed at frame 300, frames map to replay positions from there
    tl.set_time_origin(300, 100.0)
    for f in range(300, 320):
        act.push(f, [])
    tl.update_view(act)
    assert tl.time_at(-0.01) == pytest.approx(101.9)
