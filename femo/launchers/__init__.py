"""Launchers by name: ``local``, ``none``, ``slurm`` and ``sge`` (see :mod:`.base`).

A launcher is registered once: its module ``femo.launchers.<name>`` holds its
:class:`~.base.Launcher` subclass, which names its typed settings (``settings_class``,
one of :mod:`.settings`, on the base every launcher shares), and
``conf/launcher/<name>.yaml`` is its Hydra option, holding only what differs from the
settings' defaults (:func:`.settings.register_defaults` gives Hydra those). Modules are
imported only when their launcher is asked for, so ``femo status`` of a local run
never loads submitit.

This package's own import loads nothing else: submitit imports the SGE plugin
(:mod:`.sge_plugin`) each time it looks for plugins, so the functions here import
femo's config and launcher base only when called.

``femo.config`` may not import launchers (the layering rule in pyproject.toml): it keeps
the launcher section as a :class:`~femo.config.LauncherSection`, and
:func:`launcher_config` turns that into the launcher's typed settings.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config import LauncherSection
    from .base import Launcher
    from .settings import LauncherConfig


@functools.cache
def launcher_class(name: str) -> type[Launcher]:
    """The :class:`Launcher` subclass of ``femo.launchers.<name>``."""
    from ..config import ConfigError, launcher_names
    from .base import Launcher

    if name not in launcher_names():
        raise ConfigError(f"unknown launcher {name!r} (known: {', '.join(launcher_names())})")
    module = importlib.import_module(f"{__name__}.{name}")
    (cls,) = (
        c
        for c in vars(module).values()
        if inspect.isclass(c)
        and issubclass(c, Launcher)
        and c.__module__ == module.__name__
        and not inspect.isabstract(c)
    )
    return cls


def launcher_config(section: LauncherSection) -> LauncherConfig:
    """The launcher's typed settings of ``section`` (saved by any femo: old names are
    upgraded); a bad key or value is a ConfigError."""
    from ..config import build_config
    from .settings import upgraded

    cls = launcher_class(section.name)
    values = {**upgraded(section.settings), "name": cls.name}
    return build_config(cls.settings_class, values, "launcher")


def make_launcher(config: LauncherSection | LauncherConfig) -> Launcher:
    """The launcher of a run's launcher section (or of a launcher's typed settings)."""
    from ..config import LauncherSection

    if isinstance(config, LauncherSection):
        config = launcher_config(config)
    return launcher_class(config.name)(config)


def launcher_for(name: str) -> Launcher:
    """A launcher with default settings: enough to ask about tasks it submitted earlier."""
    from ..config import LauncherSection

    return make_launcher(LauncherSection(name))
