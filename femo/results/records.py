"""JSON objects as frozen, typed records: what the report files hold, read and written in
one place.

A :class:`Record` is a frozen dataclass whose fields are a JSON object's keys, in the
order femo writes them. Reading checks the keys (none unknown, none of ``REQUIRED``
missing) and builds nested records from the fields' types (a record, a list of records,
a mapping of records); writing gives back the same object. ``absent`` names the optional
keys an object did not have (an older femo wrote it), so a file reads and writes back
unchanged. A record also equals the plain dict of its JSON, so code and tests can still
compare it with one.
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import Any, TypeVar

R = TypeVar("R", bound="Record")


class RecordError(ValueError):
    """A JSON object femo did not write: a key missing or unknown, or the wrong kind."""


class Record:
    """Base of the typed JSON objects (subclasses are frozen dataclasses, ``eq=False``)."""

    REQUIRED: frozenset[str] = frozenset()
    absent: frozenset[str]

    @classmethod
    def keys_written(cls) -> tuple[str, ...]:
        """Every key of the JSON object, in the order femo writes them."""
        return _keys(cls)

    @classmethod
    def from_json(cls: type[R], data: Mapping[str, Any], where: str = "") -> R:
        """The record of a JSON object; :class:`RecordError` names a missing or unknown key."""
        where = where or cls.__name__
        if not isinstance(data, Mapping):
            raise RecordError(f"{where}: expected a JSON object, got {type(data).__name__}")
        known = cls.keys_written()
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise RecordError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}")
        missing = [k for k in known if k in cls.REQUIRED and k not in data]
        if missing:
            raise RecordError(f"{where}: required key(s) {', '.join(map(repr, missing))} missing")
        hints = _hints(cls)
        values = {k: _typed(hints[k], data[k], f"{where}: {k}") for k in known if k in data}
        values["absent"] = frozenset(k for k in known if k not in data)
        return cls(**values)

    @classmethod
    def of(cls: type[R], **values: Any) -> R:
        """A record of the keys given: any other key is absent (left out of its JSON)."""
        return cls.from_json(values)

    def to_json(self) -> dict[str, Any]:
        """The JSON object: every key but the absent ones, in the order femo writes them."""
        return {k: plain(getattr(self, k)) for k in self.keys_written() if k not in self.absent}

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Record):
            return type(other) is type(self) and other.to_json() == self.to_json()
        if isinstance(other, Mapping):
            return self.to_json() == plain(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


def plain(value: Any) -> Any:
    """A value as JSON: records as their objects, tuples as lists, recursively."""
    if isinstance(value, Record):
        return value.to_json()
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


@functools.cache
def _keys(cls: type) -> tuple[str, ...]:
    names = (f.name for f in fields(cls))
    return tuple(n for n in names if n != "absent" and not n.startswith("_"))


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _record_type(hint: Any) -> type[Record] | None:
    return hint if isinstance(hint, type) and issubclass(hint, Record) else None


def _typed(hint: Any, value: Any, where: str) -> Any:
    """``value`` with the records its field's type names built (None stays None)."""
    if value is None:
        return None
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return _typed(inner[0], value, where) if len(inner) == 1 else value
    record = _record_type(hint)
    if record is not None:
        return record.from_json(value, where)
    if origin in (list, Sequence, tuple) and args and _record_type(args[0]):
        return [args[0].from_json(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin in (dict, Mapping) and len(args) == 2 and _record_type(args[1]):
        return {k: args[1].from_json(v, f"{where}[{k!r}]") for k, v in value.items()}
    return value
