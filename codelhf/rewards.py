"""From the sandbox's verdicts to one scalar reward per sample: what PPO optimises.

The paper's reward is binary: 10 when every test passes, else 0, given on the last token (Xu et al. 2024; no
learned reward model for code). Denser variants are here to be compared with it: `fraction` (the share of tests
passed) and `graded` (a compile error is worse than a crash, which is worse than a wrong answer).

A reward function is plain, `(verdict, **kwargs) -> float`, and lives in the `rewards` registry, so a user adds
one in a file of their own (or through the `codelhf.rewards` entry point group):

>>> from codelhf.verdicts import SampleVerdict, TestVerdict
>>> @rewards.register("ac_count")
... def ac_count(verdict, **kwargs):
...     return float(verdict.passed)
>>> v = SampleVerdict("p1", 0, [TestVerdict("AC"), TestVerdict("WA"), TestVerdict("AC")])
>>> reward_from_verdict(v, kind="ac_count"), reward_from_verdict(v), reward_from_verdict(v, kind="fraction")
(2.0, 0.0, 6.666666666666667)

Which tests reward training (public, hidden or all) is the executor's choice (`tests=`); it is kept here in
`RewardConfig.tests` so one config says everything about the reward.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from codelhf.errors import UserError
from codelhf.registry import Registry
from codelhf.verdicts import SampleVerdict, Status

RewardFn = Callable[..., float]
rewards: Registry[RewardFn] = Registry("reward", "codelhf.rewards")

DEFAULT_GRADED_VALUES: dict[str, float] = {"CE": 0.0, "RE": 1.0, "TLE": 1.0, "MLE": 1.0, "OLE": 1.0, "WA": 2.0,
                                           "AC": 10.0}
"""`graded` reward per sample status (its first failing test): CE < RE = TLE = MLE = OLE < WA < AC."""


@dataclass
class RewardConfig:
    kind: str = "binary"
    """Name in the `rewards` registry: binary (the paper's), fraction, graded, or one of your own."""
    tests: str = "all"
    """Which tests reward training: public, hidden or all (the executor's `tests=`)."""
    scale: float = 10.0
    """Reward of a sample that passes every test (Xu et al. 2024: 10); `fraction` is scaled by it too."""
    values: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_GRADED_VALUES))
    """`graded` only: reward per sample status."""

    def __post_init__(self) -> None:
        if self.tests not in ("public", "hidden", "all"):
            raise UserError(f"reward.tests is {self.tests!r}", "use one of: public, hidden, all")
        if self.kind not in rewards:
            rewards.get(self.kind)  # raises a UserError with a suggestion

    def kwargs(self) -> dict[str, Any]:
        return {"scale": self.scale, "values": self.values}


@rewards.register("binary")
def binary(verdict: SampleVerdict, *, scale: float = 10.0, **_: Any) -> float:
    """`scale` when every test passes, else 0 (Xu et al. 2024).

    >>> from codelhf.verdicts import SampleVerdict, TestVerdict
    >>> binary(SampleVerdict("p", 0, [TestVerdict("AC"), TestVerdict("AC")]))
    10.0
    >>> binary(SampleVerdict("p", 0, [TestVerdict("AC"), TestVerdict("TLE")]))
    0.0
    """
    return float(scale) if verdict.all_passed else 0.0


@rewards.register("fraction")
def fraction(verdict: SampleVerdict, *, scale: float = 10.0, **_: Any) -> float:
    """`scale` × the share of tests passed (0 when there are no tests).

    >>> from codelhf.verdicts import SampleVerdict, TestVerdict
    >>> fraction(SampleVerdict("p", 0, [TestVerdict("AC"), TestVerdict("WA"), TestVerdict("AC"), TestVerdict("RE")]))
    5.0
    """
    return float(scale) * verdict.passed / verdict.total if verdict.total else 0.0


@rewards.register("graded")
def graded(verdict: SampleVerdict, *, values: dict[str, float] | None = None, **_: Any) -> float:
    """A value per sample status (its first failing test), so "it compiles" and "it runs" already earn something.

    >>> from codelhf.verdicts import SampleVerdict, TestVerdict
    >>> [graded(SampleVerdict("p", 0, [TestVerdict("AC"), TestVerdict(s)])) for s in ("CE", "RE", "WA", "AC")]
    [0.0, 1.0, 2.0, 10.0]
    >>> graded(SampleVerdict("p", 0, [TestVerdict("WA")]), values={"WA": 0.5, "AC": 1.0})
    0.5
    """
    table = DEFAULT_GRADED_VALUES if values is None else values
    status = verdict.status.value
    if status not in table:
        raise UserError(f"graded reward has no value for status {status}",
                        f"give reward.values a value for each of: {', '.join(DEFAULT_GRADED_VALUES)}")
    return float(table[status])


def reward_from_verdict(verdict: SampleVerdict, kind: str = "binary", **kwargs: Any) -> float:
    """The reward of one sample under the reward function registered as `kind`."""
    return float(rewards.get(kind)(verdict, **kwargs))


def rewards_from_verdicts(verdicts: Sequence[SampleVerdict], config: RewardConfig) -> list[float]:
    """One reward per verdict. A system error (SE) is the sandbox's fault, not the program's: callers should drop
    those samples (see `is_scorable`) rather than train on the 0 they get here."""
    fn = rewards.get(config.kind)
    return [float(fn(v, **config.kwargs())) for v in verdicts]


def is_scorable(verdict: SampleVerdict) -> bool:
    """False when the verdict says nothing about the program (a sandbox failure, or no test was run)."""
    return verdict.total > 0 and Status.SE not in {t.status for t in verdict.tests}
