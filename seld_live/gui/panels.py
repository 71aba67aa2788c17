"""The views and panels of one model, and the history they draw.

The map (or the sphere) sits in the window's centre; the track table, event log, class legend, level meters,
timeline, direction charts and spectrogram go into the docks (``docks.py``). They are built for a model's
classes, array and channels, and kept when the next model has the same ones. Hops are folded into the trail and
activity buffers as they come (``ingest``); ``draw`` repaints the views at every frame and the panels at their
own slower pace, since results come at 10 Hz and numbers that change faster cannot be read anyway.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from PySide6 import QtGui, QtWidgets

from seld_live.gui.event_log import EventLogPanel
from seld_live.gui.history import ActivityBuffer, TrailBuffer, frames_for
from seld_live.gui.palette import class_colors
from seld_live.gui.view_legend import ViewLegend
from seld_live.gui.widgets import Legend, LevelMeters, TrackTable, connect_class_visibility
from seld_live.results import HopResult, TrackState

TABLE_EVERY_S = 0.2  # numbers changing faster than this cannot be read anyway
PANELS_EVERY_S = 0.06  # timeline, legend, meters: results come at 10 Hz; the views alone redraw at every frame
TRAIL_SECONDS = 10.0
TIMELINE_SECONDS = 20.0
CHART_SECONDS = 30.0

_GL_OK: bool | None = None


def opengl_available() -> bool:
    """Whether an OpenGL context can be made here (never on the offscreen platform)."""
    global _GL_OK
    if _GL_OK is None:
        app = QtWidgets.QApplication.instance()
        if app is None or app.platformName() in ("offscreen", "minimal"):
            _GL_OK = False
        else:
            _GL_OK = bool(QtGui.QOpenGLContext().create())
    return _GL_OK


def preload_views() -> None:
    """Import the plotting views now (the start-up does it while the model loads in its thread)."""
    import seld_live.gui.direction_chart
    import seld_live.gui.map_view
    import seld_live.gui.spectrogram
    import seld_live.gui.timeline  # noqa: F401


class Panels:
    """The per-model views (map, sphere) and dock panels, and the trails and activity they show.

    ``on_seek(seconds)``: a click on the timeline; ``on_export()``: the event log's export button;
    ``warn(text)``: says why the sphere cannot be shown.
    """

    def __init__(self, view_stack: QtWidgets.QStackedWidget, docks: dict[str, QtWidgets.QDockWidget],
                 on_seek: Callable[[float], Any], on_export: Callable[[], Any], warn: Callable[[str], Any]) -> None:
        self.view_stack, self.docks = view_stack, docks
        self._on_seek, self._on_export, self._warn = on_seek, on_export, warn
        self.trail_frames = frames_for(TRAIL_SECONDS)
        self.key = ViewLegend(TRAIL_SECONDS)
        docks["key"].setWidget(self.key)
        self.bound: tuple | None = None  # what the views were built for
        self.map_view: Any = None
        self.sphere_view: Any = None
        self.tracks: list[TrackState] = []
        self.view_updates = 0
        self._table_t = self._panels_t = 0.0
        self._panels_dirty = self._table_dirty = False

    def bind(self, det: Any) -> bool:
        """Build the views and panels for this model's classes, array and channels; False when the ones
        built already fit."""
        sig = (tuple(det.classes), det.array, int(det.num_channels), int(det.sample_rate))
        if sig == self.bound:
            return False
        self.bound = sig
        # the plotting views load here, not with the window: its frame paints before pyqtgraph is imported
        from seld_live.gui.direction_chart import DirectionChart
        from seld_live.gui.map_view import MapView
        from seld_live.gui.spectrogram import SpectrogramView
        from seld_live.gui.timeline import TimelineView

        self.classes = list(det.classes)
        self.colors = class_colors(len(self.classes))
        self.array = det.array
        channels = [str(c) for c in self.array.channels]
        self.trails = TrailBuffer(self.trail_frames, slots=64)
        self.activity = ActivityBuffer(frames_for(TIMELINE_SECONDS), len(self.classes))
        old = [w for w in (self.map_view, self.sphere_view) if w is not None]
        self.map_view = MapView(self.classes, self.colors, self.trail_frames, planar=self.array.is_planar,
                                array=self.array)
        self.sphere_view = None
        self.view_stack.insertWidget(1, self.map_view)
        self.timeline = TimelineView(self.classes, self.colors, frames_for(TIMELINE_SECONDS))
        self.timeline.seek_requested.connect(self._on_seek)
        self.table = TrackTable(self.colors)
        self.legend = Legend(self.classes, self.colors)
        self.meters = LevelMeters(det.num_channels, channels)
        self.event_log = EventLogPanel(self.classes, self.colors)
        self.event_log.export_requested.connect(self._on_export)
        self.directions = DirectionChart(self.classes, self.colors, CHART_SECONDS)
        self.spectrogram = SpectrogramView(det.sample_rate, channels, TRAIL_SECONDS)
        for name, widget in (("tracks", self.table), ("classes", self.legend), ("levels", self.meters),
                             ("events", self.event_log), ("timeline", self.timeline),
                             ("directions", self.directions), ("spectrogram", self.spectrogram)):
            w = self.docks[name].widget()
            self.docks[name].setWidget(widget)
            if w is not None:
                old.append(w)
        connect_class_visibility(self.legend, self.map_view, self.table, self.event_log, self.timeline,
                                 self.directions)
        for w in old:
            self.view_stack.removeWidget(w)
            w.setParent(None)
            w.deleteLater()
        self.view_stack.setCurrentWidget(self.map_view)
        return True

    # --- the view in the centre ------------------------------------------------------------------------------
    @property
    def view(self) -> str:
        return "sphere" if self.sphere_view is not None and self.view_stack.currentWidget() is self.sphere_view \
            else "map"

    def set_view(self, name: str) -> str:
        """Show the map or the sphere (the map when there is no OpenGL); returns the view shown."""
        if name == "sphere" and (self.sphere_view is not None or self._build_sphere()):
            self.view_stack.setCurrentWidget(self.sphere_view)
        else:
            self.view_stack.setCurrentWidget(self.map_view)
        self.redraw()
        return self.view

    def _build_sphere(self) -> bool:
        if not opengl_available():
            self._warn("The 3D view needs OpenGL, which this display does not offer; the map shows the same "
                       "tracks.")
            return False
        from seld_live.gui.sphere_view import SphereView  # pyqtgraph.opengl loads only when needed

        self.sphere_view = SphereView(self.classes, self.colors, self.array, self.trail_frames)
        self.view_stack.addWidget(self.sphere_view)
        connect_class_visibility(self.legend, self.sphere_view)
        return True

    def view_image(self) -> QtGui.QImage:
        """The view as drawn (the sphere's GL scene included)."""
        if self.view == "sphere":
            return self.sphere_view.grab_image()
        return self.view_stack.currentWidget().grab().toImage()

    def redraw(self) -> None:
        self.view_stack.currentWidget().update_view(self.tracks, self.trails)
        self.view_updates += 1

    # --- history ---------------------------------------------------------------------------------------------
    def clear(self) -> None:
        """Trails, timeline, charts, table: everything drawn goes."""
        self.trails.clear()
        self.activity.clear()
        self.tracks = []
        self.redraw()
        self.timeline.update_view(self.activity)
        self.directions.clear()
        self.spectrogram.clear()
        self.table.set_tracks([])
        self._table_dirty = False
        self.legend.set_active(set())

    def end_markers(self) -> None:
        """The stream ended: no marker may stay on the map as if it were still sounding (trails stay)."""
        self.tracks = []
        self.redraw()
        self.table.set_tracks([], self.trails)
        self._table_dirty = False
        self.legend.set_active(set())

    def ingest(self, r: HopResult, shown_t: float) -> None:
        """Fold one hop into the history (no drawing); its events are logged at ``shown_t``."""
        self.trails.push(r.frame, r.tracks)
        self.activity.push(r.frame, r.events)
        if len(r.levels_db):
            self.meters.set_levels(np.asarray(r.levels_db), np.asarray(r.clipped))
        if r.events:
            self.event_log.append(shown_t, r.events)
        self.tracks = list(r.tracks)

    def draw(self, fresh: Sequence[HopResult]) -> None:
        """Redraw after ``fresh`` hops were ingested: the view at once, the panels and table at their pace."""
        now = time.monotonic()
        if fresh:
            self.redraw()
            self.directions.ingest(fresh)
            self.spectrogram.ingest(fresh)
            self._panels_dirty = self._table_dirty = True
        if self._panels_dirty and now - self._panels_t >= PANELS_EVERY_S:
            self._panels_t = now
            self._panels_dirty = False
            self.timeline.update_view(self.activity)
            self.legend.set_active({t.class_index for t in self.tracks})
            self.meters.update()
            self.event_log.refresh()
            if self.docks["directions"].isVisible():
                self.directions.refresh()
            if self.docks["spectrogram"].isVisible():
                self.spectrogram.refresh()
        elif not fresh:
            self.meters.decay()
            self.meters.update()
        # the table follows at its own slower pace, and always catches up with the newest hop
        if self._table_dirty and (now - self._table_t >= TABLE_EVERY_S or len(self.tracks) != self.table.rowCount()):
            self._table_t = now
            self._table_dirty = False
            self.table.set_tracks(self.tracks, self.trails)
