"""Rewards from hand-made verdicts: each kind, configurable values, test selection, SE handling, the registry."""

from __future__ import annotations

import doctest

import pytest

import codelhf.rewards as rewards_module
from codelhf.config import load_config
from codelhf.errors import UserError
from codelhf.rewards import RewardConfig, is_scorable, reward_from_verdict, rewards_from_verdicts
from codelhf.verdicts import SampleVerdict
from codelhf.verdicts import TestVerdict as TV  # a Test* name would be collected by pytest


def verdict(*statuses: str) -> SampleVerdict:
    return SampleVerdict("p", 0, [TV(s) for s in statuses])


def test_doctests_pass() -> None:
    result = doctest.testmod(rewards_module)
    assert result.attempted >= 5 and result.failed == 0


def test_binary_is_the_papers_reward() -> None:
    assert reward_from_verdict(verdict("AC", "AC", "AC")) == 10.0
    assert reward_from_verdict(verdict("AC", "AC", "WA")) == 0.0
    assert reward_from_verdict(verdict()) == 0.0  # no tests run is never a pass
    assert reward_from_verdict(verdict("AC"), scale=1.0) == 1.0


def test_fraction_counts_passed_tests() -> None:
    assert reward_from_verdict(verdict("AC", "WA", "TLE", "AC", "AC"), kind="fraction") == pytest.approx(6.0)
    assert reward_from_verdict(verdict("AC", "WA"), kind="fraction", scale=1.0) == 0.5
    assert reward_from_verdict(verdict(), kind="fraction") == 0.0


def test_graded_orders_ce_below_re_below_wa_below_ac() -> None:
    values = [reward_from_verdict(verdict(s), kind="graded") for s in ("CE", "RE", "WA", "AC")]
    assert values == sorted(values) and len(set(values)) == 4
    # the sample's status is its first failing test, whatever follows
    assert reward_from_verdict(verdict("AC", "WA", "RE"), kind="graded") == values[2]


def test_graded_values_are_configurable_and_missing_ones_are_named() -> None:
    config = load_config(RewardConfig, None, ["kind=graded", "values={CE: -1, RE: 0, WA: 0.5, AC: 1}"])
    assert rewards_from_verdicts([verdict("CE"), verdict("WA"), verdict("AC")], config) == [-1.0, 0.5, 1.0]
    with pytest.raises(UserError, match="TLE"):
        rewards_from_verdicts([verdict("TLE")], config)


def test_config_rejects_unknown_kind_and_test_selection() -> None:
    with pytest.raises(UserError, match="unknown reward 'binray'") as e:
        RewardConfig(kind="binray")
    assert "binary" in e.value.hint
    with pytest.raises(UserError, match="reward.tests"):
        RewardConfig(tests="private")


def test_system_errors_and_empty_verdicts_are_not_scorable() -> None:
    assert is_scorable(verdict("AC", "WA"))
    assert not is_scorable(verdict("AC", "SE"))
    assert not is_scorable(verdict())
