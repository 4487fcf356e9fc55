"""Launchers by name: ``local``, ``none``, ``slurm`` and ``sge`` (see :mod:`.base`)."""

from __future__ import annotations

import importlib

from ..config import LAUNCHER_CONFIGS, LauncherConfig
from .base import Launcher

_CLASSES = {
    "local": "femo.launchers.local:LocalLauncher",
    "none": "femo.launchers.none:NoneLauncher",
    "slurm": "femo.launchers.slurm:SlurmLauncher",
    "sge": "femo.launchers.sge:SgeLauncher",
}


def launcher_class(name: str) -> type[Launcher]:
    """The :class:`Launcher` subclass registered under ``name``."""
    module, _, cls = _CLASSES[name].partition(":")
    return getattr(importlib.import_module(module), cls)


def make_launcher(config: LauncherConfig) -> Launcher:
    return launcher_class(config.name)(config)


def launcher_for(name: str) -> Launcher:
    """A launcher with default settings: enough to ask about tasks it submitted earlier."""
    return make_launcher(LAUNCHER_CONFIGS[name]())
