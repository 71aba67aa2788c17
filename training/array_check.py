"""Is an array usable for a model, and what will training make of it: the check before any synthesis or training.

    seld-train check-array ARRAY            # a preset name (dcase_mic, respeaker_v2, foa) or a TOML file
    python -m training.array_check ARRAY

Reports the mic count, the smallest and largest spacing, the spatial-aliasing frequency, planar or 3D, and the
symmetries the training augmentation can use (``seld_live.symmetry.array_symmetries``). Refuses, with one line and
exit status 1, geometries no model can localise with: fewer than 3 mics (a pair only gives a cone of
directions), mics in a line (the same: a linear array such as the PS3 Eye's only tells the angle to its axis),
coincident mics (under 5 mm apart: no time difference to measure), a spacing over 30 cm (phase aliases from
about 570 Hz, below most of the sounds), or a flat array that is not horizontal (it cannot tell a source from
its mirror image across its plane, and seld-live resolves that only for a horizontal plane, by folding every
direction above it). An FOA (B-format) array is checked by its format, not
its spacing: the microphone's own A-to-B conversion fixed the directions.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from seld_live.command import run_command
from seld_live.errors import GeometryError
from seld_live.geometry import SPEED_OF_SOUND, ArrayGeometry, load_array

MIN_MICS = 3
MIN_SPACING_M = 0.005
MAX_SPACING_M = 0.30
OFF_LINE_M = 0.005  # RMS distance of the mics from their best line under which they lie on it
FOA_CONVENTION = "ACN/SN3D"  # what the FOA features read (seld_live.features)
MAX_MICS_FOR_SYMMETRIES = 8  # the search tries every permutation of the mics: 8! is 40320 fits


class UnusableArrayError(GeometryError):
    """A geometry that no model could localise with."""


@dataclass(frozen=True)
class ArrayReport:
    name: str
    format: str  # "mic" or "foa"
    num_mics: int
    min_spacing_m: float  # 0 for FOA
    max_spacing_m: float
    aliasing_hz: float  # inf for FOA
    planar: bool
    rotations: int | None  # symmetries other than the identity; None where not searched
    reflections: int | None
    refusal: str | None  # why no model can be trained for it; None where usable

    @property
    def symmetries(self) -> str:
        if self.rotations is None or self.reflections is None:
            return f"not searched (more than {MAX_MICS_FOR_SYMMETRIES} mics)"
        if self.rotations + self.reflections == 0:
            return "none (only the identity): training sees each direction only as synthesised"
        return (f"{self.rotations + self.reflections + 1} (the identity, {self.rotations} rotations, "
                f"{self.reflections} reflections)")


def _refusal(geo: ArrayGeometry, lo: float, hi: float) -> str | None:
    if geo.format == "foa":
        if geo.convention.upper() != FOA_CONVENTION:
            return (f"B-format in {geo.convention or 'an unnamed convention'}; seld-live reads first-order "
                    f"ambisonics as {FOA_CONVENTION} (ACN order W, Y, Z, X): convert it (FuMa to ACN/SN3D)")
        return None
    n = len(geo.mic_spherical)
    if n < MIN_MICS:
        return f"{n} mics; at least {MIN_MICS} are needed (a pair only tells a cone of directions)"
    if geo.spread[0] < OFF_LINE_M:
        return (f"the {n} mics lie in a line: a linear array only tells the angle of a sound to its axis (a cone of "
                "directions), not where on that cone")
    if geo.is_flat and not geo.is_planar:
        return ("a flat array that is not horizontal: seld-live resolves a flat array's mirror ambiguity only about "
                "the horizontal plane; describe it lying flat (every mic at elevation 0)")
    if lo < MIN_SPACING_M:
        return f"two mics are {lo * 1000:.1f} mm apart: coincident (under {MIN_SPACING_M * 1000:.0f} mm)"
    if hi > MAX_SPACING_M:
        return (f"mics up to {hi * 100:.1f} cm apart: over {MAX_SPACING_M * 100:.0f} cm, phase aliases from "
                f"{SPEED_OF_SOUND / (2 * hi):.0f} Hz")
    return None


def array_report(geo: ArrayGeometry) -> ArrayReport:
    """What the check finds, refusal included (``check_array`` raises it)."""
    from seld_live.symmetry import array_symmetries

    lo, hi = geo.min_spacing, geo.max_spacing
    refusal = _refusal(geo, lo, hi)
    rotations = reflections = None
    if refusal is None and (geo.format == "foa" or len(geo.mic_spherical) <= MAX_MICS_FOR_SYMMETRIES):
        syms = [s for s in array_symmetries(geo) if not s.is_identity]
        rotations = sum(np.linalg.det(s.R) > 0 for s in syms)
        reflections = len(syms) - rotations
    return ArrayReport(name=geo.name, format=geo.format, num_mics=geo.num_channels, min_spacing_m=lo,
                       max_spacing_m=hi, aliasing_hz=geo.aliasing_frequency, planar=geo.is_planar,
                       rotations=None if rotations is None else int(rotations),
                       reflections=None if reflections is None else int(reflections), refusal=refusal)


def check_array(geo: ArrayGeometry, report: ArrayReport | None = None) -> ArrayReport:
    """The report of a usable array; UnusableArrayError (one line, naming the array) for one no model can use."""
    report = report or array_report(geo)
    if report.refusal:
        raise UnusableArrayError(f"array {geo.name}: unusable: {report.refusal}")
    return report


def format_report(r: ArrayReport) -> str:
    if r.format == "foa":
        lines = [f"array      {r.name}: B-format, 4 channels (W, Y, Z, X)",
                 "spacing    not applicable (checked by format: ACN/SN3D)",
                 "shape      3D: tells up from down"]
    else:
        lines = [f"array      {r.name}: {r.num_mics} mics",
                 f"spacing    {r.min_spacing_m * 100:.1f} cm smallest, {r.max_spacing_m * 100:.1f} cm largest",
                 f"aliasing   from {r.aliasing_hz:.0f} Hz (phase differences wrap above it)",
                 "shape      " + ("planar: cannot tell up from down (a source and its mirror image across the "
                                  "array's plane sound the same)" if r.planar else "3D: tells up from down")]
    if r.refusal:
        return "\n".join([*lines, f"refused    {r.refusal}"])
    return "\n".join([*lines, f"symmetries {r.symmetries}", "usable     yes"])


def main(argv: Sequence[str] | None = None, prog: str = "seld-train check-array") -> int:
    ap = argparse.ArgumentParser(prog=prog, description="Check a microphone array before training a model for it.")
    ap.add_argument("array", metavar="ARRAY", help="array preset name or TOML file")
    args = ap.parse_args(argv)

    def body() -> int:
        geo = load_array(args.array)
        report = array_report(geo)
        print(format_report(report), flush=True)  # the whole report, then the refusal as the error line
        check_array(geo, report)
        return 0

    return run_command(prog, body)


if __name__ == "__main__":
    sys.exit(main(prog="python -m training.array_check"))
