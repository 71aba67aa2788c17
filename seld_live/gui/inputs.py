"""The inputs the source bar offers: files replayed in this window (newest first) and the demo scene, then every
input device, those with too few channels for the model greyed out saying why.

PortAudio lists devices once; ``refresh`` asks it to rescan (a device plugged in since) only while no live
stream is open, and never while a new engine may be opening a device.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from seld_live.audio.devices import DeviceInfo
from seld_live.errors import SeldError

RECENT_FILES = 6


class InputList:
    """Files and devices for the window's input picker (``win.source_bar``)."""

    def __init__(self, win: Any, devices: Sequence[DeviceInfo] = ()) -> None:
        self.win = win
        self.devices: list[DeviceInfo] = list(devices)
        self.files: list[Path] = []  # files replayed in this window, newest first
        self.usable_devices: list[DeviceInfo] = []

    def remember_file(self, path: str | Path) -> None:
        path = Path(path)
        self.files = [path, *[f for f in self.files if f != path]][:RECENT_FILES]

    def choices(self) -> list[Path]:
        """The files to offer: those replayed here, then the demo scene."""
        from seld_live.launch import demo_scene

        files = list(self.files)
        try:
            demo = demo_scene()
            if demo not in files:
                files.append(demo)
        except SeldError:
            pass
        return files

    def current(self) -> tuple[str, object] | None:
        """("file", path) or ("device", index) of the running input."""
        e = self.win.engine
        if e is None:
            return None
        if self.win.replay:
            return ("file", Path(e.source.path))
        info = getattr(e.source, "info", None)
        return ("device", info.index) if info is not None else None

    def show(self) -> None:
        """Fill the input picker; devices are checked against the channels the model needs."""
        win, det = self.win, self.win.detector
        if det is not None:
            arr = det.array
            need = max(arr.channels) if len(arr.channels) else det.num_channels
            what = f"{win.model_name} (trained for the {arr.name})"
        else:
            need, what = 1, "the model"
        cur = self.current()
        devices = list(self.devices)
        if cur is not None and cur[0] == "device" and all(d.index != cur[1] for d in devices):
            devices.append(win.engine.source.info)
        self.usable_devices = win.source_bar.set_inputs(self.choices(), devices, cur, need, what)

    def refresh(self, explicit: bool = False) -> None:
        """List the input devices again; PortAudio rescans (a device plugged in since) when no stream is open."""
        win = self.win
        if win.building:
            return  # a build may be opening a device right now
        stream_open = win.running and not win.replay
        try:
            from seld_live.audio.devices import list_input_devices

            self.devices = list_input_devices(refresh=not stream_open)
        except SeldError as e:
            self.devices = []
            win.statusBar().showMessage(str(e), 8000)
        if explicit:
            found = f"{len(self.devices)} input device{'s' if len(self.devices) != 1 else ''}"
            win.statusBar().showMessage(found + (" (stop the live stream to look for new ones)" if stream_open
                                                 else ""), 5000)
        self.show()
