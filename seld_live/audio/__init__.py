"""Audio sources for the live engine: device capture, file replay, ring buffer, streaming resampling."""

from seld_live.audio.base import AudioBlock, AudioSource, parse_channels
from seld_live.audio.file import FileSource, parse_speed

__all__ = ["AudioBlock", "AudioSource", "DeviceSource", "FileSource", "list_input_devices", "parse_channels",
           "parse_speed"]


def __getattr__(name: str):
    # sounddevice loads PortAudio on import; only pay for it when capturing
    if name == "DeviceSource":
        from seld_live.audio.capture import DeviceSource

        return DeviceSource
    if name == "list_input_devices":
        from seld_live.audio.devices import list_input_devices

        return list_input_devices
    raise AttributeError(name)
