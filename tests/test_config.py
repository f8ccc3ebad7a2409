"""Config loading: defaults, a YAML file, then key=value overrides; derived fields recomputed, nested first."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from codelhf.config import load_config, save_config
from codelhf.errors import UserError


@dataclass
class Inner:
    size: int = 4
    parts: int = 2
    per_part: int = 0
    """Derived."""

    def __post_init__(self) -> None:
        self.per_part = self.size // self.parts


@dataclass
class Outer:
    lr: float = 1e-3
    name: str = "tiny"
    ks: tuple[int, ...] = (1,)
    inner: Inner = field(default_factory=Inner)
    total: int = 0
    """Derived from the inner config's derived field."""

    def __post_init__(self) -> None:
        self.total = 10 * self.inner.per_part


def test_overrides_recompute_nested_derived_fields_before_the_parent():
    config = load_config(Outer, None, ["inner.size=12", "inner.parts=3", "ks=[1, 5]", "lr=1e-5"])
    assert config.inner.per_part == 4
    assert config.total == 40  # the parent saw the child's recomputed value
    assert config.ks == (1, 5) and config.lr == 1e-5


def test_yaml_file_then_overrides_round_trip(tmp_path):
    path = tmp_path / "c.yaml"
    save_config(load_config(Outer, None, ["name=big", "inner.size=8"]), path)
    config = load_config(Outer, path, ["inner.parts=4"])
    assert (config.name, config.inner.size, config.inner.per_part, config.total) == ("big", 8, 2, 20)


def test_bad_keys_and_types_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="unknown config key 'inner.sise'"):
        load_config(Outer, None, ["inner.sise=3"])
    with pytest.raises(UserError, match="expects int"):
        load_config(Outer, None, ["inner.size=big"])
    with pytest.raises(UserError, match="not key=value"):
        load_config(Outer, None, ["lr"])
    (tmp_path / "bad.yaml").write_text("- a list\n")
    with pytest.raises(UserError, match="mapping"):
        load_config(Outer, tmp_path / "bad.yaml")


def test_command_flags_come_last_and_only_when_given(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: from-file\ninner:\n  size: 8\n")
    config = load_config(Outer, path, ["name=from-set", "inner.parts=4"], flags={"name": "from-flag", "lr": None})
    assert (config.name, config.lr, config.inner.per_part, config.total) == ("from-flag", Outer().lr, 2, 20)
    with pytest.raises(UserError, match="--nmae: unknown config key 'nmae'"):
        load_config(Outer, None, flags={"nmae": "x"})
