"""The loss-design experiment (issue 18): the paper's seven SELD systems with one step budget, the same data,
network and schedule, on named grids of vocabularies and seeds, resumable; and the report of its results.

Modules: ``grid`` (systems, vocabularies, scales, grids), ``vocab`` (the 45-class subset of gm177),
``runner`` (data, one run, the results file), ``report`` (tables and plot), ``cli`` (the command).
"""

from .cli import main

__all__ = ["main"]
