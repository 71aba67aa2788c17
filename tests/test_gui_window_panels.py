"""The window's panels and layout (Qt offscreen): the event log and its exports, class filtering across the panels,
"save view as PNG", the About panel, the dock layout remembered, the record-folder button, 1024x640 and below."""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before Qt is imported: these tests never need a display

import itertools
import json

import numpy as np
import pytest
import soundfile as sf
import torch
from helpers import make_checkpoint
from PySide6 import QtCore, QtGui, QtWidgets

from seld_live.cli import build_parser
from seld_live.events import Event
from seld_live.gui.about import about_html, app_version
from seld_live.gui.event_log import export_events
from seld_live.gui.window import MainWindow
from seld_live.launch import EngineFactory, RunOptions, build_engine
from seld_live.results import HopResult, TrackState


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("panels")
    model = make_checkpoint(d / "tiny.pt", threshold=0.3)
    scene = d / "scene.flac"
    sf.write(str(scene), np.zeros((24000 * 60, 4), np.float32), 24000)  # a minute: it runs through each test
    return model, scene


def make_window(qtbot, tmp_path, files, size=(1200, 780), settings_file="gui.ini") -> MainWindow:
    model, scene = files
    args = RunOptions.from_args(build_parser().parse_args(["--replay", str(scene), "--model", str(model), "--cpu"]))
    settings = QtCore.QSettings(str(tmp_path / settings_file), QtCore.QSettings.Format.IniFormat)
    settings.setValue("record_dir", str(tmp_path / "recordings"))
    win = MainWindow(build_engine(args), EngineFactory(args), settings=settings, autostart=False)
    qtbot.addWidget(win)
    win.resize(*size)
    win.show()
    qtbot.waitExposed(win)
    return win


def hops(n: int, start: int = 0) -> list[HopResult]:
    """Five tracks, one per class, at fixed directions."""
    out = []
    for f in range(start, start + n):
        tracks = [TrackState(k, k, f"class{k}", -120.0 + 60 * k, 10.0 * k - 20, 0.5 + 0.1 * k, f) for k in range(5)]
        ev = [Event(f, t.class_index, t.class_name, t.track_id, t.azimuth, t.elevation, t.confidence) for t in tracks]
        out.append(HopResult(f, f * 0.1, ev, tracks, levels_db=np.full(4, -20.0), clipped=np.zeros(4, bool)))
    return out


def test_the_event_log_shows_and_exports_what_was_shown_without_hidden_classes(files, qtbot, tmp_path):
    win = make_window(qtbot, tmp_path, files)
    for r in hops(12):
        win.apply([r])
    log = win.event_log
    assert len(log.entries()) == 60 and log.rows()[0] == ("00:00.0", "class0", "0", "-120°", "-20°", "0.50")
    assert log.rows()[-1] == ("00:01.1", "class4", "4", "+120°", "+20°", "0.90")
    # a click on class 1 in the legend hides it everywhere: map, table, timeline, charts, log and exports
    win.legend.toggle_class(1)
    assert win.map_view.hidden_classes == frozenset({1})
    assert {row[1] for row in win.table.rows()} == {"class0", "class2", "class3", "class4"}
    assert "class1" not in win.timeline.rows and not win.directions._shown[1]
    assert len(log.entries()) == 48 and all(e.class_index != 1 for _t, e in log.entries())
    log.refresh()
    assert "12 of hidden classes left out" in log.count_label.text()
    csv = win.export_events(tmp_path / "shown.csv")
    rows = [line.split(",") for line in csv.read_text().splitlines()]
    assert len(rows) == 48 and rows[0] == ["0", "0", "0", "-120", "-20"] and all(r[1] != "1" for r in rows)
    jl = win.export_events(tmp_path / "shown.jsonl")
    lines = [json.loads(line) for line in jl.read_text().splitlines()]
    assert len(lines) == 48 and lines[-1] == {"t": 1.1, "frame": 11, "class": "class4", "class_index": 4,
                                              "track": 4, "azimuth": 120.0, "elevation": 20.0, "confidence": 0.9}
    win.legend.toggle_class(1)  # shown again: back in the log
    assert len(log.entries()) == 60 and win.map_view.hidden_classes == frozenset()
    with pytest.raises(Exception, match=r"use \.csv or \.jsonl"):
        export_events(tmp_path / "x.txt", log.entries())
    win.close()


