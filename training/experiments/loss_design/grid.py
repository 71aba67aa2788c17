"""What the loss-design experiment trains: the seven systems, the vocabularies, the scales and the named grids.

A run is one (system, vocabulary, seed, step budget) at one scale (data, network, batch); ``chains`` orders a
grid's runs so that every aggregated-loss system follows the multi-task run it branches from.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

HERE = Path(__file__).parent


@dataclass(frozen=True)
class System:
    name: str
    arch: str
    loss: str

    @property
    def aggregated(self) -> bool:
        return self.loss in ("agg1", "agg2")


# the paper's seven systems ("Loss function design for SELD based on multi-task learning")
SYSTEMS = (
    System("ACCDOA", "accdoa", "accdoa"),
    System("mACCDOA", "maccdoa", "adpit"),
    System("EINV2", "einv2", "multitask"),
    System("EINV2-AGG1", "einv2", "agg1"),
    System("SEDDOA", "seddoa", "multitask"),
    System("SEDDOA-AGG1", "seddoa", "agg1"),
    System("SEDDOA-AGG2", "seddoa", "agg2"),
)
# beyond the paper: EINV2 with AGG2 keeps class-wise outputs, which the live model's rotated views average, so it is
# the EINV2 the app could ship (item 4); run by the "live" grid, never by the paper's grids
EXTRA_SYSTEMS = (System("EINV2-AGG2", "einv2", "agg2"),)
BY_NAME = {s.name: s for s in SYSTEMS + EXTRA_SYSTEMS}


def base_of(system: System) -> System | None:
    """The multi-task run an aggregated-loss system branches from (same architecture); None for the others."""
    if not system.aggregated:
        return None
    return next(s for s in SYSTEMS if s.arch == system.arch and s.loss == "multitask")


@dataclass(frozen=True)
class Vocab:
    name: str
    classes: str  # a class-list preset name or TOML path (training.synth.classes.load_class_list)
    base_seed: int  # synthesis seeds of train, val, test: +0, +1, +2


VOCABS = {
    "home13": Vocab("home13", "home13", 2000),
    # every 4th gm177 class (vocab.py): the middle of the class-count sweep
    "gm45": Vocab("gm45", str(HERE / "gm45.toml"), 3000),
    "gm177": Vocab("gm177", "gm177", 1000),
}


@dataclass(frozen=True)
class Split:
    clips: int
    seconds: float


@dataclass(frozen=True)
class Scale:
    """Data, network and optimiser of every run at this scale; the step budget is the grid's ``--steps``."""

    train: Split
    val: Split
    test: Split
    model_size: str
    batch_size: int
    lr: float
    chunk_seconds: float = 5.0
    hop_seconds: float = 2.5
    max_overlap: int = 3
    # share of the budget trained with the multi-task loss before an AGG system takes its own: the AGG run
    # continues its multi-task run's state from there, so the pair shares those steps exactly
    warmup_share: float = 0.25
    loader_workers: int = 0  # DataLoader processes (0: a prefetch thread, best on 2 cores)
    # the network's fields changed from its size (seld_live.models.config), as (field, value) pairs
    model_overrides: tuple[tuple[str, object], ...] = ()
    # the loss settings changed from the paper's (training.config.LossSection), as (field, value) pairs
    loss_overrides: tuple[tuple[str, object], ...] = ()
    data_of: str = ""  # the scale whose scenes this one trains and tests on ("": its own)


SCALES = {
    # 2 CPU cores: 96 min of training scenes, 138 steps of batch 16 per epoch; compact SEDDOA trains ~4.5 steps/s
    # with bf16 and the prefetch thread (bench/RESULTS.md; it was ~1.3 before), so at 5,000 steps the main grid
    # (each AGG run takes its multi-task run's first quarter) is about 125,000 steps, 8 h, and the sweep's 45-class
    # runs 2 h more: estimates from that rate, EINV2's slower step not counted
    "cpu": Scale(Split(96, 60.0), Split(8, 60.0), Split(16, 60.0), "compact", 16, 1e-3),
    # one GPU with 16 CPU cores beside it (loss_design_gpu.sh): 4x the scenes, so that a larger budget does not
    # repeat each chunk as often; same network
    "gpu": Scale(Split(384, 60.0), Split(16, 60.0), Split(32, 60.0), "compact", 16, 1e-3, loader_workers=1),
    # seconds of data and the tiny network: tests of the command
    "toy": Scale(Split(2, 6.0), Split(1, 6.0), Split(1, 6.0), "tiny", 4, 2e-3, chunk_seconds=2.0, hop_seconds=1.0,
                 max_overlap=2),
}

# the capacity control of EINV2's lead (issue 18, item 4): cpu's scenes and recipe, the compact SEDDOA widened to
# EINV2's parameter count (903 k against 914 k at 13 classes; compact SEDDOA has 459 k)
SCALES["cpu_wide"] = replace(SCALES["cpu"], data_of="cpu",
                             model_overrides=(("conv_channels", (22, 44, 88, 136)), ("tcn_channels", 136)))
