"""seld-live: real-time sound event localization and detection."""

from seld_live.events import Event

__all__ = ["Detector", "Event"]
__version__ = "0.1.0"


def __getattr__(name: str):
    # Detector pulls in torch; import it lazily so light tools (CSV I/O, geometry) stay fast.
    if name == "Detector":
        from seld_live.detector import Detector

        return Detector
    raise AttributeError(name)
