"""OpenRLHF: the sandbox as a reward-function file (`--reward.remote_url "$(codelhf integrations path openrlhf)"`).

OpenRLHF loads this file by its path and calls `reward_func(queries, prompts, labels)` for each sample inside its
vLLM engine actors: `queries` are prompt + response as generated, `prompts` the prompts, `labels` the dataset's
label column (`--label_key`): a ground truth `{"inputs", "outputs", "fn_name"?}`, `{test, entry_point}`, a codelhf
record or a problem id (CODELHF_PROBLEMS). It returns `{"rewards", "scores", "extra_logs"}` as tensors: the reward
from codelhf.rewards (CODELHF_KIND, CODELHF_SCALE), the same value as the score (used by OpenRLHF's dynamic
filtering), and the pass rate and acceptance as logs.

A sample the sandbox itself failed on (SE, after the executor's retries) has no reward: the call raises
`SandboxError`, which OpenRLHF logs and turns into a missing reward, never a 0 trained on. The same JSON over
HTTP, for a reward service on another machine, is `codelhf serve` (codelhf/integrations/server.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from codelhf.integrations.scorer import Score, default_scorer


class SandboxError(RuntimeError):
    """The sandbox, not the program, failed on some samples even after retries: they have no reward."""


def responses(queries: Sequence[str], prompts: Sequence[str]) -> list[str]:
    """The generated part of each query (OpenRLHF sends prompt + response)."""
    return [q[len(p):] if isinstance(p, str) and q.startswith(p) else q for q, p in zip(queries, prompts)]


def openrlhf_result(scores: Sequence[Score]) -> dict[str, Any]:
    """OpenRLHF's reward JSON (lists); raises `SandboxError` when some sample has no reward."""
    failed = [i for i, s in enumerate(scores) if s.reward is None]
    if failed:
        reasons = "; ".join(s.verdict.tests[0].feedback[:200] for s in (scores[i] for i in failed[:3]) if s.verdict.tests)
        raise SandboxError(f"sandbox system error on sample(s) {failed[:10]}: {reasons or 'no tests ran'}")
    values = [float(s.reward) for s in scores]  # type: ignore[arg-type]
    return {"rewards": values, "scores": values,
            "extra_logs": {"pass_rate": [s.pass_rate for s in scores],
                           "accepted": [float(s.verdict.all_passed) for s in scores]}}


def reward_func(queries: Sequence[str], prompts: Sequence[str], labels: Sequence[Any], **kwargs: Any) -> dict:
    result = openrlhf_result(default_scorer().score_batch(responses(queries, prompts), list(labels)))
    return {"rewards": torch.tensor(result["rewards"]), "scores": torch.tensor(result["scores"]),
            "extra_logs": {k: torch.tensor(v) for k, v in result["extra_logs"].items()}}
