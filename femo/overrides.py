"""Overrides on a run's saved config: what ``femo reduce`` and ``femo run resume=`` may change.

A run's shards are fixed once it is planned. Keys that decide what the shards hold
(dataset root, detector, sampling, shard size) can never change on an existing run;
keys that decide how shards are made (launcher, device, batch size) can change when
the run is resumed; keys that decide how shards are read (mapping, reduce, labels)
can change on both; reference photos are embedded apart from the shards, so
``dataset.references`` is one of the last. An override that leaves the run's saved value
as it is is never refused. Every override is checked before anything happens.

``femo run``'s own overrides are checked the same way before Hydra composes them
(:func:`check_run_overrides`), and what Hydra still rejects comes out as one line
(:func:`run_hydra`).
"""

from __future__ import annotations

import copy
import difflib
import os
from collections.abc import Callable
from typing import Any, Literal

import yaml

from .config import (
    EXECUTION_KEYS,
    SHARD_KEYS,
    ConfigError,
    SamplingConfig,
    absolute_path,
    compose_option,
    conf_dir,
    from_dict,
    merge_defaults,
    yaml_defaults,
)
from .launchers.settings import launcher_defaults, old_spelling, upgraded

Command = Literal["reduce", "resume"]
GROUPS = ("dataset", "detector", "sampling", "mapping", "reduce", "launcher", "identity",
          "classifier", "landmarks")  # fmt: skip
