"""Tool bars: the stream controls, the input and model pickers, and the replay transport.

- ``ControlBar``: play/pause, stop, record (and its folder), the detection threshold (with "back to the model's
  own"), map or sphere.
- ``SourceBar``: the input (files and devices in one list, rescanned when it opens; devices with too few channels
  for the model are listed greyed out, saying why), "Open file", the model (a menu, a section per array) and
  the model's array.
- ``TransportBar``: the replay position (drag or click to seek), loop, speed; hidden for live input.

They only emit what the user asked for; the window turns that into engine and source calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from seld_live.audio.devices import DeviceInfo
from seld_live.geometry import device_preset
from seld_live.gui.theme import RECORD_STYLE, VIEW_STYLE

SPEEDS: tuple[float | str, ...] = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, "max")
SP = QtWidgets.QStyle.StandardPixmap
# widths that keep the input/model bar and the replay transport on one row at 1024 px, whatever the names
INPUT_CHARS = 14  # the input list's width in characters (longer names are elided, whole in the list)
MODEL_MAX_PX = 100  # the model's name beyond this is elided on the button (whole in its tooltip)
ARRAY_MAX_PX = 150  # the same for the array's name beside it


def speed_text(v: float | str) -> str:
    return "max" if v == "max" else f"{float(v):g}×"


def fmt_time(seconds: float) -> str:
    m, s = divmod(int(max(0.0, seconds)), 60)
    return f"{m:02d}:{s:02d}"


def _filled_icon(color: str, size: int, draw) -> QtGui.QIcon:
    """An icon of shapes filled with ``color``, drawn by ``draw(painter)`` on a transparent square."""
    pix = QtGui.QPixmap(size, size)
    pix.fill(QtCore.Qt.GlobalColor.transparent)
    p = QtGui.QPainter(pix)
    p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
    p.setBrush(QtGui.QColor(color))
    p.setPen(QtCore.Qt.PenStyle.NoPen)
    draw(p)
    p.end()
    return QtGui.QIcon(pix)


def _dot_icon(color: str, size: int = 12) -> QtGui.QIcon:
    return _filled_icon(color, size, lambda p: p.drawEllipse(1, 1, size - 2, size - 2))


def _glyph_icon(kind: str, color: str = "#d6d9df", size: int = 14) -> QtGui.QIcon:
    """Play, pause and stop drawn light on the dark theme (the style's own media icons are dark glyphs)."""
    m = size * 0.18

    def draw(p: QtGui.QPainter) -> None:
        if kind == "play":
            p.drawPolygon(QtGui.QPolygonF([QtCore.QPointF(m + 1, m), QtCore.QPointF(size - m, size / 2),
                                           QtCore.QPointF(m + 1, size - m)]))
        elif kind == "pause":
            w = (size - 2 * m) / 3
            p.drawRect(QtCore.QRectF(m, m, w, size - 2 * m))
            p.drawRect(QtCore.QRectF(size - m - w, m, w, size - 2 * m))
        else:
            p.drawRect(QtCore.QRectF(m, m, size - 2 * m, size - 2 * m))

    return _filled_icon(color, size, draw)


def _bar(bar: QtWidgets.QToolBar, name: str) -> None:
    bar.setObjectName(name)  # saveState/restoreState find tool bars by name
    bar.setMovable(False)
    bar.setToolButtonStyle(QtCore.Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    bar.setIconSize(QtCore.QSize(14, 14))


class ControlBar(QtWidgets.QToolBar):
    play_clicked = QtCore.Signal()  # play / pause (live: start / stop)
    stop_clicked = QtCore.Signal()
    record_toggled = QtCore.Signal(bool)
    record_folder_requested = QtCore.Signal()
    threshold_changed = QtCore.Signal(float)
    threshold_reset_requested = QtCore.Signal()
    view_chosen = QtCore.Signal(str)  # "map" or "sphere"

    def __init__(self, parent=None) -> None:
        super().__init__("Controls", parent)
        _bar(self, "controls")
        style = self.style()
        self._icons = {k: _glyph_icon(k) for k in ("play", "pause", "stop")}

        self.act_play = QtGui.QAction(self._icons["play"], "Play", self)
        self.act_play.setToolTip("Play / pause (Space)")
        self.act_play.triggered.connect(self.play_clicked)
        self.addAction(self.act_play)
        self.act_stop = QtGui.QAction(self._icons["stop"], "Stop", self)
        self.act_stop.setToolTip("Stop (S); a replay goes back to 0:00")
        self.act_stop.triggered.connect(self.stop_clicked)
        self.addAction(self.act_stop)

        self.act_record = QtGui.QAction(_dot_icon("#e04050"), "Rec", self)
        self.act_record.setCheckable(True)
        self.act_record.setToolTip("Record the raw input to FLAC (R)")
        self.act_record.triggered.connect(self.record_toggled)
        self.addAction(self.act_record)
        self.widgetForAction(self.act_record).setStyleSheet(RECORD_STYLE)
        # an icon, not "…": Qt drops a trailing ellipsis from a tool button's text, leaving an empty square
        self.act_folder = QtGui.QAction(style.standardIcon(SP.SP_DirOpenIcon), "Folder", self)
        self.act_folder.setToolTip("Choose the folder recordings go to")
        self.act_folder.triggered.connect(self.record_folder_requested)
        self.addAction(self.act_folder)
        self.widgetForAction(self.act_folder).setToolButtonStyle(QtCore.Qt.ToolButtonStyle.ToolButtonIconOnly)
        self.addSeparator()

        self.addWidget(QtWidgets.QLabel(" Threshold "))
        self.threshold_slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.threshold_slider.setRange(1, 99)
        self.threshold_slider.setFixedWidth(130)
        self.threshold_slider.setToolTip("Detection threshold on class activity (+ / −)")
        self.threshold_slider.valueChanged.connect(self._threshold_moved)
        self.addWidget(self.threshold_slider)
        self.threshold_label = QtWidgets.QLabel("0.50")
        self.threshold_label.setMinimumWidth(36)
        self.addWidget(self.threshold_label)
        self.act_threshold_reset = QtGui.QAction(style.standardIcon(SP.SP_BrowserReload), "Model's", self)
        self.act_threshold_reset.setToolTip("Back to the model's own threshold (0)")
        self.act_threshold_reset.triggered.connect(self.threshold_reset_requested)
        self.addAction(self.act_threshold_reset)
        self.addSeparator()

        group = QtGui.QActionGroup(self)
        self.act_map = QtGui.QAction("Map", self, checkable=True, checked=True)
        self.act_map.setToolTip("Azimuth / elevation map (1)")
        self.act_sphere = QtGui.QAction("Sphere", self, checkable=True)
        self.act_sphere.setToolTip("3D sphere (2)")
        for a, name in ((self.act_map, "map"), (self.act_sphere, "sphere")):
            group.addAction(a)
            self.addAction(a)
            self.widgetForAction(a).setStyleSheet(VIEW_STYLE)
            a.triggered.connect(lambda _=False, n=name: self.view_chosen.emit(n))
        self._model_threshold: float | None = None

    # --- state shown ---------------------------------------------------------------------------------
    def set_state(self, has_engine: bool, running: bool, paused: bool, replay: bool) -> None:
        """Play shows what a click does: pause while playing, play otherwise."""
        playing = running and not paused
        self.act_play.setEnabled(has_engine)
        self.act_play.setText("Pause" if playing and replay else "Stop" if playing else "Play")
        self.act_play.setIcon(self._icons["pause" if playing and replay else "stop" if playing else "play"])
        self.act_play.setToolTip("Pause (Space)" if playing and replay else "Stop (Space)" if playing
                                 else "Play (Space)")
        self.act_stop.setEnabled(has_engine and running)
        self.act_record.setEnabled(running)
        if not running:
            self.act_record.setChecked(False)

    def set_recording(self, on: bool) -> None:
        self.act_record.setChecked(on)

    def set_view(self, name: str) -> None:
        (self.act_sphere if name == "sphere" else self.act_map).setChecked(True)

    # --- threshold -------------------------------------------------------------------------------------
    @property
    def threshold(self) -> float:
        return self.threshold_slider.value() / 100.0

    def set_threshold(self, value: float, emit: bool = True) -> None:
        v = round(min(max(value, 0.01), 0.99) * 100)
        if not emit:
            self.threshold_slider.blockSignals(True)
            self.threshold_slider.setValue(v)
            self.threshold_slider.blockSignals(False)
            self._show_threshold(v)
        elif v == self.threshold_slider.value():
            self._threshold_moved(v)
        else:
            self.threshold_slider.setValue(v)

    def set_model_threshold(self, value: float | None) -> None:
        """The model's own threshold, named on the reset control."""
        self._model_threshold = value
        self.act_threshold_reset.setEnabled(value is not None)
        if value is not None:
            self.act_threshold_reset.setToolTip(f"Back to the model's own threshold, {value:.2f} (0)")
        self._show_threshold(self.threshold_slider.value())

    def _show_threshold(self, v: int) -> None:
        self.threshold_label.setText(f"{v / 100:.2f}")
        own = self._model_threshold is not None and round(self._model_threshold * 100) == v
        self.threshold_label.setToolTip("the model's own threshold" if own else
                                        "set here (saved for this model)")

    def _threshold_moved(self, v: int) -> None:
        self._show_threshold(v)
        self.threshold_changed.emit(v / 100.0)


class MenuButton(QtWidgets.QToolButton):
    """A tool button that opens its menu, with its text on the left and a down arrow centred on the right.

    Qt's own indicator for such a button is a few pixels in the bottom-right corner, right after the text: it
    read as a comma ("seddoa_agg2.pt,"). ``text()`` stays the whole text; a long one is elided when drawn.
    """

    ARROW_PX = 16  # room for the arrow on the right
    PAD_PX = 6

    def __init__(self, max_text_px: int = MODEL_MAX_PX, parent=None) -> None:
        super().__init__(parent)
        self.max_text_px = max_text_px
        self.setPopupMode(QtWidgets.QToolButton.ToolButtonPopupMode.InstantPopup)
        self.setToolButtonStyle(QtCore.Qt.ToolButtonStyle.ToolButtonTextOnly)

    def shown_text(self) -> str:
        """The text as drawn (elided beyond ``max_text_px``)."""
        return self.fontMetrics().elidedText(self.text(), QtCore.Qt.TextElideMode.ElideMiddle, self.max_text_px)

    def sizeHint(self) -> QtCore.QSize:
        w = self.fontMetrics().horizontalAdvance(self.shown_text()) + 2 * self.PAD_PX + self.ARROW_PX
        return QtCore.QSize(w, super().sizeHint().height())

    def minimumSizeHint(self) -> QtCore.QSize:
        return self.sizeHint()

    def text_rect(self) -> QtCore.QRect:
        return self.rect().adjusted(self.PAD_PX, 0, -self.ARROW_PX, 0)

    def arrow_rect(self) -> QtCore.QRect:
        r = self.rect()
        return QtCore.QRect(r.right() - self.ARROW_PX + 2, r.center().y() - 4, 9, 9)

    def paintEvent(self, _event: QtGui.QPaintEvent) -> None:
        p = QtWidgets.QStylePainter(self)
        opt = QtWidgets.QStyleOptionToolButton()
        self.initStyleOption(opt)
        opt.features &= ~QtWidgets.QStyleOptionToolButton.ToolButtonFeature.HasMenu  # no corner indicator
        opt.text = ""
        p.drawComplexControl(QtWidgets.QStyle.ComplexControl.CC_ToolButton, opt)  # the frame when hovered
        align = QtCore.Qt.AlignmentFlag.AlignVCenter | QtCore.Qt.AlignmentFlag.AlignLeft
        p.drawItemText(self.text_rect(), align, self.palette(), self.isEnabled(), self.shown_text(),
                       QtGui.QPalette.ColorRole.ButtonText)
        arrow = QtWidgets.QStyleOption()
        arrow.initFrom(self)
        arrow.rect = self.arrow_rect()
        p.drawPrimitive(QtWidgets.QStyle.PrimitiveElement.PE_IndicatorArrowDown, arrow)


class InputCombo(QtWidgets.QComboBox):
    """A combo box that says when its list is about to open (the window rescans the devices then)."""

    about_to_show = QtCore.Signal()

    def showPopup(self) -> None:
        self.about_to_show.emit()
        super().showPopup()


def device_problem(d: DeviceInfo, min_channels: int, what: str) -> str:
    """Why a device cannot feed the model ('' when it can)."""
    if d.max_input_channels >= min_channels:
        return ""
    return (f"{d.name} has {d.max_input_channels} input channel{'s' if d.max_input_channels != 1 else ''}; "
            f"{what} needs {min_channels}")


class SourceBar(QtWidgets.QToolBar):
    """The input (files and devices), Open file, the model and its array."""

    input_chosen = QtCore.Signal(object)  # ("file", Path) or ("device", DeviceInfo)
    open_file_requested = QtCore.Signal()
    refresh_requested = QtCore.Signal()
    model_chosen = QtCore.Signal(object)  # Path, or None for "open a model file"

    def __init__(self, parent=None) -> None:
        super().__init__("Input and model", parent)
        _bar(self, "source")
        style = self.style()
        self.addWidget(QtWidgets.QLabel(" Input "))
        self.input_combo = InputCombo()
        self.input_combo.setMinimumWidth(180)
        self.input_combo.setMaximumWidth(340)
        self.input_combo.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.input_combo.setMinimumContentsLength(INPUT_CHARS)
        self.input_combo.setToolTip("What to analyse: a file (replay) or an input device (live)")
        self.input_combo.activated.connect(self._activated)
        self.addWidget(self.input_combo)
        self.act_refresh = QtGui.QAction(style.standardIcon(SP.SP_BrowserReload), "Rescan", self)
        self.act_refresh.setToolTip("Look for input devices again (F5), e.g. after plugging one in")
        self.act_refresh.triggered.connect(self.refresh_requested)
        self.addAction(self.act_refresh)
        self.widgetForAction(self.act_refresh).setToolButtonStyle(QtCore.Qt.ToolButtonStyle.ToolButtonIconOnly)
        self.act_open = QtGui.QAction(style.standardIcon(SP.SP_DialogOpenButton), "Open", self)
        self.act_open.setToolTip("Replay an audio file (Ctrl+O)")
        self.act_open.triggered.connect(self.open_file_requested)
        self.addAction(self.act_open)
        self.addSeparator()
        self.addWidget(QtWidgets.QLabel(" Model "))
        self.model_button = MenuButton(MODEL_MAX_PX)
        self.model_menu = QtWidgets.QMenu(self.model_button)
        self.model_button.setMenu(self.model_menu)
        self.model_button.setText("–")
        self.addWidget(self.model_button)
        self.array_label = QtWidgets.QLabel("")
        self.array_label.setContentsMargins(2, 0, 6, 0)
        self.array_label.setStyleSheet("color: #9aa0aa;")
        self.addWidget(self.array_label)
        self.entries: list[tuple[str, object]] = []

    # --- inputs ------------------------------------------------------------------------------------------
    def set_inputs(self, files: Sequence[Path], devices: Sequence[DeviceInfo], current: tuple[str, object] | None,
                   min_channels: int, what: str = "the model") -> list[DeviceInfo]:
        """List ``files`` then every input device; a device with fewer than ``min_channels`` inputs is greyed
        out with the reason. ``current``: ("file", path) or ("device", index). Returns the usable devices."""
        combo = self.input_combo
        combo.blockSignals(True)
        combo.clear()
        self.entries = []
        for f in files:
            combo.addItem(f"File: {Path(f).name}")
            combo.setItemData(combo.count() - 1, str(f), QtCore.Qt.ItemDataRole.ToolTipRole)
            self.entries.append(("file", Path(f)))
        usable = []
        if devices and files:
            combo.insertSeparator(combo.count())
            self.entries.append(("separator", None))
        for d in devices:
            combo.addItem(f"{d.index}: {d.name} ({d.max_input_channels} ch, {d.hostapi})")
            i = combo.count() - 1
            self.entries.append(("device", d))
            why = device_problem(d, min_channels, what)
            if why:
                item = combo.model().item(i)
                item.setEnabled(False)
                combo.setItemData(i, why, QtCore.Qt.ItemDataRole.ToolTipRole)
            else:
                usable.append(d)
                preset = device_preset(d.name)
                if preset:  # picking it brings its array and model (launch.RunOptions.for_device)
                    combo.setItemData(i, f"a {preset.name}: read as array {preset.key}, with its model",
                                      QtCore.Qt.ItemDataRole.ToolTipRole)
        if not devices:
            combo.addItem("(no input device listed: Rescan)")
            combo.model().item(combo.count() - 1).setEnabled(False)
            self.entries.append(("none", None))
        combo.setCurrentIndex(self.index_of(current))
        combo.blockSignals(False)
        return usable

    def index_of(self, current: tuple[str, object] | None) -> int:
        if current is None:
            return -1
        kind, what = current
        for i, (k, v) in enumerate(self.entries):
            if k == kind == "file" and Path(v) == Path(what):
                return i
            if k == kind == "device" and v.index == what:
                return i
        return -1

    def item_enabled(self, i: int) -> bool:
        return bool(self.input_combo.model().item(i).isEnabled())

    def _activated(self, i: int) -> None:
        if 0 <= i < len(self.entries) and self.entries[i][0] in ("file", "device"):
            self.input_chosen.emit(self.entries[i])

    # --- model ---------------------------------------------------------------------------------------------
    def set_array(self, text: str, tooltip: str) -> None:
        """The array the model was trained for (the one to point at the scene); a long name is elided."""
        fm = self.array_label.fontMetrics()
        self.array_label.setText(fm.elidedText(text, QtCore.Qt.TextElideMode.ElideRight, ARRAY_MAX_PX))
        self.array_label.setToolTip(f"{text}\n{tooltip}" if self.array_label.text() != text else tooltip)

    def set_model(self, name: str, tooltip: str, groups: Sequence[tuple[str, Sequence[Path]]]) -> None:
        """Show the model in use; the menu offers the models of ``groups`` (array name, model files), a section
        per array, and "Open model file"."""
        self.model_button.setText(name)
        self.model_button.setToolTip(tooltip)
        self.model_button.updateGeometry()
        menu = self.model_menu
        menu.clear()
        for array, models in groups:
            menu.addSection(array)
            for m in models:
                a = menu.addAction(m.name)
                a.setToolTip(f"{m}\ntrained for the {array}")
                a.setCheckable(True)
                a.setChecked(m.name == name)
                a.triggered.connect(lambda _=False, p=m: self.model_chosen.emit(p))
        if groups:
            menu.addSeparator()
        a = menu.addAction("Open model file…\tCtrl+M")
        a.triggered.connect(lambda: self.model_chosen.emit(None))


class TransportBar(QtWidgets.QToolBar):
    """Replay: loop, position (drag or click to seek), speed."""

    seek_requested = QtCore.Signal(float)  # fraction of the file, 0..1
    speed_chosen = QtCore.Signal(object)  # float or "max"
    loop_toggled = QtCore.Signal(bool)

    def __init__(self, parent=None) -> None:
        super().__init__("Replay", parent)
        _bar(self, "replay")
        self.act_loop = QtGui.QAction("Loop", self)
        self.act_loop.setCheckable(True)
        self.act_loop.setToolTip("Replay the file in a loop (L)")
        self.act_loop.toggled.connect(self.loop_toggled)
        self.addAction(self.act_loop)
        self.widgetForAction(self.act_loop).setStyleSheet(VIEW_STYLE)
        self.slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.slider.setRange(0, 1000)
        self.slider.setPageStep(50)
        self.slider.setMinimumWidth(80)
        self.slider.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Fixed)
        self.slider.setToolTip("Position in the file (← / →: 5 s, Shift: 30 s, Home: start)")
        self.slider.sliderPressed.connect(self._pressed)
        self.slider.sliderReleased.connect(self._released)
        self.slider.actionTriggered.connect(self._action)
        self.addWidget(self.slider)
        self.position_label = QtWidgets.QLabel("00:00 / 00:00")
        self.position_label.setMinimumWidth(self.position_label.fontMetrics().horizontalAdvance("00:00 / 00:00") + 8)
        self.position_label.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.addWidget(self.position_label)
        self.addWidget(QtWidgets.QLabel(" Speed "))
        self.speed_combo = QtWidgets.QComboBox()
        for v in SPEEDS:
            self.speed_combo.addItem(speed_text(v), v)
        self.speed_combo.setCurrentIndex(SPEEDS.index(1.0))
        self.speed_combo.setToolTip("Replay speed ([ / ])")
        self.speed_combo.activated.connect(lambda _i: self.speed_chosen.emit(self.speed))
        self.addWidget(self.speed_combo)
        self._dragging = False

    @property
    def speed(self) -> float | str:
        return self.speed_combo.currentData()

    def set_speed(self, v: float | str, emit: bool = True) -> None:
        i = self.speed_combo.findText(speed_text(v))
        if i >= 0:
            self.speed_combo.setCurrentIndex(i)
            if emit:
                self.speed_chosen.emit(self.speed)

    def step_speed(self, step: int) -> None:
        i = min(max(self.speed_combo.currentIndex() + step, 0), self.speed_combo.count() - 1)
        self.set_speed(self.speed_combo.itemData(i))

    @property
    def loop(self) -> bool:
        return self.act_loop.isChecked()

    def set_loop(self, on: bool, emit: bool = True) -> None:
        if not emit:
            self.act_loop.blockSignals(True)
        self.act_loop.setChecked(on)
        self.act_loop.blockSignals(False)

    def set_position(self, position_s: float, duration_s: float) -> None:
        if not self._dragging:
            self.slider.blockSignals(True)
            self.slider.setValue(round(min(position_s / max(duration_s, 1e-9), 1.0) * 1000))
            self.slider.blockSignals(False)
        self.position_label.setText(f"{fmt_time(position_s)} / {fmt_time(duration_s)}")

    def _pressed(self) -> None:
        self._dragging = True

    def _released(self) -> None:
        self._dragging = False
        self.seek_requested.emit(self.slider.value() / 1000.0)

    def _action(self, action: int) -> None:
        # clicks on the groove and keyboard steps on the slider seek at once, to where the slider lands
        A = QtWidgets.QAbstractSlider.SliderAction
        if action in (A.SliderPageStepAdd, A.SliderPageStepSub, A.SliderSingleStepAdd, A.SliderSingleStepSub,
                      A.SliderToMinimum, A.SliderToMaximum):
            QtCore.QTimer.singleShot(0, lambda: self.seek_requested.emit(self.slider.value() / 1000.0))
