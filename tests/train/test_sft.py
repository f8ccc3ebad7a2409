"""SFT on a tiny Llama made here: the loss covers solution tokens only, it falls, and a memorised solution passes."""

from __future__ import annotations

import json
import math

import pytest
import torch

from codelhf.metrics import read_metrics
from codelhf.policy import load_policy
from codelhf.problems import Problem, Solution
from codelhf.problems import TestCase as Case
from codelhf.tiny import TinyRecipe, make_model, train_tokenizer
from codelhf.train.common import lr_multiplier
from codelhf.train.sft import SFTConfig, make_examples, train_sft
from codelhf.train.validation import ValidationConfig

PROBLEMS = [
    Problem(id="double", prompt="Read an integer n and print 2 * n.",
            public_tests=[Case("3\n", "6\n")], hidden_tests=[Case("-4\n", "-8\n"), Case("0\n", "0\n")],
            solutions=[Solution("n = int(input())\nprint(2 * n)\n")]),
    Problem(id="reverse", prompt="Read a line and print it reversed.",
            public_tests=[Case("abc\n", "cba\n")], hidden_tests=[Case("x\n", "x\n")],
            solutions=[Solution("s = input()\nprint(s[::-1])\n")]),
]


def tiny_policy():
    from codelhf.prompting import build_prompt

    texts = [build_prompt(p) for p in PROBLEMS] + [p.solutions[0].code for p in PROBLEMS]
    tokenizer = train_tokenizer(texts * 5, vocab_size=320)
    model = make_model(tokenizer, TinyRecipe(hidden_size=64, num_layers=2, num_heads=2, intermediate_size=128))
    return model, tokenizer


def test_examples_mark_where_the_solution_starts_and_end_with_eos():
    _, tokenizer = tiny_policy()
    examples, skipped = make_examples(PROBLEMS, tokenizer, SFTConfig())
    assert skipped == 0 and len(examples) == 2
    for (ids, prompt_len), problem in zip(examples, PROBLEMS):
        target = ids[prompt_len:]
        assert target[-1] == tokenizer.eos_token_id
        assert problem.solutions[0].code.strip() in tokenizer.decode(target, skip_special_tokens=True)
        assert "```python" in tokenizer.decode(ids[:prompt_len]) and "```python" not in tokenizer.decode(target)
    _, skipped = make_examples(PROBLEMS, tokenizer, SFTConfig(max_len=10))
    assert skipped == 2


def test_cosine_schedule_warms_up_then_decays_to_the_floor():
    assert [lr_multiplier(s, 20, 4, 0.1) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert lr_multiplier(4, 20, 4, 0.1) == pytest.approx(1.0)
    assert lr_multiplier(12, 20, 4, 0.1) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert lr_multiplier(20, 20, 4, 0.1) == pytest.approx(0.1)
    assert lr_multiplier(20, 20, 4) == pytest.approx(0.0)  # DPO's schedule: down to 0


def test_sft_drives_the_loss_down_and_saves_a_loadable_model(tmp_path):
    torch.manual_seed(0)
    model, tokenizer = tiny_policy()
    config = SFTConfig(epochs=40, lr=3e-3, batch_size=1, grad_accum=2, warmup_steps=3, log_every=5, save_every=20,
                       tensorboard=False)
    result = train_sft(model, tokenizer, PROBLEMS, config, tmp_path / "run", progress=False)
    assert result.steps == 40
    assert result.losses[-1] < 0.2 * result.losses[0], result.losses
    logged = [m for m in read_metrics(tmp_path / "run") if "loss" in m]
    assert [m["step"] for m in logged] == [5, 10, 15, 20, 25, 30, 35, 40]
    assert (tmp_path / "run" / "checkpoint-20" / "config.json").exists()
    assert json.loads((tmp_path / "run" / "config.json").read_text())["grad_accum"] == 2  # the run's SFTConfig
    assert result.final_dir == tmp_path / "run" / "final"
    reloaded, _ = load_policy(str(result.final_dir), device="cpu")
    for a, b in zip(model.state_dict().values(), reloaded.state_dict().values()):
        assert torch.equal(a, b)


@pytest.mark.docker
def test_validation_pass_at_1_through_the_executor(tmp_path):
    """Memorise two solutions; samples then pass every test in the executor (docker sandbox)."""
    torch.manual_seed(0)
    model, tokenizer = tiny_policy()
    config = SFTConfig(epochs=60, lr=3e-3, batch_size=2, warmup_steps=3, tensorboard=False, backend="docker",
                       eval_every=30, validation=ValidationConfig(samples=2, ks=(1, 2), max_new_tokens=40,
                                                                  temperature=0.3))
    result = train_sft(model, tokenizer, PROBLEMS, config, tmp_path / "run", val_problems=PROBLEMS, progress=False)
    assert [e["step"] for e in result.evals] == [30, 60]
    assert result.evals[-1]["eval/pass@1"] == result.evals[-1]["eval/pass@2"] == 1.0
    assert [m["eval/pass@1"] for m in read_metrics(tmp_path / "run") if "eval/pass@1" in m] == \
        [e["eval/pass@1"] for e in result.evals]
