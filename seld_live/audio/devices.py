"""Input devices as PortAudio sees them: listing, and finding one by index or by name."""

from __future__ import annotations

import atexit
import threading
from dataclasses import dataclass

from seld_live.errors import AudioInputError


@dataclass(frozen=True)
class DeviceInfo:
    index: int
    name: str
    max_input_channels: int
    default_samplerate: float
    hostapi: str


def _sd():
    try:
        import sounddevice
    except OSError as e:  # PortAudio library missing
        raise AudioInputError(f"audio capture is unavailable: {e}") from None
    return sounddevice


# stops of capture streams that never returned (their sound server died); while one is stuck, re-initialising
# PortAudio (Pa_Terminate) would wait for it for ever, so the device list is not refreshed
STUCK_STREAMS: list[threading.Thread] = []


def portaudio_stuck() -> bool:
    return any(t.is_alive() for t in STUCK_STREAMS)


def forget_portaudio_at_exit(sd) -> None:
    """At exit sounddevice stops its last stream and terminates PortAudio; with a stream stuck on a dead sound
    server both wait for ever and the process never exits. Once one is stuck, PortAudio is left to the OS."""
    handler = getattr(sd, "_exit_handler", None)
    if handler is not None:
        atexit.unregister(handler)


def list_input_devices(refresh: bool = False) -> list[DeviceInfo]:
    """Input devices; ``refresh`` re-initialises PortAudio first (only while no stream is open, and never while
    a stream of a lost device is stuck: then the list PortAudio has is given)."""
    sd = _sd()
    # PortAudio enumerates once at start: a device or sound server that appeared later needs the refresh
    if refresh and not portaudio_stuck():
        sd._terminate()
        sd._initialize()
    apis = sd.query_hostapis()
    out = []
    for d in sd.query_devices():
        if d["max_input_channels"] > 0:
            out.append(DeviceInfo(int(d["index"]), str(d["name"]), int(d["max_input_channels"]),
                                  float(d["default_samplerate"]), str(apis[d["hostapi"]]["name"])))
    return out


def format_device_table(devices: list[DeviceInfo]) -> str:
    """``seld-live --list-devices``; a device known as an array (a preset's ``device_names``) says which."""
    from seld_live.geometry import device_preset

    if not devices:
        return "no input devices found"
    rows = [f"{'index':>5}  {'channels':>8}  {'default rate':>12}  {'host API':<10}  name"]
    for d in devices:
        preset = device_preset(d.name)
        rows.append(f"{d.index:>5}  {d.max_input_channels:>8}  {d.default_samplerate:>10.0f} Hz  "
                    f"{d.hostapi:<10}  {d.name}" + (f"  (array {preset.key})" if preset else ""))
    return "\n".join(rows)


def _matches(devices: list[DeviceInfo], spec: int | str) -> bool:
    text = str(spec).strip()
    if text.isdigit():
        return any(d.index == int(text) for d in devices)
    return any(text.lower() in d.name.lower() for d in devices)


def find_input_device(spec: int | str) -> DeviceInfo:
    """A device by index ('3') or by name: an exact name first, else a unique case-insensitive substring.

    Called before a stream is opened, so a miss may re-enumerate: the device may have appeared since start-up.
    """
    devices = list_input_devices()
    if not _matches(devices, spec):
        devices = list_input_devices(refresh=True)
    if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit()):
        idx = int(spec)
        for d in devices:
            if d.index == idx:
                return d
        raise AudioInputError(f"unknown input device {idx} (see seld-live --list-devices)")
    name = str(spec).strip()
    exact = [d for d in devices if d.name == name]
    if exact:
        return exact[0]
    sub = [d for d in devices if name.lower() in d.name.lower()]
    if len(sub) == 1:
        return sub[0]
    if not sub:
        raise AudioInputError(f"unknown input device '{name}' (see seld-live --list-devices)")
    names = ", ".join(f"{d.index}: {d.name}" for d in sub)
    raise AudioInputError(f"input device '{name}' is ambiguous ({names}); give its index")
