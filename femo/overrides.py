"""Overrides on a run's saved config: what ``femo reduce`` and ``femo run resume=`` may change.

A run's shards are fixed once it is planned. Keys that decide what the shards hold
(dataset root, detector, sampling, shard size) can never change on an existing run;
keys that decide how shards are made (launcher, device, batch size) can change when
the run is resumed; keys that decide how shards are read (mapping, reduce, labels)
can change on both. Every override is checked before anything happens.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

import yaml

from .config import EXECUTION_KEYS, SHARD_KEYS, ConfigError, absolute_path, conf_dir

Command = Literal["reduce", "resume"]
GROUPS = ("dataset", "detector", "sampling", "mapping", "reduce", "launcher", "identity")
_READING = (
    "mapping, reduce.*, report.*, "
    "dataset.{labels,label_column,video_column,unknown_labels,group_column,group_pattern,"
    "person_column}"
)
ACCEPTS = {"reduce": _READING, "resume": f"launcher, launcher.*, device, batch_size, {_READING}"}


def _matches(key: str, entries: tuple[str, ...]) -> bool:
    return any(key == e or key.startswith(e + ".") for e in entries)


def key_kind(key: str) -> str:
    """``shard``, ``execution`` or ``reduce``: what changing ``key`` touches."""
    if _matches(key, SHARD_KEYS) or key == "dataset":
        return "shard"
    if _matches(key, EXECUTION_KEYS):
        return "execution"
    return "reduce"


def names_key(overrides: list[str], key: str) -> bool:
    """Whether ``overrides`` set ``key`` (``key=...``, ``+key=...``, ``++key=...``)."""
    return any(o.split("=", 1)[0].lstrip("+~") == key for o in overrides if "=" in o)


def _parse(overrides: list[str]) -> list[tuple[str, Any]]:
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import OverrideType

    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except Exception as exc:  # hydra's parser errors are long; keep the first line
        raise ConfigError(
            f"cannot parse overrides {overrides}: {str(exc).splitlines()[0]}"
        ) from None
    pairs = []
    for o in parsed:
        if o.type == OverrideType.DEL:
            raise ConfigError(f"cannot delete {o.key_or_group!r} from a run's config")
        pairs.append((o.key_or_group, o.value()))
    # Hydra's order: group choices first, then the keys inside them.
    return sorted(pairs, key=lambda kv: "." in kv[0])


def _group_option(group: str, option: str) -> dict[str, Any]:
    path = conf_dir() / group / f"{option}.yaml"
    if not path.is_file():
        options = sorted(p.stem for p in (conf_dir() / group).glob("*.yaml"))
        raise ConfigError(f"no {group} config named {option!r} (options: {', '.join(options)})")
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def _unknown(key: str, cfg: dict[str, Any]) -> ConfigError:
    head = key.split(".")[0]
    if head == "launcher" and isinstance(cfg.get("launcher"), dict):
        launcher = cfg["launcher"]
        return ConfigError(
            f"unknown key {key!r} (launcher {launcher.get('name')} has: {', '.join(launcher)})"
        )
    return ConfigError(f"unknown key {key!r}")


def _set(cfg: dict[str, Any], key: str, value: Any) -> None:
    *parents, last = key.split(".")
    node = cfg
    for part in parents:
        node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            raise _unknown(key, cfg)
    if not isinstance(node, dict) or last not in node:
        raise _unknown(key, cfg)
    node[last] = value


def apply_overrides(
    saved: dict[str, Any], overrides: list[str], command: Command
) -> dict[str, Any]:
    """``saved`` (a :func:`femo.config.to_dict` dict) with ``overrides`` applied.

    Raises :class:`ConfigError` naming the first key that is unknown, or that
    ``command`` may not change.
    """
    allowed = {"reduce": ("reduce",), "resume": ("reduce", "execution")}[command]
    cfg = copy.deepcopy(saved)
    for key, value in _parse(overrides):
        head = key.split(".")[0]
        if head not in cfg:
            raise _unknown(key, cfg)
        kind = key_kind(key)
        if kind not in allowed:
            raise ConfigError(_refusal(command, key, kind))
        if key in GROUPS and isinstance(value, str):
            cfg[key] = _group_option(key, value)
        elif key in ("dataset.labels", "reduce.head"):
            _set(cfg, key, absolute_path(value))
        else:
            _set(cfg, key, value)
    return cfg


def _refusal(command: Command, key: str, kind: str) -> str:
    name = "femo reduce" if command == "reduce" else "femo run resume"
    if kind == "execution":
        return (
            f"{name} cannot change {key!r}: it decides how shards are made "
            f"(femo run resume=RUN_DIR {key}=... applies it to the shards not done yet)"
        )
    return (
        f"{name} cannot change {key!r}: it changes the shards, so start a new run "
        f"({command} accepts {ACCEPTS[command]})"
    )
