"""What every plug-in registry shares: an :class:`Entry` per option and a :class:`Registry`.

femo has one registry per plug-in role: the face detector (:mod:`.detectors`), the face
check after it (``detector.verify``, also there), the emotion classifier and fer's
backends (:mod:`.classifier`), identities and landmarks (:mod:`.extras`). Each entry
names its option, what the report's Method line calls it, its typed settings class,
the node code that builds it and the check that what it needs is installed; the
config, the node, the report and the bench read the entry instead of comparing names.

Code is named by dotted paths (``"femo.node.identity:Embedder"``) and loaded only when
called (:func:`load`): this package sits below the node, which it must not import.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from .errors import ConfigError


@functools.cache
def load(path: str) -> Callable[..., Any]:
    """The object a ``"package.module:name"`` path names (``name`` may be dotted,
    ``Class.method``), imported on first use."""
    module, _, name = path.partition(":")
    found: Any = importlib.import_module(module)
    for part in name.split("."):
        found = getattr(found, part)
    return found


@dataclass(frozen=True)
class Entry:
    """One option of a plug-in role: its name, settings, builder and needs."""

    name: str
    # What the report's Method line calls it.
    display: str
    # Its typed settings (a frozen dataclass); None where its settings are another
    # section's (the face check reads detector.verify_below and verify_min).
    settings: type | None
    # "module:callable" making the node's object for it; None: the option builds
    # nothing (identity=none, landmarks=none, detector.verify=none).
    builder: str | None = None
    # "module:callable(settings)" run before a run starts: what it needs is installed
    # (a one-line ConfigError where not).
    preflight: str | None = None
    # Whether building it loads TensorFlow.
    tensorflow: bool = False
    # Why there is no conf/<role>/<name>.yaml; None: there is one.
    no_preset: str | None = None
    # How ``femo bench`` measures it (the role's own facts); None: not measured apart.
    bench: Any = None
    # Settings it cannot run without, beyond its defaults (custom: a model file, its
    # input size and its outputs): an example the tests build and compose it with.
    example: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def builds(self) -> bool:
        """Whether the option makes anything on the node (``none`` options do not)."""
        return self.builder is not None

    def build(self, *args: Any) -> Any:
        """The node's object for this option (its builder called with ``args``); None for
        an option that builds nothing."""
        return None if self.builder is None else load(self.builder)(*args)

    def check_installed(self, settings: Any) -> None:
        """Run its preflight on ``settings``: a one-line ConfigError where what it needs
        is missing."""
        if self.preflight is not None:
            load(self.preflight)(settings)

    def loads_tensorflow(self, settings: Any) -> bool:
        """Whether building it with ``settings`` loads TensorFlow."""
        return self.tensorflow


E = TypeVar("E", bound=Entry)


class Registry(Generic[E]):
    """The options of one role, in the order messages list them."""

    def __init__(self, key: str, entries: tuple[E, ...], default: str) -> None:
        # The config key that chooses among them (``detector.name``), for messages.
        self.key = key
        # Looked up by scanning (a handful each): a test may swap the tuple for one with
        # an entry of its own (monkeypatch.setattr(REGISTRY, "entries", ...)).
        self.entries = entries
        # The option a run takes where none is chosen (conf/config.yaml's).
        self.default = default

    def __iter__(self) -> Iterator[E]:
        return iter(self.entries)

    def names(self) -> tuple[str, ...]:
        """The options' names, in the registry's order."""
        return tuple(e.name for e in self.entries)

    def entry(self, name: Any) -> E | None:
        """The entry of option ``name``; None where there is no such option."""
        return next((e for e in self.entries if e.name == name), None)

    def require(self, name: Any) -> E:
        """The entry of option ``name``; a one-line ConfigError listing the options where
        there is none (``detector.name must be 'haar', ... or 'none', not 'yolo'``)."""
        entry = self.entry(name)
        if entry is None:
            raise ConfigError(f"{self.key} must be {self.listed('or', quoted=True)}, not {name!r}")
        return entry

    def listed(self, last: str, quoted: bool = False) -> str:
        """The names as one phrase for messages: ``haar, mtcnn, blazeface and none``."""
        names = [repr(n) if quoted else n for n in self.names()]
        return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {last} {names[-1]}"


def settings_fields(cls: type) -> tuple[str, ...]:
    """The keys of a settings dataclass, in its fields' order."""
    return tuple(f.name for f in dataclasses.fields(cls))
