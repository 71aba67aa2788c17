"""How a training step computes on this machine: its arithmetic (bfloat16 autocast where the CPU has native
bfloat16, float32 where not), torch's thread counts beside the data pipeline, and numpy's BLAS kept to one thread.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")  # /proc/cpuinfo flags of native bfloat16 arithmetic


@dataclass(frozen=True)
class Precision:
    """The network's arithmetic in training: ``fp32``, ``bf16`` (autocast, same exponent range as float32: no
    gradient scaler) or ``fp16`` (CUDA autocast with a gradient scaler). ``why`` is said at the start."""

    name: str
    why: str

    @property
    def dtype(self) -> torch.dtype | None:
        """The autocast dtype; None: no autocast."""
        return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.name)

    @property
    def scaled(self) -> bool:
        return self.name == "fp16"


def cpu_bf16_flags(cpuinfo: str | os.PathLike = "/proc/cpuinfo") -> list[str]:
    """The CPU's native bfloat16 instruction sets among ``BF16_CPU_FLAGS``; none where they cannot be read (not
    Linux): float32 is the safe guess."""
    try:
        text = Path(cpuinfo).read_text(errors="replace")
    except OSError:
        return []
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return [f for f in BF16_CPU_FLAGS if f in flags]


def bf16_autocast_works() -> bool:
    """A small convolution under CPU bfloat16 autocast runs, gives bfloat16 close to float32, and back-propagates
    finite gradients (a torch build without the kernels fails here rather than in the first step). Uses its own
    random generator: the run's random state is untouched."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 8, 8, generator=g)
    w = torch.randn(4, 3, 3, 3, generator=g, requires_grad=True)
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = torch.nn.functional.conv2d(x, w)
        y.float().square().sum().backward()
    except (RuntimeError, NotImplementedError):
        return False
    ref = torch.nn.functional.conv2d(x, w.detach())
    return (y.dtype == torch.bfloat16 and bool(torch.allclose(y.float(), ref, rtol=0.05, atol=0.1))
            and bool(torch.isfinite(w.grad).all()))


def choose_precision(setting: str, device: torch.device, amp: bool = True) -> Precision:
    """``optim.precision`` on this device (see training.config); bfloat16 only where the hardware has it."""
    if setting == "fp32":
        return Precision("fp32", "asked (optim.precision)")
    if device.type == "cuda":
        if setting == "bf16":
            return Precision("bf16", "asked") if torch.cuda.is_bf16_supported() else \
                Precision("fp32", "this GPU has no bfloat16")
        return Precision("fp16", "CUDA mixed precision (amp)") if amp else Precision("fp32", "amp is off")
    if device.type != "cpu":
        return Precision("fp32", f"no reduced precision on {device.type}")
    flags = cpu_bf16_flags()
    if not flags:
        return Precision("fp32", f"this CPU has no native bfloat16 ({' or '.join(BF16_CPU_FLAGS)})")
    if not bf16_autocast_works():
        return Precision("fp32", "bfloat16 autocast failed its check on this CPU")
    return Precision("bf16", f"the CPU has {', '.join(flags)}")


def compute_threads(setting: int, device: torch.device, loaders: int) -> tuple[int, int]:
    """torch intra-op threads for a training step (while batches are being made beside it, and while they are
    not): ``setting`` for both, or (0) on the CPU every thread torch has less one per loading thread or worker
    process while they work (at least one), every thread while a prefetch thread rests."""
    if setting > 0:
        return setting, setting
    have = torch.get_num_threads()
    return (max(1, have - loaders), have) if device.type == "cpu" else (have, have)


@contextmanager
def kept_torch_threads() -> Iterator[None]:
    """The caller's torch thread count back after the training (which sets its own)."""
    before = torch.get_num_threads()
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """numpy's OpenBLAS at one thread while training. After every matrix product (the data pipeline's mel and
    GCC-PHAT products) its threads spin for a while and take the cores from the training step that follows
    (measured here: that step 35 % slower); the data side gains nothing from them. Restored afterwards; a no-op
    where no OpenBLAS is found (another BLAS, or not Linux)."""
    libs = _openblas_thread_controls()
    before = [get() for _, get in libs]
    for set_threads, _ in libs:
        set_threads(1)
    try:
        yield
    finally:
        for (set_threads, _), n in zip(libs, before, strict=True):
            set_threads(n)


def _openblas_thread_controls() -> list[tuple[Callable, Callable]]:
    """(set, get) thread-count functions of every OpenBLAS loaded in this process (numpy's and scipy's
    bundled copies name them with their own prefix and suffix)."""
    import ctypes

    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return []
    paths = sorted({line.split()[-1] for line in maps.splitlines() if "openblas" in line.rsplit("/", 1)[-1]})
    out = []
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        names = [(f"{p}set_num_threads{s}", f"{p}get_num_threads{s}") for p in ("scipy_openblas_", "openblas_")
                 for s in ("64_", "")]
        found = next(((getattr(lib, a), getattr(lib, b)) for a, b in names if hasattr(lib, a) and hasattr(lib, b)),
                     None)
        if found is not None:
            found[0].argtypes, found[1].restype = [ctypes.c_int], ctypes.c_int
            out.append(found)
    return out
