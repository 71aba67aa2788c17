"""Tool bars: stream controls (start/stop, record, input device, threshold, view) and the replay transport.

They only emit what the user asked for; the window turns that into engine and source calls.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6 import QtCore, QtGui, QtWidgets

from seld_live.audio.devices import DeviceInfo
from seld_live.gui.theme import RECORD_STYLE, VIEW_STYLE

SPEEDS: tuple[float | str, ...] = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, "max")


def speed_text(v: float | str) -> str:
    return "max" if v == "max" else f"{float(v):g}×"


def fmt_time(seconds: float) -> str:
    m, s = divmod(int(max(0.0, seconds)), 60)
    return f"{m:02d}:{s:02d}"


def _dot_icon(color: str, size: int = 12) -> QtGui.QIcon:
    pix = QtGui.QPixmap(size, size)
    pix.fill(QtCore.Qt.GlobalColor.transparent)
    p = QtGui.QPainter(pix)
    p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
    p.setBrush(QtGui.QColor(color))
    p.setPen(QtCore.Qt.PenStyle.NoPen)
    p.drawEllipse(1, 1, size - 2, size - 2)
    p.end()
    return QtGui.QIcon(pix)


class ControlBar(QtWidgets.QToolBar):
    start_toggled = QtCore.Signal(bool)
    record_toggled = QtCore.Signal(bool)
    record_folder_requested = QtCore.Signal()
    device_chosen = QtCore.Signal(int)  # DeviceInfo.index
    threshold_changed = QtCore.Signal(float)
    view_chosen = QtCore.Signal(str)  # "map" or "sphere"
    help_requested = QtCore.Signal()

    def __init__(self, live: bool, min_channels: int, parent=None) -> None:
        super().__init__("Controls", parent)
        self.setObjectName("controls")
        self.setMovable(False)
        self.setToolButtonStyle(QtCore.Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.setIconSize(QtCore.QSize(14, 14))
        style = self.style()
        self._play_icon = style.standardIcon(QtWidgets.QStyle.StandardPixmap.SP_MediaPlay)
        self._stop_icon = style.standardIcon(QtWidgets.QStyle.StandardPixmap.SP_MediaStop)

        self.act_start = QtGui.QAction(self._play_icon, "Start", self)
        self.act_start.setCheckable(True)
        self.act_start.setToolTip("Start / stop the stream (S)")
        self.act_start.triggered.connect(self.start_toggled)
        self.addAction(self.act_start)

        self.act_record = QtGui.QAction(_dot_icon("#e04050"), "Rec", self)
        self.act_record.setCheckable(True)
        self.act_record.setToolTip("Record the raw input to FLAC (R)")
        self.act_record.triggered.connect(self.record_toggled)
        self.addAction(self.act_record)
        self.widgetForAction(self.act_record).setStyleSheet(RECORD_STYLE)
        act_folder = QtGui.QAction("…", self)
        act_folder.setToolTip("Choose the folder recordings go to")
        act_folder.triggered.connect(self.record_folder_requested)
        self.addAction(act_folder)
        self.addSeparator()

        self.min_channels = min_channels
        self.device_combo = QtWidgets.QComboBox()
        self.device_combo.setMinimumWidth(240)
        self.device_combo.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.device_combo.setToolTip(f"Input devices with at least {min_channels} input channels")
        self.device_combo.activated.connect(lambda i: self.device_chosen.emit(int(self.device_combo.itemData(i))))
        if live:
            self.addWidget(QtWidgets.QLabel(" Input "))
            self.addWidget(self.device_combo)
            self.addSeparator()

        self.addWidget(QtWidgets.QLabel(" Threshold "))
        self.threshold_slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.threshold_slider.setRange(1, 99)
        self.threshold_slider.setFixedWidth(150)
        self.threshold_slider.setToolTip("Detection threshold on class activity (+ / −)")
        self.threshold_slider.valueChanged.connect(self._threshold_moved)
        self.addWidget(self.threshold_slider)
        self.threshold_label = QtWidgets.QLabel("0.50")
        self.threshold_label.setMinimumWidth(36)
        self.addWidget(self.threshold_label)
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

        spacer = QtWidgets.QWidget()
        spacer.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Preferred)
        self.addWidget(spacer)
        act_help = QtGui.QAction("Keys", self)
        act_help.setToolTip("Keyboard shortcuts (F1)")
        act_help.triggered.connect(self.help_requested)
        self.addAction(act_help)

    # --- state shown ---------------------------------------------------------------------------------
    def set_running(self, running: bool) -> None:
        self.act_start.setChecked(running)
        self.act_start.setText("Stop" if running else "Start")
        self.act_start.setIcon(self._stop_icon if running else self._play_icon)
        self.act_record.setEnabled(running)
        if not running:
            self.act_record.setChecked(False)

    def set_recording(self, on: bool) -> None:
        self.act_record.setChecked(on)

    def set_view(self, name: str) -> None:
        (self.act_sphere if name == "sphere" else self.act_map).setChecked(True)

    def set_devices(self, devices: Sequence[DeviceInfo], current: DeviceInfo | None) -> list[DeviceInfo]:
        """List the devices with enough channels (plus the current one); returns what is listed."""
        listed = [d for d in devices if d.max_input_channels >= self.min_channels]
        if current is not None and all(d.index != current.index for d in listed):
            listed.append(current)
        self.device_combo.clear()
        for d in listed:
            self.device_combo.addItem(f"{d.index}: {d.name} ({d.max_input_channels} ch, {d.hostapi})", d.index)
        if current is not None:
            self.device_combo.setCurrentIndex(self.device_combo.findData(current.index))
        return listed

    # --- threshold -------------------------------------------------------------------------------------
    @property
    def threshold(self) -> float:
        return self.threshold_slider.value() / 100.0

    def set_threshold(self, value: float) -> None:
        v = round(min(max(value, 0.01), 0.99) * 100)
        if v == self.threshold_slider.value():
            self._threshold_moved(v)
        else:
            self.threshold_slider.setValue(v)

    def _threshold_moved(self, v: int) -> None:
        self.threshold_label.setText(f"{v / 100:.2f}")
        self.threshold_changed.emit(v / 100.0)


class TransportBar(QtWidgets.QToolBar):
    """Replay: play/pause, position (drag or click to seek), speed."""

    pause_toggled = QtCore.Signal(bool)
    seek_requested = QtCore.Signal(float)  # fraction of the file, 0..1
    speed_chosen = QtCore.Signal(object)  # float or "max"

    def __init__(self, parent=None) -> None:
        super().__init__("Replay", parent)
        self.setObjectName("replay")
        self.setMovable(False)
        self.setToolButtonStyle(QtCore.Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.setIconSize(QtCore.QSize(14, 14))
        style = self.style()
        self._pause_icon = style.standardIcon(QtWidgets.QStyle.StandardPixmap.SP_MediaPause)
        self._play_icon = style.standardIcon(QtWidgets.QStyle.StandardPixmap.SP_MediaPlay)
        self.act_pause = QtGui.QAction(self._pause_icon, "Pause", self)
        self.act_pause.setCheckable(True)
        self.act_pause.setToolTip("Pause / resume the replay (Space)")
        self.act_pause.triggered.connect(self.pause_toggled)
        self.addAction(self.act_pause)

        self.slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.slider.setRange(0, 1000)
        self.slider.setPageStep(50)
        self.slider.setToolTip("Position in the file (← / →: 5 s, Shift: 30 s, Home: start)")
        self.slider.sliderPressed.connect(self._pressed)
        self.slider.sliderReleased.connect(self._released)
        self.slider.actionTriggered.connect(self._action)
        self.addWidget(self.slider)
        self.position_label = QtWidgets.QLabel("00:00 / 00:00")
        self.position_label.setMinimumWidth(96)
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

    def set_state(self, running: bool, paused: bool) -> None:
        self.act_pause.setEnabled(running)
        self.act_pause.setChecked(paused)
        self.act_pause.setText("Play" if paused else "Pause")
        self.act_pause.setIcon(self._play_icon if paused else self._pause_icon)

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
