"""TRL's GRPOTrainer, for real: two steps on the tiny model with a few bundled problems and `code_reward` from
the Docker sandbox. The rewards TRL logs must be what `codelhf execute` says of the same completions."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys

import pytest

from codelhf.integrations.scorer import ScorerConfig
from codelhf.integrations.trl import AsyncCodeReward, CodeReward, code_reward, code_reward_async

pytestmark = pytest.mark.docker


def test_readme_grpo_example_two_steps_with_sandbox_rewards(default_scorer, readme_snippet, tmp_path, monkeypatch):
    """The README's TRL snippet as it is, with a callback added before `trainer.train()` to see each step."""
    from transformers import TrainerCallback

    from codelhf.problems import save_problems_jsonl
    from codelhf.prompting import build_prompt, extract_code

    code = readme_snippet("python")
    assert code.rstrip().endswith("trainer.train()")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code.rstrip().removesuffix("trainer.train()"), "README.md", "exec"), namespace)  # noqa: S102
    trainer, problems, tokenizer = namespace["trainer"], namespace["problems"], namespace["tokenizer"]
    assert trainer.reward_funcs == [code_reward]

    class KeepCompletions(TrainerCallback):
        """After each step: the prompts, completions and code_reward values TRL logged."""

        def __init__(self):
            self.steps = []

        def on_step_end(self, args, state, control, **kwargs):
            logs = trainer._logs
            self.steps.append((list(logs["prompt"]), list(logs["completion"]), list(logs["rewards"]["code_reward"])))

    keep = KeepCompletions()
    trainer.add_callback(keep)
    trainer.train()
    assert trainer.state.global_step == 2 and len(keep.steps) == 2

    # the same completions, executed by `codelhf execute`
    by_prompt = {build_prompt(p, tokenizer): p for p in problems}
    rows = [(by_prompt[prompt], completion, reward) for step in keep.steps for prompt, completion, reward in zip(*step)]
    assert len(rows) == 8
    problems_file, samples_file, verdicts_file = (tmp_path / n for n in ("p.jsonl", "s.jsonl", "v.jsonl"))
    save_problems_jsonl(problems_file, problems)
    with open(samples_file, "w") as f:
        f.writelines(json.dumps({"problem_id": problem.id, "program": extract_code(completion), "sample_index": i})
                     + "\n" for i, (problem, completion, _) in enumerate(rows))
    done = subprocess.run([sys.executable, "-m", "codelhf.cli", "execute", "--problems", str(problems_file),
                           "--samples", str(samples_file), "--out", str(verdicts_file), "--workers", "2", "--json"],
                          capture_output=True, text=True, timeout=600, check=False, env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    verdicts = [json.loads(line) for line in verdicts_file.read_text().splitlines()]
    assert all(v["status"] != "SE" for v in verdicts)
    logged = [reward for _, _, reward in rows]
    assert logged == [1.0 if v["all_passed"] else 0.0 for v in verdicts]
    means = [row["rewards/code_reward/mean"] for row in trainer.state.log_history if "rewards/code_reward/mean" in row]
    assert means == pytest.approx([sum(step[2]) / 4 for step in keep.steps])
    print("verdicts:", [v["status"] for v in verdicts], "rewards:", logged)


def test_the_reward_functions_pickle_and_follow_trls_convention(default_scorer, cases):
    import asyncio

    kwargs = {"problem": [cases.STDIO_GT, cases.CALL_GT], "trainer_state": None}
    completions = [cases.STDIO_RIGHT, cases.CALL_WRONG]
    for fn in (code_reward, CodeReward(ScorerConfig(backend="docker", workers=1, kind="fraction"))):
        again = pickle.loads(pickle.dumps(fn))
        assert again(prompts=["", ""], completions=completions, completion_ids=None, **kwargs) in ([1.0, 0.0],
                                                                                                    [1.0, 0.5])
    for fn in (code_reward_async, AsyncCodeReward()):
        again = pickle.loads(pickle.dumps(fn))
        assert asyncio.run(again(prompts=["", ""], completions=completions, **kwargs)) == [1.0, 0.0]
    # conversational completions, HumanEval columns, TRL's log hooks
    metrics, extra = {}, {}
    rewards = code_reward(prompts=[cases.HUMANEVAL_GT["prompt"]] * 2,
                          completions=[[{"role": "assistant", "content": cases.HUMANEVAL_BODY}],
                                       [{"role": "assistant", "content": cases.HUMANEVAL_WRONG}]],
                          test=[cases.HUMANEVAL_GT["test"]] * 2, entry_point=["add"] * 2,
                          log_metric=metrics.__setitem__, log_extra=extra.__setitem__)
    assert rewards == [1.0, 0.0]
    assert metrics["exec/verdict/AC"] == 0.5 and metrics["exec/pass_rate"] == 0.5 and extra["verdict"] == ["AC", "WA"]
