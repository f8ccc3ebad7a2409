"""verl's custom reward function, called as verl's reward loop calls it: loaded from `pkg://`, then many samples
at once, from a thread pool (a sync compute_score) and through asyncio.gather (an async one), on the real sandbox."""

from __future__ import annotations

import asyncio
import importlib
import json
import re
from concurrent.futures import ThreadPoolExecutor

import pytest

pytestmark = pytest.mark.docker

DATA_SOURCES = ["codecontests", "apps", "taco", "codeforces"]


def load_custom_reward_function(path: str, name: str):
    """verl's `reward.custom_reward_function.{path,name}` with a `pkg://` path: a module imported by name."""
    assert path.startswith("pkg://")
    return getattr(importlib.import_module(path.removeprefix("pkg://")), name)


def batch(cases, n: int) -> list[tuple]:
    """`n` samples cycling through the known cases: (data_source, solution_str, ground_truth, extra_info, expected)."""
    rows = []
    for i in range(n):
        completion, problem, reward, rate, verdict = cases.CASES[i % len(cases.CASES)]
        ground_truth = problem if isinstance(problem, str) else json.dumps(problem)
        extra_info = {"index": i, "split": "train"}
        rows.append((DATA_SOURCES[i % 4], completion, ground_truth, extra_info,
                     {"score": reward, "pass_rate": rate, "verdict": verdict}))
    return rows


def test_sync_compute_score_from_many_threads(default_scorer, cases):
    compute_score = load_custom_reward_function("pkg://codelhf.integrations.verl", "compute_score")
    rows = batch(cases, 70)
    with ThreadPoolExecutor(max_workers=32) as pool:  # verl runs a sync function in a thread pool
        results = list(pool.map(lambda r: compute_score(data_source=r[0], solution_str=r[1], ground_truth=r[2],
                                                        extra_info=r[3]), rows))
    assert results == [r[4] for r in rows]


def test_async_compute_score_through_asyncio_gather(default_scorer, cases):
    compute_score_async = load_custom_reward_function("pkg://codelhf.integrations.verl", "compute_score_async")
    compute_score = load_custom_reward_function("pkg://codelhf.integrations.verl", "compute_score")
    rows = batch(cases, 70)

    async def reward_loop() -> list[dict]:
        # verl awaits an async compute_score, and sends a sync one to the loop's thread pool: both at once here
        loop = asyncio.get_running_loop()
        calls = [compute_score_async(r[0], r[1], r[2], r[3]) if i % 2 else
                 loop.run_in_executor(None, compute_score, r[0], r[1], r[2], r[3]) for i, r in enumerate(rows)]
        return await asyncio.gather(*calls)

    assert asyncio.run(reward_loop()) == [r[4] for r in rows]
    # every call used the one executor of this process: its pool did not grow with the number of calls
    assert default_scorer.executor.n_workers == 2


def test_ground_truth_as_an_object_and_a_sandbox_error(default_scorer, cases):
    from codelhf.integrations.verl import compute_score

    assert compute_score("apps", cases.CALL_RIGHT, json.loads(cases.CALL_GT))["score"] == 1.0
    assert compute_score("humaneval", cases.HUMANEVAL_BODY, cases.HUMANEVAL_GT)["verdict"] == "AC"
    timeout = json.dumps({"inputs": ["\n"], "outputs": ["1\n"], "time_limit_s": 0.5})
    assert compute_score("taco", "while True:\n    pass\n", timeout) == {"score": 0.0, "pass_rate": 0.0,
                                                                           "verdict": "TLE"}


def test_the_readme_verl_config_loads_and_scores(default_scorer, readme_snippet, cases):
    command = readme_snippet("bash", 0)
    path = re.search(r"reward\.custom_reward_function\.path=(\S+)", command).group(1)
    name = re.search(r"reward\.custom_reward_function\.name=(\S+)", command).group(1)
    compute_score = load_custom_reward_function(path, name)
    assert asyncio.iscoroutinefunction(compute_score)  # verl awaits it on its reward loop
    result = asyncio.run(compute_score("codecontests", cases.STDIO_RIGHT, cases.STDIO_GT, {"index": 0}))
    assert result == {"score": 1.0, "pass_rate": 1.0, "verdict": "AC"}
