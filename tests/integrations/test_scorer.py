"""The shared scorer: every problem form, every reward kind, SE as "no reward", pickling across processes."""

from __future__ import annotations

import json
import multiprocessing
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

import codelhf
from codelhf.errors import UserError
from codelhf.integrations.scorer import Scorer, ScorerConfig, program_for, to_problem
from codelhf.problems import Problem, save_problems_jsonl
from codelhf.problems import TestCase as Case  # not named Test*, so pytest does not collect it


@pytest.fixture(scope="module")
def scorer():
    s = Scorer(ScorerConfig(backend="local", workers=2))
    yield s
    s.close()


def test_every_problem_form_is_judged_in_the_sandbox(scorer, cases):
    completions = [c[0] for c in cases.CASES]
    scores = scorer.score_batch(completions, [c[1] for c in cases.CASES])
    got = [(s.reward, s.pass_rate, s.status) for s in scores]
    assert got == [(reward, rate, verdict) for _, _, reward, rate, verdict in cases.CASES]


def test_a_codelhf_record_an_id_and_a_dict_ground_truth(tmp_path, cases):
    problem = Problem(id="neg", prompt="Negate.", public_tests=[Case("5\n", "-5\n")],
                      hidden_tests=[Case("-2\n", "2\n")])
    path = tmp_path / "problems.jsonl"
    save_problems_jsonl(path, [problem])
    scorer = Scorer(ScorerConfig(backend="local", workers=1, problems=str(path)))
    try:
        right, wrong = "print(-int(input()))", "print(-5)"
        scores = scorer.score_batch([right, wrong, right, wrong, right],
                                    ["neg", "neg", problem.to_dict(), json.dumps(problem.to_dict()), problem])
        assert [(s.reward, s.verdict.passed) for s in scores] == [(1.0, 2), (0.0, 1), (1.0, 2), (0.0, 1), (1.0, 2)]
        stdio = json.loads(cases.STDIO_GT)
        assert scorer.score(cases.STDIO_RIGHT, stdio).reward == 1.0  # the ground truth as an object
        assert scorer.score(cases.STDIO_RIGHT, {"input_output": cases.STDIO_GT}).reward == 1.0  # an APPS field
    finally:
        scorer.close()


def test_reward_kinds_come_from_codelhf_rewards(cases):
    batch = [cases.STDIO_RIGHT, cases.STDIO_HALF, cases.STDIO_CRASH]
    for kind, scale, expected in [("binary", 10.0, [10.0, 0.0, 0.0]), ("fraction", 1.0, [1.0, 0.5, 0.0]),
                                  ("graded", 1.0, [10.0, 2.0, 1.0])]:
        s = Scorer(ScorerConfig(kind=kind, scale=scale, backend="local", workers=1))
        try:
            assert [x.reward for x in s.score_batch(batch, [cases.STDIO_GT] * 3)] == expected, kind
        finally:
            s.close()


def test_a_system_error_has_no_reward(scorer, cases):
    (score,) = scorer.score_batch(["print(1)"], [cases.SYSTEM_ERROR_PROBLEM])
    assert score.status == "SE" and score.reward is None and "checker failed" in score.verdict.tests[0].feedback


def test_unreadable_problems_are_user_errors_before_anything_runs(scorer):
    for bad, message in [("{not json", "not valid JSON"), ('{"inputs": [1]}', "cannot tell"),
                         ('{"inputs": ["1"], "outputs": []}', "same length"), ("p1", "no problem file"),
                         (42, "cannot read a problem")]:
        with pytest.raises(UserError, match=message):
            scorer.score_batch(["print(1)"], [bad])


def test_program_extraction_follows_codelhf_prompting(cases):
    stdio = to_problem(cases.STDIO_GT)
    assert program_for(stdio, cases.STDIO_RIGHT) == "a, b = map(int, input().split())\nprint(a + b)"
    humaneval = to_problem(cases.HUMANEVAL_GT)
    assert program_for(humaneval, cases.HUMANEVAL_BODY) == cases.HUMANEVAL_GT["prompt"] + cases.HUMANEVAL_BODY
    assert program_for(humaneval, cases.HUMANEVAL_WRONG).startswith("def add(a, b):")


def score_in_child(scorer_bytes: bytes, completion: str, problem: str) -> tuple:
    scorer = pickle.loads(scorer_bytes)
    assert scorer._executor is None  # rebuilt here, on first use
    result = scorer.score(completion, problem)
    scorer.close()
    return result.reward, result.status


def test_a_pickled_scorer_works_in_a_spawned_process(scorer, cases):
    scorer.score(cases.STDIO_RIGHT, cases.STDIO_GT)  # this process's executor exists now...
    data = pickle.dumps(scorer)  # ...and is left behind
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        assert pool.apply(score_in_child, (data, cases.STDIO_RIGHT, cases.STDIO_GT)) == (1.0, "AC")


def test_config_from_environment(monkeypatch):
    monkeypatch.setenv("CODELHF_KIND", "fraction")
    monkeypatch.setenv("CODELHF_SCALE", "5")
    monkeypatch.setenv("CODELHF_WORKERS", "3")
    config = ScorerConfig.from_env(tests="public")
    assert (config.kind, config.scale, config.workers, config.tests) == ("fraction", 5.0, 3, "public")
    monkeypatch.setenv("CODELHF_KIND", "fractoin")
    with pytest.raises(UserError, match="fractoin"):
        ScorerConfig.from_env()
    assert json.loads(json.dumps(ScorerConfig().__dict__))["backend"] == "auto"


def test_integrations_path_names_each_adapter_file():
    def path(trainer: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "codelhf.cli", "integrations", "path", trainer],
                              capture_output=True, text=True, timeout=120, check=False)

    for trainer in ("openrlhf", "verl", "trl"):
        done = path(trainer)
        assert done.returncode == 0 and Path(done.stdout.strip()) == Path(codelhf.__file__).parent / \
            "integrations" / f"{trainer}.py"
    done = path("deepspeed-chat")
    assert done.returncode == 2 and "no adapter for 'deepspeed-chat'" in done.stderr and "Traceback" not in done.stderr