_READING = (
    "mapping, reduce.*, report.*, "
    "dataset.{labels,label_column,video_column,unknown_labels,group_column,group_pattern,"
    "person_column,references}"
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


def expand_home(overrides: list[str]) -> list[str]:
    """``key=~/x`` as ``key='~/x'``: Hydra's grammar has no ``~`` in a value, and femo
    expands ``~`` in the paths it reads (:func:`femo.config.absolute_path`)."""
    out = []
    for o in overrides:
        key, sep, value = o.partition("=")
        home = sep and value.startswith("~") and not any(c in value for c in "',\"")
        out.append(f"{key}='{value}'" if home else o)
    return out


def _parse_error(override: str, exc: Exception) -> ConfigError:
    """One line for an override Hydra's grammar rejects: what is wrong, what is right."""
    key, sep, value = override.partition("=")
    if not sep:
        hint = f"e.g. dataset.root={override}" if "/" in override else "e.g. detector=mtcnn"
        return ConfigError(f"{override!r} is not an override: overrides are key=value ({hint})")
    lines = str(exc).splitlines()
    if lines and lines[0].startswith("LexerNoViableAltException") and "^" in "".join(lines[1:2]):
        at = lines[1].index("^") - len("LexerNoViableAltException: ")
        what = f"{override[at]!r} is not allowed there" if 0 <= at < len(override) else "bad syntax"
    else:
        what = lines[0] if lines else "bad syntax"
    quote = '"' if "'" in value else "'"
    return ConfigError(
        f"cannot read override {override!r}: {what}; quote the value: {key}={quote}{value}{quote}"
    )


def parse_overrides(overrides: list[str]) -> list[Any]:
    """Hydra's parsed overrides; one that its grammar rejects raises a one-line
    :class:`ConfigError` naming it and saying how to write it."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    parsed = []
    for override in overrides:
        try:
            parsed += parser.parse_overrides([override])
        except Exception as exc:  # hydra's parser errors are long and name no fix
            raise _parse_error(override, exc) from None
    return parsed


def _parse(overrides: list[str]) -> list[tuple[str, Any]]:
    from hydra.core.override_parser.types import OverrideType

    pairs = []
    for o in parse_overrides(expand_home(overrides)):
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
    values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if group == "launcher":
        return merge_defaults(launcher_defaults(option), values)
    return compose_option(group, values)


def _unknown(key: str, cfg: dict[str, Any], hint: str = "") -> ConfigError:
    """``unknown key`` naming the closest valid key and the keys of its section (or the
    new name of a renamed launcher key), then ``hint``."""
    if error := old_spelling(key):
        return error
    *parents, last = key.split(".")
    node: Any = cfg
    for depth, part in enumerate(parents):
        if not isinstance(node, dict) or not isinstance(node.get(part), dict):
            parents = parents[:depth]
            last = part
            break
        node = node[part]
    if not isinstance(node, dict):
        return ConfigError(f"unknown key {key!r}" + (f" ({hint})" if hint else ""))
    section = ".".join(parents)
    if section in ("launcher", "detector") and "name" in node:  # its keys are its own
        section = f"{section} {node['name']}"
    close = difflib.get_close_matches(last, list(node), n=1)
    prefix = ".".join([*parents, close[0]]) if close else ""
    guess = f"did you mean {prefix!r}? " if close else ""
    where = f"{section} has" if section else "keys are"
    also = f"; {hint}" if hint else ""
    return ConfigError(f"unknown key {key!r} ({guess}{where}: {', '.join(node)}{also})")


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
    pairs = _parse(overrides)
    if any(key.startswith("launcher.") for key, _ in pairs):  # every setting, today's names
        launcher = cfg.get("launcher") or {}
        cfg["launcher"] = {**launcher_defaults(launcher.get("name", "local")), **upgraded(launcher)}
    for key, value in pairs:
        if error := old_spelling(key, value):
            raise error
        head = key.split(".")[0]
        if head not in cfg:
            raise _unknown(key, cfg)
        kind = key_kind(key)
        if kind not in allowed:
            if _unchanged(cfg, key, value):
                continue
            raise ConfigError(_refusal(command, key, kind))
        _assign(cfg, key, value)
    return cfg


def _assign(cfg: dict[str, Any], key: str, value: Any) -> None:
    if key in GROUPS and isinstance(value, str):
        cfg[key] = _group_option(key, value)
    elif key in ("dataset.labels", "dataset.references", "reduce.head"):
        _set(cfg, key, absolute_path(value))
    else:
        _set(cfg, key, value)


def _unchanged(cfg: dict[str, Any], key: str, value: Any) -> bool:
    """Whether setting ``key`` to ``value`` leaves the config as it is (``detector=haar``
    on a Haar run, a relative path naming the same folder)."""
    changed = copy.deepcopy(cfg)
    try:
        _assign(changed, key, value)
        return from_dict(changed) == from_dict(cfg)
    except ConfigError:
        return False


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


def _run_defaults(choices: dict[str, list[str]]) -> list[dict[str, Any]]:
    """The configs ``femo run`` composes: config.yaml with each chosen group option."""
    root = yaml.safe_load((conf_dir() / "config.yaml").read_text(encoding="utf-8"))
    defaults = {k: v for d in root["defaults"] if isinstance(d, dict) for k, v in d.items()}
    root = merge_defaults(yaml_defaults(), root)
    n = max((len(v) for v in choices.values()), default=1)
    configs = []
    for i in range(n):
        cfg = copy.deepcopy(root)
        for group in GROUPS:
            options = choices.get(group) or [defaults[group]]
            cfg[group] = _group_option(group, options[min(i, len(options) - 1)])
        configs.append(cfg)
    return configs


def _has_key(cfg: dict[str, Any], key: str) -> bool:
    node: Any = cfg
    for part in key.split("."):
        if node is None:  # a null section (e.g. reduce.class_shares) takes any key
            return True
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def check_run_overrides(overrides: list[str], multirun: bool = False) -> None:
    """Check ``femo run``'s overrides before Hydra composes them: each parses, each group
    option exists, each key exists, several values only in a sweep (``multirun``).
    Raises a one-line :class:`ConfigError` that says what is right (the group's options;
    the closest key, its section's keys and the options that have it; brackets for a
    list)."""
    from hydra.core.override_parser.types import OverrideType

    parsed = [o for o in parse_overrides(overrides) if not o.key_or_group.startswith("hydra")]
    choices: dict[str, list[str]] = {}
    for o in parsed:
        if o.key_or_group in GROUPS and o.package is None and o.type != OverrideType.DEL:
            choices[o.key_or_group] = _values(o)
    configs = _run_defaults(choices)  # raises for an option that does not exist
    modes = {cfg["sampling"]["mode"] for cfg in configs}
    for o in parsed:
        if o.key_or_group == "sampling.mode" and o.type != OverrideType.DEL:
            modes = set(_values(o))
    for o in parsed:
        key = o.key_or_group
        value = None if o.is_sweep_override() else o.value()
        if error := old_spelling(key, value) or _unread_sampling_key(key, value, modes):
            raise error
        # +key / ++key add keys (femo's config checks them); ~key deletes
        plain_key = o.type == OverrideType.CHANGE and key not in GROUPS and o.package is None
        if plain_key and not any(_has_key(cfg, key) for cfg in configs):
            raise _unknown(key, configs[0], _options_with(key))
        if o.is_sweep_override() and not multirun:
            raise _several_values(o.input_line, configs[0] if plain_key else {})


def _options_with(key: str) -> str:
    """``add classifier=custom, which has it``: the options of ``key``'s group that have
    it, for a key the chosen option lacks ('' where none has it)."""
    group, _, rest = key.partition(".")
    if group not in GROUPS or not rest:
        return ""
    options = sorted(p.stem for p in (conf_dir() / group).glob("*.yaml"))
    having = [f"{group}={o}" for o in options if _has_key(_group_option(group, o), rest)]
    if not having:
        return ""
    which = ", ".join(having[:-1]) + f" or {having[-1]}" if len(having) > 1 else having[0]
    return f"add {which}, which {'have' if len(having) > 1 else 'has'} it"


def _several_values(override: str, cfg: dict[str, Any]) -> ConfigError:
    """``key=a,b`` outside a sweep: a list without its brackets, or a sweep without -m."""
    key, _, value = override.partition("=")
    node: Any = cfg
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, (list, tuple)):
        return ConfigError(f"{key} is a list: write it in brackets, {key}=[{value}]")
    quote = f", or quote a value that holds a comma ({key}='{value}')" if cfg else ""
    return ConfigError(
        f"{override} gives several values: add -m to run one per value "
        f"(femo run -m {override}){quote}"
    )


def _values(override: Any) -> list[str]:
    """A parsed override's value, or each value of a sweep, as text."""
    values = (
        override.sweep_string_iterator() if override.is_sweep_override() else [override.value()]
    )
    return [str(v) for v in values]


def _unread_sampling_key(key: str, value: Any, modes: set[str]) -> ConfigError | None:
    """``sampling.every_n`` where every sampling mode of the run is ``fps`` (or
    ``sampling.fps`` where it is ``every_n``): a key no mode reads, refused rather than
    ignored."""
    reads = SamplingConfig.KEYS_READ
    section, _, name = key.partition(".")
    owners = [mode for mode, keys in reads.items() if name in keys]
    if section != "sampling" or not owners or any(name in reads.get(m, (name,)) for m in modes):
        return None
    mode, other = sorted(modes)[0], owners[0]
    if value is None:
        example = f"sampling={other} reads it"
    elif other == "every_n":
        every = "every frame" if value == 1 else f"every {_ordinal(value)} frame"
        example = f"{every}: sampling=every_n sampling.every_n={value}"
    else:
        example = f"{value} frames a second: sampling=fps sampling.fps={value}"
    read = " and ".join(f"sampling.{k}" for k in reads[mode])
    return ConfigError(f"sampling={mode} reads {read}, not {key} ({example})")


def _ordinal(n: Any) -> str:
    if not isinstance(n, int):
        return f"{n}th"
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def run_hydra(main: Callable[[], Any]) -> None:
    """Run Hydra's app ``main``; its errors (raised, not printed, under HYDRA_FULL_ERROR)
    come out as one :class:`ConfigError`, in femo's words where a resolver raised one."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    full_error = os.environ.get("HYDRA_FULL_ERROR")
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        main()
    except (HydraException, OmegaConfBaseException) as exc:
        if full_error == "1":  # the user asked for Hydra's own report
            raise
        cause: BaseException | None = exc
        while cause is not None and not isinstance(cause, ConfigError):
            cause = cause.__cause__ or cause.__context__
        if cause is None:
            lines = [str(e).strip().splitlines()[0] for e in (exc, exc.__cause__) if e and str(e)]
            cause = ConfigError(lines[0] + (f" ({lines[1]})" if len(lines) > 1 else ""))
        raise cause from None
    finally:
        if full_error is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        else:
            os.environ["HYDRA_FULL_ERROR"] = full_error
