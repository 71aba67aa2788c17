"""The sweep's middle vocabulary: a subset of a class list, kept as a class-list file (``gm45.toml``).

    python -m training.experiments.loss_design.vocab > training/experiments/loss_design/gm45.toml

gm45 is every 4th class of gm177 in its order (0, 4, ..., 176): 32 General MIDI programs, two from each of
the 16 GM families (the families are runs of 8 programs), 12 percussion sounds spread over the drum keys, and
male speech. Taking every k-th keeps the mix of instruments, percussion and speech of the full list, so that
the sweep changes the class count rather than the kind of classes.
"""

from __future__ import annotations

import sys

from seld_live.paths import CLASSES

BLOCK = "\n[[class]]\n"


def subset_class_list(text: str, step: int, name: str, description: str) -> str:
    """Every ``step``-th ``[[class]]`` block of a class-list TOML, copied as written, under a new name."""
    _preamble, *blocks = text.split(BLOCK)  # the source list's own name and comments are replaced
    kept = blocks[::step]
    header = [f"# Every {step}th class of the {len(blocks)}-class list, in its order "
              "(training/experiments/loss_design/vocab.py wrote this file).",
              f'name = "{name}"', f'description = "{description}"', ""]
    return "\n".join(header) + "".join(BLOCK + b.rstrip("\n") + "\n" for b in kept)


def gm45() -> str:
    text = (CLASSES / "gm177.toml").read_text()
    return subset_class_list(text, 4, "gm45", "45 classes: every 4th class of gm177 (32 GM instruments and "
                             "effects, 12 GM percussion sounds, male speech)")


if __name__ == "__main__":
    sys.stdout.write(gm45())
