"""What every audio source gives the engine: blocks of model-rate float32 audio with capture times.

Sources (device capture, file replay) feed the engine identically through the ``AudioSource`` protocol.
``read(n)`` returns exactly ``n`` samples of the selected channels at the model rate, or fewer only at the
end of a file, or ``None`` on timeout / when the source is exhausted (``finished``). A source that fails
mid-stream (device lost, truncated file) raises ``AudioInputError`` from ``read``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass
class AudioBlock:
    data: np.ndarray  # (samples, channels) float32 at the model rate, the selected channels in array order
    capture_time: float  # time.monotonic() at which the block's last sample was captured (replay: its due time)
    discontinuity: bool = False  # the block does not continue the previous one (seek, loop, lost audio)
    gap_samples: int = 0  # model-rate samples lost just before this block (the timeline skips them)
    position_s: float | None = None  # replay: file position of the block's first sample


@runtime_checkable
class AudioSource(Protocol):
    sample_rate: int  # model rate of the blocks
    num_channels: int  # selected channels
    description: str  # one line for logs and the window title
    realtime: bool  # audio arrives on its own clock (a device): falling behind costs audio, not time

    @property
    def overflows(self) -> int: ...  # input overflows reported by the driver (audio lost before us)

    @property
    def finished(self) -> bool: ...  # no more audio will come (end of file without loop)

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def read(self, num_samples: int, timeout: float | None = None) -> AudioBlock | None: ...

    def backlog_samples(self) -> int: ...  # model-rate samples ready to read without waiting


def parse_channels(spec: str) -> tuple[int, ...]:
    """'2,3,4,5' or '2-5' -> (2, 3, 4, 5): 1-based device channels."""
    from seld_live.errors import AudioInputError

    out: list[int] = []
    try:
        for part in spec.split(","):
            part = part.strip()
            if "-" in part:
                a, b = (int(v) for v in part.split("-", 1))
                if a > b:
                    raise AudioInputError(f"--channels: the range '{part}' runs backwards; write {b}-{a}, or list "
                                          f"the channels in array order ({','.join(map(str, range(a, b - 1, -1)))})")
                out.extend(range(a, b + 1))
            elif part:
                out.append(int(part))
    except ValueError:
        raise AudioInputError(f"--channels: expected channel numbers like 2,3,4,5 or 2-5, got '{spec}'") from None
    if not out or min(out) < 1:
        raise AudioInputError(f"--channels: channel numbers start at 1, got '{spec}'")
    if len(set(out)) != len(out):
        raise AudioInputError(f"--channels: a channel is listed twice in '{spec}'")
    return tuple(out)
