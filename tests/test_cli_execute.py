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


BAD_INPUTS = {
    "sample_index that is not an integer": ("samples",
                                            b'{"problem_id": "add", "program": "print(3)", "sample_index": "1a"}\n',
                                            "samples.jsonl:1: sample_index must be a non-negative integer, got '1a'"),
    "non-UTF-8 bytes in the samples": ("samples", b'{"problem_id": "add", "program": "print(\'\xff\')"}\n',
                                       "samples.jsonl:1: not UTF-8 text (byte 0xff at column 42)"),
    "non-UTF-8 bytes in the problems": ("problems", b'{"id": "add", "prompt": "\xe9", "hidden_tests": []}\n',
                                        "problems.jsonl:1: not UTF-8 text (byte 0xe9 at column 26)"),
    "a corrupt .jsonl.gz": ("problems.gz", b"\x1f\x8b\x08\x00garbage that is not deflate data",
                            "problems.jsonl.gz: not a valid gzip file"),
    "a truncated .jsonl.gz": ("samples.gz", None, "samples.jsonl.gz: not a valid gzip file"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_rc_2_and_one_line(files, case):
    """A bad samples or problems file ends with exit code 2 and one line saying which file, which line and what is
    wrong, before any sandbox starts: no traceback."""
    import gzip

    problems, samples, _ = files
    which, content, message = BAD_INPUTS[case]
    target = problems if which.startswith("problems") else samples
    if which.endswith(".gz"):
        data = gzip.compress(target.read_bytes())
        content = content if content is not None else data[: len(data) // 2]
        target = target.with_name(target.name + ".gz")
    target.write_bytes(content)
    paths = {"problems": problems, "samples": samples}
    paths["problems" if which.startswith("problems") else "samples"] = target
    done = codelhf("execute", "--problems", str(paths["problems"]), "--samples", str(paths["samples"]),
                   "--backend", "local")
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip() and "local backend" not in line]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], done.stderr
    assert "Traceback" not in done.stderr + done.stdout


@pytest.mark.parametrize("command", ["execute", "evaluate", "validate", "pairs", "study", "train ppo"])
def test_help_shows_boolean_flags_as_flags(command):
    done = codelhf(*command.split(), "--help")
    assert done.returncode == 0, done.stderr
    assert "--help" in done.stdout and "<bool>" not in done.stdout


@pytest.mark.parametrize("command", [["execute"], ["evaluate"], ["pairs", "--out", "pairs.jsonl"]])
def test_every_command_that_runs_programs_on_the_host_says_so(files, command, tmp_path):
    problems, samples, _ = files
    command = [c.replace("pairs.jsonl", str(tmp_path / "pairs.jsonl")) for c in command]
    done = codelhf(*command, "--problems", str(problems), "--samples", str(samples), "--backend", "local")
    assert done.returncode == 0, done.stderr
    assert "isolation is much weaker" in done.stderr
