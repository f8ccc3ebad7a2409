"""TRL: the sandbox as a `reward_funcs` entry of GRPOTrainer (and RLOO, online DPO: TRL ≥ 1.0's convention).

    from trl import GRPOConfig, GRPOTrainer
    from codelhf.integrations.trl import code_reward

    trainer = GRPOTrainer(model="path/to/model", reward_funcs=code_reward, train_dataset=dataset, args=GRPOConfig())

TRL calls `fn(prompts=..., completions=..., completion_ids=..., **columns)` with every other dataset column, one
value per completion. The problem is read from the first of these columns that the dataset has: `problem` (a
codelhf record, an id in CODELHF_PROBLEMS, or a ground truth), `ground_truth`, `input_output` (APPS rows), or
`test` + `entry_point` (HumanEval rows; the prompt is the function's signature). A sample whose execution failed
in the sandbox itself (SE) gets None, TRL's "not applicable" (NaN in its means), never a 0.

`code_reward` and `code_reward_async` use the process's default scorer (configured by CODELHF_* variables,
codelhf/integrations/scorer.py); `CodeReward(ScorerConfig(...))` is one with its own settings. All of them pickle
(AsyncGRPO runs reward functions in spawned processes): the executor is rebuilt in each process on first use.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from codelhf.errors import UserError
from codelhf.integrations.scorer import Score, Scorer, ScorerConfig, default_scorer

PROBLEM_COLUMNS = ("problem", "ground_truth", "input_output")


def problems_from_columns(prompts: Sequence[Any], n: int, columns: dict[str, Any]) -> list[Any]:
    """One problem per completion, from the dataset columns TRL passed (see the module docstring)."""
    for name in PROBLEM_COLUMNS:
        if name in columns:
            values = list(columns[name])
            break
    else:
        if "test" in columns and "entry_point" in columns:
            signatures = [p if isinstance(p, str) else "" for p in prompts] if prompts else [""] * n
            values = [{"test": t, "entry_point": e, "prompt": s}
                      for t, e, s in zip(columns["test"], columns["entry_point"], signatures)]
        else:
            known = ", ".join(sorted(k for k in columns if k not in ("trainer_state", "log_extra", "log_metric")))
            raise UserError(f"no problem column among the dataset's columns ({known})",
                            f"add one of: {', '.join(PROBLEM_COLUMNS)}, or test + entry_point")
    if len(values) != n:
        raise UserError(f"{n} completions but {len(values)} problems in the dataset column")
    return values


def _log(scores: list[Score], columns: dict[str, Any]) -> None:
    """Verdict shares into TRL's metrics and each verdict into its completions table, through the `log_metric`
    and `log_extra` hooks that TRL passes (when it does)."""
    log_metric, log_extra = columns.get("log_metric"), columns.get("log_extra")
    if callable(log_extra):
        log_extra("verdict", [s.status for s in scores])
    if not callable(log_metric) or not scores:
        return
    for status, count in Counter(s.status for s in scores).items():
        log_metric(f"exec/verdict/{status}", count / len(scores))
    log_metric("exec/pass_rate", sum(s.pass_rate for s in scores) / len(scores))


class CodeReward:
    """A reward function with its own `ScorerConfig`: `GRPOTrainer(reward_funcs=CodeReward(ScorerConfig(
    kind="fraction")))`. TRL names its metrics after `__name__` (rewards/<name>/mean)."""

    def __init__(self, config: ScorerConfig | None = None, name: str = "code_reward"):
        self.scorer = Scorer(config) if config is not None else None
        self.__name__ = name

    def _scorer(self) -> Scorer:
        return self.scorer or default_scorer()

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], completion_ids: Any = None,
                 **columns: Any) -> list[float | None]:
        problems = problems_from_columns(prompts, len(completions), columns)
        scores = self._scorer().score_batch(completions, problems)
        _log(scores, columns)
        return [s.reward for s in scores]


class AsyncCodeReward(CodeReward):
    """As `CodeReward`, with an async `__call__`: TRL gathers it on its background loop with other rewards."""

    async def __call__(self, prompts: Sequence[Any], completions: Sequence[Any],  # type: ignore[override]
                       completion_ids: Any = None, **columns: Any) -> list[float | None]:
        problems = problems_from_columns(prompts, len(completions), columns)
        scores = await self._scorer().score_batch_async(completions, problems)
        _log(scores, columns)
        return [s.reward for s in scores]


def code_reward(prompts: Sequence[Any], completions: Sequence[Any], completion_ids: Any = None,
                **columns: Any) -> list[float | None]:
    """The sandbox's reward for each completion (1.0 when every test passes, by default); None for SE."""
    return _CODE_REWARD(prompts, completions, completion_ids, **columns)


async def code_reward_async(prompts: Sequence[Any], completions: Sequence[Any], completion_ids: Any = None,
                            **columns: Any) -> list[float | None]:
    """`code_reward` as a coroutine: awaits the sandbox instead of blocking a thread."""
    return await _CODE_REWARD_ASYNC(prompts, completions, completion_ids, **columns)


_CODE_REWARD = CodeReward()
_CODE_REWARD_ASYNC = AsyncCodeReward(name="code_reward_async")
