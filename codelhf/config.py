"""Config = one dataclass per entry point, overridden by a YAML file and then by `key=value` pairs.

Every trainer and the study keep their hyper-parameters in one dataclass with a docstring per field. This module
is the only way they are changed from outside: `load_config(PPOConfig, "ppo.yaml", ["lr=1e-5", "ema.eta=0.01"])`.
Values in `key=value` are parsed as YAML scalars, so `true`, `1e-5`, `[1, 5]` and `null` mean what they say.
"""

from __future__ import annotations

import copy
import dataclasses
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

from codelhf.errors import UserError

C = TypeVar("C")


def _set(obj: Any, dotted: str, value: Any, where: str) -> None:
    *parents, leaf = dotted.split(".")
    for name in parents:
        if not dataclasses.is_dataclass(obj) or not hasattr(obj, name):
            raise UserError(f"{where}: unknown config key {dotted!r}", _known_keys_hint(obj))
        obj = getattr(obj, name)
    names = {f.name: f for f in dataclasses.fields(obj)}
    if leaf not in names:
        raise UserError(f"{where}: unknown config key {dotted!r} for {type(obj).__name__}", _known_keys_hint(obj))
    if not names[leaf].init:
        raise UserError(f"{where}: {dotted!r} is derived from other settings and cannot be set",
                        f"{type(obj).__name__} computes it after parsing; set the settings it is made from")
    current = getattr(obj, leaf)
    if dataclasses.is_dataclass(current) and isinstance(value, dict):
        for k, v in value.items():
            _set(current, k, v, where)
        return
    setattr(obj, leaf, _coerce(value, typing.get_type_hints(type(obj)).get(leaf), dotted, where))


def _coerce(value: Any, hint: Any, key: str, where: str) -> Any:
    """Turn YAML values into the field's type where that is unambiguous (int → float, list → tuple)."""
    if value is None or hint is None:
        return value
    origin = typing.get_origin(hint)
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint is float and isinstance(value, str):  # YAML 1.1 reads 1e-5 (no dot) as a string
        try:
            return float(value)
        except ValueError:
            pass
    if hint is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if hint in (int, float, str, bool) and not isinstance(value, hint):
        raise UserError(f"{where}: config key {key!r} expects {hint.__name__}, got {value!r}")
    if origin is tuple and isinstance(value, list):
        return tuple(value)
    return value


def _known_keys_hint(obj: Any) -> str:
    if not dataclasses.is_dataclass(obj):
        return ""
    return "known keys: " + ", ".join(f.name for f in dataclasses.fields(obj) if f.init)


def load_config(cls: type[C], file: str | Path | None = None, overrides: Sequence[str] = (),
                flags: Mapping[str, Any] | None = None) -> C:
    """Defaults from `cls`, then the YAML `file`, then `key=value` overrides (dotted keys for nested configs), then
    `flags`: a command's own options that name config fields, already typed (None = the option was not given)."""
    config = cls()
    if file is not None:
        path = Path(file)
        if not path.exists():
            raise UserError(f"{path}: config file not found")
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as e:
            raise UserError(f"{path}: not valid YAML: {e}")
        if not isinstance(data, dict):
            raise UserError(f"{path}: a config file must be a mapping of keys to values")
        for key, value in data.items():
            _set(config, key, value, str(path))
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep:
            raise UserError(f"override {item!r} is not key=value", "e.g. --set lr=1e-5")
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            value = raw
        _set(config, key.strip(), value, "--set")
    for key, value in (flags or {}).items():
        if value is not None:
            _set(config, key, value, f"--{key.replace('_', '-')}")
    _post_init(config)
    return config


def _post_init(config: Any) -> None:
    """Recompute derived fields after overrides, nested configs first (a parent may read a child's)."""
    for f in dataclasses.fields(config):
        child = getattr(config, f.name)
        if dataclasses.is_dataclass(child) and not isinstance(child, type):
            _post_init(child)
    post = getattr(config, "__post_init__", None)
    if post is not None:
        post()


def config_to_dict(config: Any, derived: bool = True) -> dict[str, Any]:
    """The config as plain data; without `derived`, only the fields a file may set (what `save_config` writes)."""
    if derived:
        return dataclasses.asdict(config)
    out = {}
    for f in dataclasses.fields(config):
        if f.init:
            value = getattr(config, f.name)
            out[f.name] = config_to_dict(value, derived) if dataclasses.is_dataclass(value) else copy.deepcopy(value)
    return out


def save_config(config: Any, path: str | Path) -> None:
    """Write the settable fields as YAML, which `load_config` reads back (a run's own `config.yaml`)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(yaml.safe_dump(config_to_dict(config, derived=False), sort_keys=False))
