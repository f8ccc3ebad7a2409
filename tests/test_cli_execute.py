"""`codelhf execute` as a user runs it: a real process, real files, real programs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from codelhf.problems import Problem, save_problems_jsonl
from codelhf.problems import TestCase as Case  # not named Test*, so pytest does not collect it
from codelhf.samples import Sample, save_samples
from codelhf.verdicts import load_verdicts


def codelhf(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "250"}  # rich wraps messages at the terminal width; keep them on one line
    return subprocess.run([sys.executable, "-m", "codelhf.cli", *args], capture_output=True, text=True, timeout=300,
                          check=False, env=env)


@pytest.fixture
def files(tmp_path):
    problems = tmp_path / "problems.jsonl"
    samples = tmp_path / "samples.jsonl"
    save_problems_jsonl(problems, [
        Problem(id="add", prompt="", public_tests=[Case("1 2\n", "3\n")], hidden_tests=[Case("2 2\n", "4\n")]),
        Problem(id="neg", prompt="", public_tests=[Case("5\n", "-5\n")]),
    ])
    save_samples(samples, [
        Sample("add", program="a, b = map(int, input().split())\nprint(a + b)\n", sample_index=0),
        Sample("add", program="print(3)\n", sample_index=1),  # passes the public test only
        Sample("neg", program="print(-int(input()))\n", sample_index=0),
        Sample("neg", program="raise SystemExit(3)\n", sample_index=1),
    ])
    return problems, samples, tmp_path / "verdicts.jsonl"


@pytest.mark.parametrize("backend", ["local", pytest.param("docker", marks=pytest.mark.docker)])
def test_execute_writes_verdicts_and_a_json_summary(files, backend):
    problems, samples, out = files
    done = codelhf("execute", "--problems", str(problems), "--samples", str(samples), "--out", str(out),
                   "--backend", backend, "--workers", "2", "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary == {"samples": 4, "all_passed": 2, "verdicts": {"AC": 2, "WA": 1, "RE": 1}}
    assert ("isolation is much weaker" in done.stderr) == (backend == "local")
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["problem_id"], r["sample_index"], r["passed"], r["total"], r["all_passed"]) for r in records] == [
        ("add", 0, 2, 2, True), ("add", 1, 1, 2, False), ("neg", 0, 1, 1, True), ("neg", 1, 0, 1, False)]
    assert [t["status"] for t in records[1]["tests"]] == ["AC", "WA"]
    assert load_verdicts(out)[3].tests[0].exit_code == 3


def test_execute_public_tests_only(files):
    problems, samples, _ = files
    done = codelhf("execute", "--problems", str(problems), "--samples", str(samples), "--backend", "local",
                   "--tests", "public", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["all_passed"] == 3  # "print(3)" passes the public test


def test_execute_with_a_sample_for_an_unknown_problem_fails_cleanly(files, tmp_path):
    problems, _, _ = files
    samples = tmp_path / "bad.jsonl"
    save_samples(samples, [Sample("missing-id", program="print(1)")])
    done = codelhf("execute", "--problems", str(problems), "--samples", str(samples), "--backend", "local")
    assert done.returncode == 2
    assert "'missing-id'" in done.stderr and "Traceback" not in done.stderr
