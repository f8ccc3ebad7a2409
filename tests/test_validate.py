"""`validate` on the dataset fixtures (real programs, real sandbox), the HumanEval path, and the `validate` /
`evaluate` commands as a user runs them. The local backend always runs; the docker backend under its marker."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from codelhf.datasets import load_problems
from codelhf.execution import Executor
from codelhf.samples import Sample
from codelhf.validate import validate

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "datasets"
BACKENDS = ["local", pytest.param("docker", marks=pytest.mark.docker)]


def codelhf(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    found = shutil.which("codelhf", path=str(Path(sys.executable).parent))
    command = [found] if found else [sys.executable, "-c", "from codelhf.cli import main; main()"]
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=timeout, check=False)


@pytest.mark.parametrize("backend", BACKENDS)
def test_validate_code_contests_flags_wrong_and_weak_tests(backend: str) -> None:
    problems = load_problems(FIXTURES / "code_contests.jsonl")
    with Executor(backend=backend, workers=2) as ex:
        report = validate(problems, ex)
    # Runnable: 1_A C++ and Python 3 (its Python 2 and Java are skipped), 1_B Python 3 and C++, 1_C Python 3.
    assert (report.solutions_total, report.solutions_accepted, report.solutions_skipped) == (5, 3, 2)
    # 1_A's two incorrect ones and 1_B's fail; 1_C's passes its weak tests.
    assert (report.incorrect_total, report.incorrect_rejected) == (4, 3)
    assert report.system_errors == 0
    checks = {c.problem_id: c for c in report.checks}
    assert not checks["1_A. Double it"].suspect
    wrong = checks["1_B. Sum the list"]  # its generated test expects 8 for the sum of [7]
    assert wrong.reasons == ["no reference solution passes (0/2)"]
    assert wrong.tests_failed_by_every_reference == [2]  # public, private, then the generated one
    assert checks["1_C. Larger of two"].reasons == ["1/1 incorrect solution(s) pass"]
    assert report.suspect_problems == 2


@pytest.mark.parametrize("source", ["apps.jsonl", "apps_dir", "taco.jsonl", "humaneval.jsonl", "mbpp.jsonl",
                                    "mbpp_sanitized.json", "problems.jsonl"])
def test_every_fixture_reference_solution_passes(source: str) -> None:
    problems = load_problems(FIXTURES / source)
    with Executor(backend="local", workers=2) as ex:
        report = validate(problems, ex)
    assert report.solutions_total >= len(problems)
    assert report.solutions_accepted == report.solutions_total and report.suspect_problems == 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_humaneval_canonical_completion_accepted_empty_completion_not(backend: str) -> None:
    problems = load_problems(FIXTURES / "humaneval.jsonl")
    rows = {json.loads(line)["task_id"]: json.loads(line) for line in (FIXTURES / "humaneval.jsonl").open()}
    samples = []
    for p in problems:
        samples.append(Sample(p.id, completion=rows[p.id]["canonical_solution"], sample_index=0))
        samples.append(Sample(p.id, completion="", sample_index=1))
    with Executor(backend=backend, workers=2) as ex:
        verdicts = ex.run(problems, samples, tests="all", progress=False)
    assert [v.all_passed for v in verdicts] == [True, False, True, False]
    assert all(v.status.value in ("WA", "RE") for v in verdicts[1::2])  # a body-less function returns None


def test_cli_validate_json_and_suspects_file(tmp_path: Path) -> None:
    out = tmp_path / "suspects.jsonl"
    result = codelhf("validate", "--problems", str(FIXTURES / "code_contests.jsonl"), "--backend", "local",
                     "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert {k: summary[k] for k in ("problems", "solutions_total", "solutions_accepted", "incorrect_total",
                                    "incorrect_rejected", "suspect_problems")} == {
        "problems": 3, "solutions_total": 5, "solutions_accepted": 3, "incorrect_total": 4,
        "incorrect_rejected": 3, "suspect_problems": 2}
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["problem_id"] for r in rows] == ["1_B. Sum the list", "1_C. Larger of two"]


def test_cli_evaluate_executes_samples_then_reuses_verdicts(tmp_path: Path) -> None:
    """Three samples per APPS problem: pass@1 and pass@3 from a real run, then the same from the saved verdicts."""
    problems = load_problems(FIXTURES / "apps.jsonl")
    samples = tmp_path / "samples.jsonl"
    with samples.open("w") as f:
        for p in problems:
            right = p.solutions[0].code
            wrong = "def count_vowels(s):\n    return -1\n" if p.fn_name else "print(42)\n"
            # 4001 gets two right samples, the others one
            programs = [right, right if p.id == "4001" else wrong, wrong]
            for program in programs:
                f.write(json.dumps({"problem_id": p.id, "program": program}) + "\n")
    verdicts, plot = tmp_path / "verdicts.jsonl", tmp_path / "passk.png"
    result = codelhf("evaluate", "--problems", str(FIXTURES / "apps.jsonl"), "--samples", str(samples),
                     "--k", "1,3,5", "--backend", "local", "--out", str(verdicts), "--plot", str(plot), "--json")
    assert result.returncode == 0, result.stderr
    first = json.loads(result.stdout)
    assert first["n_problems"] == 3 and first["n_samples"] == 9
    assert first["pass@1"] == pytest.approx((2 / 3 + 1 / 3 + 1 / 3) / 3)
    assert first["pass@3"] == 1.0 and first["pass@5"] is None
    assert set(first["by_difficulty"]) == {"introductory", "interview", "competition"}
    assert plot.read_bytes()[:4] == b"\x89PNG"
    again = codelhf("evaluate", "--problems", str(FIXTURES / "apps.jsonl"), "--verdicts", str(verdicts),
                    "--k", "1,3,5", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["pass@1"] == first["pass@1"]
    table = codelhf("evaluate", "--problems", str(FIXTURES / "apps.jsonl"), "--verdicts", str(verdicts), "--k", "1")
    assert table.returncode == 0 and "overall" in table.stdout and "44.4" in table.stdout


def test_cli_shows_malformed_row_message_not_a_traceback(tmp_path: Path) -> None:
    rows = (FIXTURES / "apps.jsonl").read_text().splitlines()
    broken = json.loads(rows[1])
    broken["input_output"] = '{"inputs": [["hello"]], "outputs": '
    path = tmp_path / "apps.jsonl"
    path.write_text("\n".join([rows[0], json.dumps(broken), rows[2]]) + "\n")
    result = codelhf("validate", "--problems", str(path), "--backend", "local")
    assert result.returncode == 2
    assert f"{path}:2: malformed apps row: field 'input_output': not valid JSON" in result.stderr
    assert "--skip-bad" in result.stderr and "Traceback" not in result.stderr + result.stdout
    bad_k = codelhf("evaluate", "--problems", str(FIXTURES / "apps.jsonl"), "--verdicts", "x.jsonl", "--k", "1,ten")
    assert bad_k.returncode == 2 and "--k '1,ten'" in bad_k.stderr and "Traceback" not in bad_k.stderr


def test_n_at_k_filters_on_the_public_tests_of_executed_samples() -> None:
    """1_A doubles n; its public test is 3 -> 6. Samples: right, `print(6)` (passes only the public test), n+2
    (fails it). 1@2 over the three 2-draws: {right, print(6)} submits the right one half the time, {right, n+2}
    always, {print(6), n+2} never: (1/2 + 1 + 0) / 3 = 1/2; pass@2 = 1 - C(2,2)/C(3,2) = 2/3."""
    from codelhf.evaluate import evaluate as evaluate_verdicts

    problems = load_problems(FIXTURES / "code_contests.jsonl", limit=1)
    programs = ["print(2 * int(input()))\n", "print(6)\n", "print(int(input()) + 2)\n"]
    samples = [Sample("1_A. Double it", program=p, sample_index=i) for i, p in enumerate(programs)]
    with Executor(backend="local", workers=2) as ex:
        verdicts = ex.run(problems, samples, tests="all", progress=False)
    assert [v.passed for v in verdicts] == [4, 1, 0]  # public first, then private and generated
    result = evaluate_verdicts(problems, verdicts, ks=[1, 2], n_at_k="1@2")
    assert result["1@2"] == pytest.approx(0.5)
    assert result["pass@2"] == pytest.approx(2 / 3) and result["pass@1"] == pytest.approx(1 / 3)