# the multi-task PIT recipe that moved 177 classes in the probes (docs/RESULTS.md, "What moves 177 classes"): the SED
# term weighted as at 13 classes (beta 0.93) and the track permutation chosen by the SED term alone (pit_beta 1). It
# changes the multi-task systems (SEDDOA, EINV2) and so the AGG runs that branch from them; the class-wise losses
# (ACCDOA, mACCDOA) and the AGG losses themselves have no such setting. Not the paper's loss: a scale of its own
# beside the paper's, on the same scenes.
SED_PIT = (("beta", 0.93), ("pit_beta", 1.0))
SCALES["cpu_sedpit"] = replace(SCALES["cpu"], data_of="cpu", loss_overrides=SED_PIT)
SCALES["gpu_sedpit"] = replace(SCALES["gpu"], data_of="gpu", loss_overrides=SED_PIT)
# the same permutation with the SED term at 0.8: at 45 classes beta 0.93 learned the classes and no directions,
# the paper's 0.5 the directions and no classes, and 0.8 some of each and the best F20 (docs/RESULTS.md, "The
# SED-chosen permutation at 45 classes")
SED_PIT_80 = (("beta", 0.8), ("pit_beta", 1.0))
SCALES["cpu_sedpit80"] = replace(SCALES["cpu"], data_of="cpu", loss_overrides=SED_PIT_80)
SCALES["gpu_sedpit80"] = replace(SCALES["gpu"], data_of="gpu", loss_overrides=SED_PIT_80)


@dataclass(frozen=True)
class Grid:
    systems: tuple[str, ...]
    vocabs: tuple[str, ...]
    seeds: tuple[int, ...]
    scale: str  # the default scale (--scale overrides)
    steps: int  # the default budget (--steps overrides)


ALL = tuple(s.name for s in SYSTEMS)
SWEEP = ("SEDDOA", "SEDDOA-AGG2", "mACCDOA")
GRIDS = {
    "main": Grid(ALL, ("home13", "gm177"), (1, 2), "cpu", 5000),
    # the class-count sweep; its 13- and 177-class runs are the main grid's (same keys: trained once)
    "sweep": Grid(SWEEP, ("home13", "gm45", "gm177"), (1, 2), "cpu", 5000),
    # the candidates for the live model's loss beyond the paper's seven (item 4)
    "live": Grid(tuple(s.name for s in EXTRA_SYSTEMS), ("home13",), (1, 2), "cpu", 5000),
    "toy": Grid(("SEDDOA", "SEDDOA-AGG2", "ACCDOA"), ("home13", "gm45"), (1,), "toy", 6),
}


@dataclass(frozen=True)
class RunKey:
    """What identifies a run, in the results file and on disk."""

    system: str
    classes: str  # the vocabulary's name
    seed: int
    steps: int
    scale: str

    def as_dict(self) -> dict:
        return {"system": self.system, "classes": self.classes, "seed": self.seed, "steps": self.steps,
                "scale": self.scale}

    @classmethod
    def of(cls, record: dict) -> RunKey:
        return cls(record["system"], record["classes"], int(record["seed"]), int(record["steps"]), record["scale"])


def grid_names(names: str) -> list[Grid]:
    """``main`` or ``main,sweep``: the grids, in order (an unknown name raises KeyError)."""
    return [GRIDS[n] for n in names.split(",") if n]


def chains(grids: list[Grid], steps: int, scale: str) -> list[list[RunKey]]:
    """The runs of the grids, as chains that run in order: a multi-task system, then the AGG systems that
    branch from it (the base joins a chain even when only its AGG systems are asked for); every other system
    is a chain of its own. Chains are independent (``--shard`` splits them across processes); each run once."""
    out: list[list[RunKey]] = []
    seen: set[RunKey] = set()
    for grid in grids:
        for vocab in grid.vocabs:
            for seed in grid.seeds:
                wanted = [BY_NAME[n] for n in grid.systems]
                heads = []
                for s in wanted:
                    head = base_of(s) or s
                    if head not in heads:
                        heads.append(head)
                heads.sort(key=lambda h: (h.loss != "multitask", h.arch != "seddoa"))  # the paper's pair first
                for head in heads:
                    members = [head] + [s for s in wanted if base_of(s) == head]
                    keys = [RunKey(s.name, vocab, seed, steps, scale) for s in members]
                    new = [k for k in keys if k not in seen]
                    if new:
                        seen.update(keys)
                        out.append(keys)
    return out


# compute per step against compact SEDDOA (EINV2's two branches: twice, measured on the CPU)
ARCH_COST = {"einv2": 2.0}


def chain_cost(chain: list[RunKey]) -> float:
    """A chain's compute in full runs of compact SEDDOA at its budget: an AGG run trains only after the branch."""
    cost = 0.0
    for key in chain:
        system = BY_NAME[key.system]
        share = 1.0 - SCALES[key.scale].warmup_share if system.aggregated else 1.0
        cost += ARCH_COST.get(system.arch, 1.0) * share
    return cost


def shard(all_chains: list[list[RunKey]], k: int, n: int) -> list[list[RunKey]]:
    """Shard K of N: the chains assigned longest first to the least loaded shard (the same split in every
    process), in grid order."""
    loads = [0.0] * n
    owner = {}
    for i in sorted(range(len(all_chains)), key=lambda i: -chain_cost(all_chains[i])):
        j = loads.index(min(loads))
        loads[j] += chain_cost(all_chains[i])
        owner[i] = j
    return [c for i, c in enumerate(all_chains) if owner[i] == k]


def shard_loads(all_chains: list[list[RunKey]], n: int) -> list[float]:
    """Each shard's compute (``chain_cost`` units)."""
    return [sum(chain_cost(c) for c in shard(all_chains, k, n)) for k in range(n)]
