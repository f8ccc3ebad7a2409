"""The study end to end on a very small budget: real tiny model, real sandbox, real report.

The report must show the numbers that the evaluation files hold: each method's pass@k in report.md is recomputed
here from its verdicts.jsonl with the unbiased estimator, and compared with what the report prints.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from codelhf.evaluate import pass_at_k
from codelhf.verdicts import load_verdicts

SMALL = [
    "budget=16", "seeds=[3]", "test_limit=6", "val_limit=4", "eval_samples=2", "ks=[1,2]", "n_at_k=[1@2]",
    "max_new_tokens=96", "dpo_iter_rounds=2",
    "ppo.large_batch_size=16", "ppo.samples_per_prompt=4", "ppo.num_minibatches=2", "ppo.val_samples=1",
    "ppo.max_new_tokens=96", "ppo.tensorboard=false",
    "dpo_iter.samples_per_prompt=4", "dpo_iter.val_samples=1", "dpo_iter.max_new_tokens=96",
    "dpo_iter.tensorboard=false",
]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "codelhf.cli", *args], capture_output=True, text=True, timeout=1500)


@pytest.mark.docker
@pytest.mark.timeout(1800)
def test_study_small_budget_end_to_end(tmp_path):
    run = tmp_path / "run"
    proc = _cli("study", "--out", str(run), *[a for s in SMALL for a in ("--set", s)])
    assert proc.returncode == 0, proc.stderr[-3000:]

    for name in ("report.md", "report.html", "results.json", "pass_at_k.png", "verdicts.png", "learning_curves.png"):
        assert (run / name).exists(), name
    report = (run / "report.md").read_text()
    results = json.loads((run / "results.json").read_text())
    assert set(results["methods"]) == {"sft", "ppo", "dpo", "dpo_iter"}

    for method, label in (("sft", "SFT"), ("ppo", "PPO"), ("dpo", "DPO"), ("dpo_iter", "DPO-Iter")):
        verdicts = load_verdicts(run / "eval" / method / "seed3" / "verdicts.jsonl")
        by_problem: dict[str, list[bool]] = {}
        for v in verdicts:
            by_problem.setdefault(v.problem_id, []).append(v.all_passed)
        assert len(by_problem) == 6 and all(len(x) == 2 for x in by_problem.values())
        expected = {k: sum(pass_at_k(len(x), sum(x), k) for x in by_problem.values()) / len(by_problem)
                    for k in (1, 2)}
        summary = json.loads((run / "eval" / method / "summary.json").read_text())
        row = re.search(rf"^\| {re.escape(label)} \| (.+)$", report, re.M)
        assert row, f"no row for {label} in the report"
        cells = [c.strip() for c in row.group(1).split("|")]
        for i, k in enumerate((1, 2)):
            assert summary[f"pass@{k}"] == pytest.approx(expected[k])
            assert cells[i].split(" ")[0] == f"{100 * expected[k]:.1f}"

    # the run resumes: a second invocation finds every stage done and only rewrites the report
    again = _cli("study", "--out", str(run))
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads((run / "results.json").read_text())["methods"]["ppo"]["eval"] == results["methods"]["ppo"]["eval"]


def test_study_rejects_unknown_method(tmp_path):
    proc = _cli("study", "--out", str(tmp_path / "r"), "--only", "ppo,rlhf")
    assert proc.returncode == 2
    assert "unknown method" in proc.stderr and "Traceback" not in proc.stderr
