"""verl: the sandbox as a custom reward function, one line of config.

    reward.custom_reward_function.path=pkg://codelhf.integrations.verl
    reward.custom_reward_function.name=compute_score_async        # or compute_score (verl runs it in threads)

verl's reward loop calls `compute_score(data_source, solution_str, ground_truth, extra_info)` once per sample,
many at a time: from `reward.num_workers` Ray actors, each gathering its samples with `asyncio.gather` (a sync
function goes to a thread pool). Every call lands in this process's one executor, so concurrent calls share its
warm workers: no request per test case, no program compiled once per test. Inside a Ray cluster the executor
spreads over the cluster's nodes (codelhf/execution/ray.py).

`ground_truth` is what verl's code datasets (codecontests, apps, taco, codeforces) carry: JSON text (or the object)
`{"inputs": [...], "outputs": [...]}`, with `fn_name` for call-based problems; a HumanEval-style `{test,
entry_point}`, a codelhf record or a problem id (CODELHF_PROBLEMS) are read too. The result is `{"score",
"pass_rate", "verdict"}`: `score` from codelhf.rewards (CODELHF_KIND, CODELHF_SCALE; binary 1.0/0.0 by default),
`verdict` the sample's status (AC, WA, TLE, ...). verl has no "no reward": a sandbox failure (SE, after the
executor's retries) scores 0.0 with verdict "SE", so it stays visible in verl's reward_extra_info.
"""

from __future__ import annotations

from typing import Any

from codelhf.integrations.scorer import Score, default_scorer


def _result(score: Score) -> dict[str, Any]:
    return {"score": score.reward if score.reward is not None else 0.0, "pass_rate": score.pass_rate,
            "verdict": score.status}


def compute_score(data_source: str, solution_str: str, ground_truth: Any, extra_info: Any = None,
                  **kwargs: Any) -> dict[str, Any]:
    """verl's sync form: blocks its thread until the sandbox has judged `solution_str`."""
    return _result(default_scorer().score(solution_str, ground_truth))


async def compute_score_async(data_source: str, solution_str: str, ground_truth: Any, extra_info: Any = None,
                              **kwargs: Any) -> dict[str, Any]:
    """verl's async form: awaited by its reward loop, holding no thread while the program runs."""
    return _result(await default_scorer().score_async(solution_str, ground_truth))
