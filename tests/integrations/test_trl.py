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


def test_grpo_trainer_two_steps_with_sandbox_rewards(default_scorer, tmp_path):
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from codelhf.datasets.bundled import load_bundled
    from codelhf.policy import load_policy
    from codelhf.problems import save_problems_jsonl
    from codelhf.prompting import build_prompt, extract_code

    model, tokenizer = load_policy("tiny", device="cpu")
    problems = [p for p in load_bundled("train") if p.difficulty == "easy"][:4]
    dataset = Dataset.from_list([{"prompt": build_prompt(p, tokenizer), "problem": json.dumps(p.to_dict())}
                                 for p in problems])

    class KeepCompletions(TrainerCallback):
        """After each step: the completions and the code_reward values TRL logged for them."""

        def __init__(self):
            self.trainer, self.steps = None, []

        def on_step_end(self, args, state, control, **kwargs):
            logs = self.trainer._logs
            self.steps.append((list(logs["prompt"]), list(logs["completion"]), list(logs["rewards"]["code_reward"])))

    keep = KeepCompletions()
    config = GRPOConfig(output_dir=str(tmp_path / "grpo"), max_steps=2, per_device_train_batch_size=4,
                        num_generations=4, max_completion_length=96, temperature=1.0, learning_rate=1e-4,
                        logging_steps=1, report_to="none", save_strategy="no", use_cpu=True, seed=0,
                        dataloader_num_workers=0)
    trainer = GRPOTrainer(model=model, processing_class=tokenizer, reward_funcs=code_reward, args=config,
                          train_dataset=dataset, callbacks=[keep])
    keep.trainer = trainer
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