def test_save_view_as_png_and_the_about_panel(files, qtbot, tmp_path):
    win = make_window(qtbot, tmp_path, files)
    for r in hops(5):
        win.apply([r])
    out = win.save_view(tmp_path / "view.png")
    img = QtGui.QImage(str(out))
    assert not img.isNull() and img.width() == win.map_view.width() and img.height() == win.map_view.height()
    colors = {img.pixel(x, y) for x in range(0, img.width(), 7) for y in range(0, img.height(), 7)}
    assert len(colors) > 10  # the map, not a blank
    win.show_about()
    text = win._about.browser.toPlainText()
    assert f"seld-live {app_version()}" in text and "tiny.pt" in text and "DCASE MIC tetrahedron" in text
    assert "class0, class1, class2, class3, class4" in text
    assert "GPL version 3" in text and "gcompris-qt-data" in text and "CC-BY-3.0" in text  # the demo's sounds
    assert "seld-live" in about_html(None)  # without a model too
    win._about.close()
    win.close()


def test_the_panel_layout_is_remembered(files, qtbot, tmp_path):
    win = make_window(qtbot, tmp_path, files)
    assert win.docks["events"].toggleViewAction().text() == "Event log"
    win.docks["spectrogram"].show()
    win.docks["key"].show()
    win.docks["classes"].hide()
    win.removeDockWidget(win.docks["directions"])
    win.addDockWidget(QtCore.Qt.DockWidgetArea.RightDockWidgetArea, win.docks["directions"])
    win.docks["directions"].show()
    qtbot.waitUntil(lambda: win.docks["spectrogram"].isVisible())
    win.close()
    win2 = make_window(qtbot, tmp_path, files)
    assert not win2.docks["classes"].isVisible() and win2.docks["spectrogram"].isVisible()
    assert win2.dockWidgetArea(win2.docks["directions"]) == QtCore.Qt.DockWidgetArea.RightDockWidgetArea
    win2.reset_layout()
    assert win2.docks["classes"].isVisible() and not win2.docks["spectrogram"].isVisible()
    win2.close()


def test_the_record_folder_button_shows_an_icon(files, qtbot, tmp_path):
    win = make_window(qtbot, tmp_path, files)
    button = win.controls.widgetForAction(win.controls.act_folder)
    assert not button.icon().isNull() and "folder" in button.toolTip().lower()
    assert button.isVisible() and button.width() >= 16
    img = button.grab().toImage()
    painted = {img.pixel(x, y) for x in range(img.width()) for y in range(img.height())}
    assert len(painted) > 3  # something is drawn in it, not an empty square
    win.close()


def _toolbar_items_shown(win) -> list[str]:
    """Names of tool-bar controls pushed out of sight (into the extension menu, or past the window's edge)."""
    out = []
    for bar in (win.controls, win.source_bar, win.transport):
        if not bar.isVisible():
            continue
        for a in bar.actions():
            w = bar.widgetForAction(a)
            if w is None or a.isSeparator() or not a.isVisible():
                continue
            right = w.mapTo(win, QtCore.QPoint(w.width(), 0)).x()
            if not w.isVisible() or right > win.width():
                out.append(f"{bar.objectName()}:{a.text() or type(w).__name__}")
    return out


def test_everything_fits_at_1024x640(files, qtbot, tmp_path):
    win = make_window(qtbot, tmp_path, files, size=(1024, 640))
    win.run.start()
    qtbot.waitUntil(lambda: win.hops_seen > 3, timeout=30000)
    win.set_recording(True)  # the widest state: recording shown too
    assert win.status_labels["record"].isVisible()
    qtbot.waitUntil(lambda: win.width() == 1024 and win.height() == 640)
    qtbot.waitUntil(lambda: win.status.cut_labels() == [], timeout=30000)
    assert win.status.squeezed == set() and win.status_labels["record"].isVisible()  # every field, none cut
    assert _toolbar_items_shown(win) == []
    # the map's tick labels stay inside the map and apart; the legend needs no scrollbar; the table shows all
    rects = [r for _t, r in win.map_view.tick_label_rects("bottom")]
    assert rects and all(a.right() <= b.left() or b.right() <= a.left() for a, b in itertools.pairwise(rects))
    assert all(r.left() >= 0 and r.right() <= win.map_view.width() for r in rects)
    assert not win.legend.verticalScrollBar().isVisible()
    assert not win.table.horizontalScrollBar().isVisible()
    win.close()


