"""Making a dataset: clips in parallel worker processes, skipping those already written."""

from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from tqdm import tqdm

from seld_live.errors import SeldError
from training.synth.scene import generate_clip
from training.synth.writer import DatasetSpec, DatasetWriter

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


@dataclass
class SynthReport:
    made: int  # clips rendered by this run
    skipped: int  # clips found already written
    audio_seconds: float  # audio rendered by this run
    wall_seconds: float


class _Worker:
    """Per-process state: one sound bank (FluidSynth with the SoundFont loaded) reused for every clip."""

    def __init__(self, out: str, spec: DatasetSpec):
        self.writer = DatasetWriter(out, spec)
        self.spec = spec
        self.bank = spec.sound_bank()

    def make(self, index: int) -> float:
        clip = generate_clip(self.spec.config, self.bank, self.spec.array, self.spec.clip_rng(index))
        self.writer.write(index, clip)
        return len(clip.audio) / self.spec.config.sample_rate


_worker: _Worker | None = None


def _init_worker(out: str, spec: DatasetSpec) -> None:
    global _worker
    _worker = _Worker(out, spec)


def _make(index: int) -> tuple[int, float]:
    assert _worker is not None
    return index, _worker.make(index)


def synthesize(out: str | os.PathLike, spec: DatasetSpec, num_clips: int, workers: int = 1,
               progress: bool = True) -> SynthReport:
    """Write clips 0..num_clips-1 of the dataset ``spec`` under ``out`` (those missing), in ``workers``
    processes. Finished clips stay written if this is interrupted or fails."""
    if num_clips < 1:
        raise SeldError(f"number of clips must be at least 1, got {num_clips}")
    if workers < 1:
        raise SeldError(f"workers must be at least 1, got {workers}")
    spec.config.validate()
    writer = DatasetWriter(out, spec)
    writer.prepare(num_clips)
    todo = [i for i in range(num_clips) if not writer.is_done(i)]
    start = time.perf_counter()
    seconds = 0.0
    bar = tqdm(total=num_clips, initial=num_clips - len(todo), unit="clip", desc="seld-synth",
               disable=not progress, dynamic_ncols=True)
    try:
        if workers == 1 or len(todo) <= 1:
            worker = _Worker(str(out), spec) if todo else None
            for i in todo:
                assert worker is not None
                seconds += worker.make(i)
                bar.update(1)
        else:
            seconds = _run_pool(str(out), spec, todo, workers, bar)
    finally:
        bar.close()
    return SynthReport(len(todo), num_clips - len(todo), seconds, time.perf_counter() - start)


def _run_pool(out: str, spec: DatasetSpec, todo: list[int], workers: int, bar: tqdm) -> float:
    # one thread per worker process: the workers are the parallelism
    saved = {k: os.environ.get(k) for k in _THREAD_VARS}
    os.environ.update({k: "1" for k in _THREAD_VARS})
    seconds = 0.0
    try:
        ctx = multiprocessing.get_context("spawn")  # no FluidSynth or thread state inherited by fork
        pool = ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=ctx,
                                   initializer=_init_worker, initargs=(out, spec))
        try:
            pending = {pool.submit(_make, i) for i in todo}
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    _, s = fut.result()
                    seconds += s
                    bar.update(1)
        except BrokenProcessPool:
            raise SeldError("a worker process died (out of memory?); finished clips are kept, "
                            "run the same command to resume") from None
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return seconds


def default_workers() -> int:
    return max(1, min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1, 8))

