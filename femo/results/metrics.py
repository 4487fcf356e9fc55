"""``report/metrics.json``: what a report holds, read and written in one place.

:class:`Metrics` is the file as a typed, frozen object, and also a read-only mapping of
the file's JSON (``metrics["accuracy"]``), so code written against the dict keeps
working. :func:`read_metrics` and :meth:`Metrics.write` are the only reader and writer:
the keys and their order are those femo writes today, and a file an older femo wrote
(without the keys added since) reads and writes back with the same keys and values.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from ..rundir import write_json

METRICS_FILE = "metrics.json"

T = TypeVar("T", bound="_Record")


class MetricsError(ValueError):
    """A ``metrics.json`` (or its dict) that femo did not write: a key missing or unknown."""


class _Record:
    """A JSON object as a frozen dataclass: its fields are the object's keys, in order.

    ``absent`` names the optional keys the object did not have (an older femo wrote it);
    they are left out again by :meth:`to_json`, so a file reads and writes back unchanged.
    """

    REQUIRED: frozenset[str] = frozenset()
    absent: frozenset[str]

    @classmethod
    def keys_written(cls) -> tuple[str, ...]:
        """Every key of the JSON object, in the order femo writes them."""
        names = (f.name for f in fields(cls))  # type: ignore[arg-type]
        return tuple(n for n in names if n != "absent" and not n.startswith("_"))

    @classmethod
    def _fields_of(cls: type[T], data: Mapping[str, Any], where: str) -> dict[str, Any]:
        """``data``'s values by field, checked: no required key missing, no unknown key."""
        if not isinstance(data, Mapping):
            raise MetricsError(f"{where}: expected a JSON object, got {type(data).__name__}")
        known = cls.keys_written()
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise MetricsError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}")
        missing = [k for k in known if k in cls.REQUIRED and k not in data]
        if missing:
            raise MetricsError(f"{where}: required key(s) {', '.join(map(repr, missing))} missing")
        values = {k: data[k] for k in known if k in data}
        values["absent"] = frozenset(k for k in known if k not in data)
        return values

    def to_json(self) -> dict[str, Any]:
        """The JSON object: every key but the absent ones, in the order femo writes them."""
        return {k: _plain(getattr(self, k)) for k in self.keys_written() if k not in self.absent}


def _plain(value: Any) -> Any:
    """A field's JSON value (a nested record as its object)."""
    if isinstance(value, _Record):
        return value.to_json()
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class ClassFigures(_Record):
    """One class's row of ``per_class``: None (n/a) for a class without support."""

    REQUIRED = frozenset({"precision", "recall", "f1", "support"})

    precision: float | None
    recall: float | None
    f1: float | None
    support: int
    recall_ci: list[float] | None = None
    absent: frozenset[str] = frozenset()

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str = "per_class") -> ClassFigures:
        """The row of a class from its JSON object; :class:`MetricsError` if malformed."""
        return cls(**cls._fields_of(data, where))


@dataclass(frozen=True, eq=False, kw_only=True)
class Metrics(_Record, Mapping[str, Any]):
    """The content of ``metrics.json``.

    Only ``accuracy``, ``macro_f1``, ``n_videos`` and ``n_labelled`` are required (every
    femo wrote them); any other key may be absent from an older report, and then reads as
    None. Equal to a dict with the same JSON content.
    """

    REQUIRED = frozenset({"accuracy", "macro_f1", "n_videos", "n_labelled"})

    accuracy: float | None
    accuracy_scored: float | None = None
    n_videos: int
    n_labelled: int
    n_compared: int | None = None
    no_face: str | None = None
    coverage: float | None = None
    n_scored: int | None = None
    n_correct: int | None = None
    n_no_face: int | None = None
    n_person_absent: int | None = None
    n_failed: int | None = None
    n_missing: int | None = None
    n_missing_labelled: int | None = None
    per_class: Mapping[str, ClassFigures] | None = None
    macro_f1: float | None
    confusion: Mapping[str, Mapping[str, int]] | None = None
    accuracy_ci: list[float] | None = None
    macro_f1_ci: list[float] | None = None
    ci: dict[str, Any] | None = None
    partial: bool | None = None
    classes: list[str] | None = None
    emotions: list[str] | None = None
    unlabelled: list[str] | None = None
    missing_clips: list[str] | None = None
    unknown_labels: Any = None  # a list, or each clip's unknown label
    shards: dict[str, Any] | None = None
    clips_in_several_shards: list[str] | None = None
    labels_file: str | None = None
    predicted: dict[str, Any] | None = None
    clip_profiles: list[dict[str, Any]] | None = None
    method: str | None = None
    labels_line: str | None = None
    groups: list[dict[str, Any]] | None = None
    identities: dict[str, Any] | None = None
    timelines: list[dict[str, Any]] | None = None
    provenance: dict[str, Any] | None = None
    fit: dict[str, Any] | None = None
    settings_yaml: str | None = None
    config: dict[str, Any] | None = None
    throughput: dict[str, Any] | None = None
    over_time: list[dict[str, Any]] | None = None
    absent: frozenset[str] = frozenset()
    _json: dict[str, Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # The mapping view is read often (pages, sweep): the JSON is built once.
        object.__setattr__(self, "_json", _Record.to_json(self))

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str = METRICS_FILE) -> Metrics:
        """The metrics of a JSON object; :class:`MetricsError` names a missing or unknown key."""
        values = cls._fields_of(data, where)
        if values.get("per_class") is not None:
            values["per_class"] = {
                c: ClassFigures.from_json(row, f"{where}: per_class[{c!r}]")
                for c, row in values["per_class"].items()
            }
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        """The JSON object written to ``metrics.json`` (a fresh copy at the top level)."""
        return dict(self._json)

    def write(self, path: Path) -> None:
        """Write ``metrics.json`` atomically, as femo always has (2-space indent)."""
        write_json(path, self._json)

    def __getitem__(self, key: str) -> Any:
        return self._json[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._json)

    def __len__(self) -> int:
        return len(self._json)


def read_metrics(path: Path) -> Metrics:
    """Read a report's ``metrics.json`` (a file, or the report folder holding it)."""
    path = Path(path)
    if path.is_dir():
        path = path / METRICS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise MetricsError(f"{path}: not JSON ({exc})") from None
    return Metrics.from_json(data, str(path))
