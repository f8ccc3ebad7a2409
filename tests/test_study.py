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
    "budget=16", "seeds=[3]", "test_limit=6", "validation.limit=4", "validation.samples=1",
    "validation.max_new_tokens=96", "eval_samples=2", "ks=[1,2]", "n_at_k=[1@2]", "max_new_tokens=96",
    "bootstrap=200",
    *[f"{arm}.{key}" for arm in ("ppo", "ppo_group") for key in (
        "large_batch_size=16", "samples_per_prompt=4", "num_minibatches=2", "max_new_tokens=96", "tensorboard=false")],
    "dpo_iter.rounds=2", "dpo_iter.samples_per_prompt=4", "dpo_iter.max_new_tokens=96", "dpo_iter.tensorboard=false",
]
LABELS = {"sft": "SFT", "ppo": "PPO", "ppo_group": "PPO-group", "dpo": "DPO", "dpo_offline": "DPO-offline",
          "dpo_iter": "DPO-Iter"}


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "codelhf.cli", *args], check=False, capture_output=True, text=True,
                          timeout=1500)


@pytest.mark.docker
@pytest.mark.timeout(1800)
def test_study_small_budget_end_to_end(tmp_path):
    run = tmp_path / "run"
    proc = _cli("study", "--out", str(run), *[a for s in SMALL for a in ("--set", s)])
    assert proc.returncode == 0, proc.stderr[-3000:]

    for name in ("report.md", "report.html", "results.json", "pass_at_k.png", "verdicts.png", "learning_curves.png",
                 "paired.png"):
        assert (run / name).exists(), name
    report = (run / "report.md").read_text()
    results = json.loads((run / "results.json").read_text())
    assert set(results["methods"]) == set(LABELS)

    def pass_rates(method: str) -> dict[str, list[bool]]:
        # a method whose validation never beat SFT is evaluated as SFT: its samples are SFT's
        chosen = method if (run / "eval" / method / "seed3" / "verdicts.jsonl").exists() else "sft"
        by_problem: dict[str, list[bool]] = {}
        for v in load_verdicts(run / "eval" / chosen / "seed3" / "verdicts.jsonl"):
            by_problem.setdefault(v.problem_id, []).append(v.all_passed)
        return by_problem

    sft = pass_rates("sft")
    for method, label in LABELS.items():
        by_problem = pass_rates(method)
        assert len(by_problem) == 6 and all(len(x) == 2 for x in by_problem.values())
        expected = {k: sum(pass_at_k(len(x), sum(x), k) for x in by_problem.values()) / len(by_problem)
                    for k in (1, 2)}
        summary = json.loads((run / "eval" / method / "summary.json").read_text())
        row = re.search(rf"^\| {re.escape(label)} \| (.+)$", report, re.MULTILINE)
        assert row, f"no row for {label} in the report"
        cells = [c.strip() for c in row.group(1).split("|")]
        for i, k in enumerate((1, 2)):
            assert summary[f"pass@{k}"] == pytest.approx(expected[k])
            assert cells[i].split(" ")[0] == f"{100 * expected[k]:.1f}"
        if method != "sft":  # the paired difference: the mean over problems of the pass-rate difference
            diff = sum(sum(by_problem[p]) / 2 - sum(sft[p]) / 2 for p in sft) / len(sft)
            assert results["methods"][method]["paired"]["all"]["diff"] == pytest.approx(diff)
            paired_row = re.findall(rf"^\| {re.escape(label)} \| ([+-]\d+\.\d) \[", report, re.MULTILINE)
            assert f"{100 * diff:+.1f}" in paired_row, paired_row
    assert "Ranking by paired pass@1 difference" in report

    # the run resumes: a second invocation finds every stage done and only rewrites the report
    again = _cli("study", "--out", str(run))
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads((run / "results.json").read_text())["methods"]["ppo"]["eval"] == results["methods"]["ppo"]["eval"]


def test_study_rejects_unknown_method(tmp_path):
    proc = _cli("study", "--out", str(tmp_path / "r"), "--only", "ppo,rlhf")
    assert proc.returncode == 2
    assert "unknown method" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("setting, message", [
    ("ppo.validation.samples=8", "ppo.validation is set, but the study decides it for every method"),
    ("dpo_iter.backend=local", "dpo_iter.backend is set, but the study decides it"),
    ("ppo_group.seed=5", "ppo_group.seed is set, but the study decides it for every method (seeds)"),
    ("dpo_iter.dpo.seed=5", "dpo_iter.dpo.seed is set"),
    ("ppo.total_steps=3", "the study decides it for every method (budget)"),
    ("ppo.rollout_batch_size=8", "'ppo.rollout_batch_size' is derived from other settings and cannot be set"),
    ("ppo.val_samples=8", "unknown config key 'ppo.val_samples'"),
    ("ppo.advantage=group", "ppo is the critic (gae) arm"),
])
def test_a_setting_that_would_be_ignored_is_an_error(setting, message):
    """Every setting lives in one place: what the study decides cannot be set inside a method's config."""
    from codelhf.config import load_config
    from codelhf.errors import UserError
    from codelhf.study import StudyConfig

    with pytest.raises(UserError, match=re.escape(message)):
        load_config(StudyConfig, None, [setting])


def test_an_overridden_setting_fails_on_the_command_line_with_a_clear_message(tmp_path):
    proc = _cli("study", "--out", str(tmp_path / "r"), "--set", "ppo.validation.samples=8")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "ppo.validation is set, but the study decides it" in proc.stderr and "set validation instead" in proc.stderr
    assert not (tmp_path / "r" / "results.json").exists()