def test_narrower_the_status_bar_drops_fields_instead_of_cutting_them(files, qtbot, tmp_path):
    win = make_window(qtbot, tmp_path, files, size=(1024, 640))
    win.run.start()
    qtbot.waitUntil(lambda: win.hops_seen > 3, timeout=30000)
    for w in (900, 800, 640):
        win.resize(w, 520)
        qtbot.waitUntil(lambda w=w: win.width() == w)
        QtWidgets.QApplication.processEvents()
        win.status.show_stats(win.engine.stats)
        # the bar lays out what it was given (the figures change as the stream runs: wait for the layout)
        qtbot.waitUntil(lambda: win.status.cut_labels() == [], timeout=30000)
        assert win.status_labels["state"].isVisible() and win.status_labels["device"].isVisible()
    assert "compute" in win.status.squeezed and "rate" in win.status.squeezed  # the least important first
    win.resize(1400, 800)
    qtbot.waitUntil(lambda: win.width() == 1400)
    QtWidgets.QApplication.processEvents()
    assert win.status.squeezed == set()  # and back when there is room
    win.close()


def _ink(img: QtGui.QImage, rect: QtCore.QRect, bg: QtGui.QColor) -> list[tuple[int, int]]:
    """Points of ``rect`` in ``img`` that differ clearly from the background ``bg``."""
    out = []
    for x in range(max(rect.left(), 0), min(rect.right() + 1, img.width())):
        for y in range(max(rect.top(), 0), min(rect.bottom() + 1, img.height())):
            c = img.pixelColor(x, y)
            if abs(c.red() - bg.red()) + abs(c.green() - bg.green()) + abs(c.blue() - bg.blue()) > 90:
                out.append((x, y))
    return out


def test_at_1024x640_the_speed_control_shows_with_the_shipped_model_name_and_long_names(files, qtbot, tmp_path):
    model, scene = files
    shipped = tmp_path / "seddoa_agg2.pt"  # the shipped model's name: longer than the test model's
    shipped.write_bytes(model.read_bytes())
    win = make_window(qtbot, tmp_path, (shipped, scene), size=(1024, 640))
    qtbot.waitUntil(lambda: win.width() == 1024 and win.height() == 640)

    def speed_inside() -> bool:
        QtWidgets.QApplication.processEvents()
        combo = win.transport.speed_combo
        right = combo.mapTo(win, QtCore.QPoint(combo.width(), 0)).x()
        return combo.isVisible() and right <= win.width() and combo.width() >= combo.sizeHint().width()

    qtbot.waitUntil(speed_inside, timeout=10000)
    assert _toolbar_items_shown(win) == []
    # a planar array and a long model file name do not push it out either: their names are elided
    win.source_bar.set_array("ReSpeaker USB Mic Array v2.0 (planar: no up/down)", "")
    win.source_bar.set_model("seddoa_agg2_respeaker_v2_home_classes_v4.pt", "", [])
    qtbot.waitUntil(speed_inside, timeout=10000)
    assert _toolbar_items_shown(win) == []
    assert "seddoa_agg2_respeaker_v2_home_classes_v4.pt" in win.source_bar.model_button.text()
    win.close()


def test_the_model_field_has_no_stray_mark_after_the_name(files, qtbot, tmp_path):
    model, scene = files
    shipped = tmp_path / "seddoa_agg2.pt"
    shipped.write_bytes(model.read_bytes())
    win = make_window(qtbot, tmp_path, (shipped, scene), size=(1024, 640))
    button = win.source_bar.model_button
    assert button.text() == button.shown_text() == "seddoa_agg2.pt"
    qtbot.waitUntil(lambda: button.isVisible() and button.width() >= button.sizeHint().width())
    img = button.grab().toImage()
    dpr = img.devicePixelRatio()
    assert dpr == 1.0
    bg = img.pixelColor(1, 1)
    text = button.text_rect()
    end = text.left() + button.fontMetrics().horizontalAdvance(button.text())
    # nothing between the name's last letter and the arrow: Qt's corner indicator sat there, read as a comma
    gap = QtCore.QRect(end + 2, 0, button.arrow_rect().left() - end - 3, img.height())
    assert gap.width() > 0 and _ink(img, gap, bg) == []
    # the arrow is there, centred on the text's line, not sitting on its baseline
    arrow = _ink(img, QtCore.QRect(button.arrow_rect().left() - 1, 0, button.ARROW_PX, img.height()), bg)
    assert arrow
    ys = [y for _x, y in arrow]
    assert abs((min(ys) + max(ys)) / 2 - img.height() / 2) <= 2.5, (min(ys), max(ys), img.height())
    win.close()
