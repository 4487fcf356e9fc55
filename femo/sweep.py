"""``femo.sweep.SweepTableCallback``, the name Hydra configs written before femo 0.4 use;
the callback lives in :mod:`femo.results.sweep`."""

from .results.sweep import SweepTableCallback

__all__ = ["SweepTableCallback"]
