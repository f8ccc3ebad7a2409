"""DPO: the loss and its gradient against hand computation, log-probabilities of completions, and smoke runs."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from codelhf.metrics import read_metrics
from codelhf.tiny import TinyRecipe, make_model, train_tokenizer
from codelhf.train.dpo import DPOConfig, dpo_loss, encode, sequence_logps, train_dpo


def test_dpo_loss_and_gradient_match_hand_computation():
    """Two pairs, β = 0.1.

    Pair 1: log π(y_w) = −1, log π(y_l) = −2, both reference log-probs −1.5.
      chosen_logratios = 0.5, rejected_logratios = −0.5, z = β·(0.5 − (−0.5)) = 0.1
      loss = −log σ(0.1) = log(1 + e^−0.1) = 0.6443966600
      ∂loss/∂chosen_logps = −β·σ(−z) = −0.1 · 0.4750208125 = −0.04750208125; ∂/∂rejected = +0.04750208125
      rewards: chosen β·0.5 = 0.05, rejected β·(−0.5) = −0.05
    Pair 2: everything 0 → z = 0, loss = log 2 = 0.6931471806, gradients ∓β·σ(0) = ∓0.05.
    The mean over the batch halves each gradient.
    """
    chosen_logps = torch.tensor([-1.0, 0.0], requires_grad=True)
    rejected_logps = torch.tensor([-2.0, 0.0], requires_grad=True)
    losses, chosen_rewards, rejected_rewards = dpo_loss(
        chosen_logps, rejected_logps, torch.tensor([-1.5, 0.0]), torch.tensor([-1.5, 0.0]), beta=0.1)
    assert losses.tolist() == pytest.approx([0.6443966600, 0.6931471806], abs=1e-7)
    assert chosen_rewards.tolist() == pytest.approx([0.05, 0.0], abs=1e-7)
    assert rejected_rewards.tolist() == pytest.approx([-0.05, 0.0], abs=1e-7)
    losses.mean().backward()
    assert chosen_logps.grad.tolist() == pytest.approx([-0.04750208125 / 2, -0.05 / 2], abs=1e-7)
    assert rejected_logps.grad.tolist() == pytest.approx([0.04750208125 / 2, 0.05 / 2], abs=1e-7)


def test_dpo_loss_is_zero_gradient_free_at_infinite_margin_and_log2_at_reference():
    """At π = π_ref every pair costs log 2; a huge margin costs ~0 (the sigmoid saturates)."""
    zeros = torch.zeros(3)
    losses, _, _ = dpo_loss(zeros, zeros, zeros, zeros, beta=0.1)
    assert losses.tolist() == pytest.approx([math.log(2)] * 3)
    losses, _, _ = dpo_loss(torch.tensor([0.0]), torch.tensor([-1000.0]), torch.zeros(1), torch.zeros(1), beta=0.1)
    assert losses.item() == pytest.approx(0.0, abs=1e-30)


class TableModel(torch.nn.Module):
    """A 'language model' whose next-token logits depend only on the position: logits[t] = table[t]."""

    def __init__(self, table: torch.Tensor):
        super().__init__()
        self.table = torch.nn.Parameter(table)

    def forward(self, input_ids, attention_mask=None):
        return SimpleNamespace(logits=self.table[: input_ids.shape[1]].expand(input_ids.shape[0], -1, -1))


def test_sequence_logps_sums_only_completion_tokens():
    """Vocabulary of 2, logits at every position [0, log 3] → p(0) = 1/4, p(1) = 3/4.

    Sequence [1, 0, 1, 1] with the completion = the last two tokens ([1, 1]) → log(3/4) + log(3/4).
    The prompt tokens (0 at position 1) and padding (mask 0) do not count."""
    model = TableModel(torch.tensor([[0.0, math.log(3.0)]] * 4))
    input_ids = torch.tensor([[1, 0, 1, 1], [1, 0, 0, 0]])
    attention_mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]])
    completion_mask = torch.tensor([[0, 0, 1, 1], [0, 0, 1, 0]])
    logps = sequence_logps(model, input_ids, attention_mask, completion_mask)
    assert logps.tolist() == pytest.approx([2 * math.log(0.75), math.log(0.25)])


# ---------------------------------------------------------------------------------------------------------------
# A tiny random Llama and a byte-level tokenizer made here, so the smoke runs need nothing downloaded.
# ---------------------------------------------------------------------------------------------------------------


def tiny_llama(seed: int = 0):
    """A random tiny Llama and its byte-level BPE tokenizer, made by the tiny model's own recipe functions."""
    tokenizer = train_tokenizer(["print(int(input()) + 1)", "n = int(input())\nprint(n * 2)",
                                 "print(sum(map(int, input().split())))"] * 10, vocab_size=300)
    model = make_model(tokenizer, TinyRecipe(hidden_size=64, num_layers=2, num_heads=2, intermediate_size=128,
                                             seed=seed))
    return model, tokenizer


def test_encode_marks_the_completion_and_appends_eos():
    _, tokenizer = tiny_llama()
    ids, prompt_len = encode(tokenizer, "Add one.\n", "print(1)", 100, 100)
    assert ids[prompt_len:-1] == tokenizer("print(1)", add_special_tokens=False)["input_ids"]
    assert ids[-1] == tokenizer.eos_token_id
    assert tokenizer.decode(ids[:prompt_len], skip_special_tokens=True) == "Add one.\n"


def test_dpo_smoke_raises_the_chosen_vs_rejected_margin(tmp_path):
    """A few steps on a tiny random model: the implicit reward margin and accuracy grow, metrics and checkpoint
    are written, and the saved model reloads. The model has attention dropout, which DPO must keep off: the first
    step's margin is then exactly 0 (the policy equals its reference), as it would not be in train mode."""
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(1)
    model, tokenizer = tiny_llama()
    for layer in model.model.layers:
        layer.self_attn.attention_dropout = 0.5
    pairs = [{"prompt": f"Problem {i}: print n + 1.\n", "chosen": "print(int(input()) + 1)\n",
              "rejected": "print(int(input()) * 2)\n", "problem_id": str(i)} for i in range(8)]
    config = DPOConfig(lr=1e-2, epochs=6, batch_size=4, warmup_ratio=0.0, device="cpu")
    result = train_dpo(model, tokenizer, pairs, config, tmp_path)

    records = read_metrics(tmp_path)
    assert result.steps == len(records) == 12
    assert records[0]["rewards/margins"] == pytest.approx(0.0, abs=1e-6)  # first step: π = π_ref
    assert records[-1]["rewards/margins"] > 0.5
    assert records[-1]["rewards/accuracies"] == 1.0
    assert records[-1]["loss"] < math.log(2) - 0.1
    assert not model.training
    assert {"rewards/chosen", "rewards/rejected", "logps/chosen", "logps/rejected"} <= set(records[-1])
    assert (tmp_path / "tensorboard").is_dir()
    reloaded = AutoModelForCausalLM.from_pretrained(result.checkpoint)
    assert torch.equal(reloaded.model.embed_tokens.weight, model.model.embed_tokens.weight)


def test_dpo_iter_smoke_with_the_real_executor(tmp_path):
    """Two rounds on a random tiny model with the local sandbox backend. Its programs fail, so every pair takes the
    reference solution as the chosen one (the paper's rule); each round trains, saves its model and is validated."""
    from codelhf.problems import Problem, Solution
    from codelhf.problems import TestCase as Case
    from codelhf.train.dpo import DPOIterConfig, train_dpo_iter
    from codelhf.train.validation import ValidationConfig
    from codelhf.verdicts import load_verdicts

    torch.set_num_threads(1)
    problems = [Problem(id=f"add{k}", prompt=f"Read n and print n + {k}.",
                        public_tests=[Case("1\n", f"{1 + k}\n")], hidden_tests=[Case("5\n", f"{5 + k}\n")],
                        solutions=[Solution(f"print(int(input()) + {k})")]) for k in range(3)]
    config = DPOIterConfig(rounds=2, prompts_per_round=2, samples_per_prompt=2, max_new_tokens=12,
                           validation=ValidationConfig(samples=2, max_new_tokens=12), backend="local",
                           exec_workers=1, tensorboard=False, dpo=DPOConfig(lr=1e-3, batch_size=2, device="cpu"))
    result = train_dpo_iter(config, tmp_path, policy=tiny_llama(), train_problems=problems,
                            val_problems=problems[:2], show_progress=False)

    assert [r for r, _ in result.history] == [0, 1, 2]
    assert all("eval/pass@1" in metrics for _, metrics in result.history)
    for r in (1, 2):
        verdicts = load_verdicts(tmp_path / f"round{r}" / "verdicts.jsonl")
        assert len(verdicts) == 4 and all(v.total == 2 for v in verdicts)  # really executed, both tests
        pairs = [p for p in (tmp_path / f"round{r}" / "pairs.jsonl").read_text().splitlines()]
        assert len(pairs) == result.rounds[r - 1]["dpo_iter/pairs"] > 0
        assert (tmp_path / f"round{r}" / "final" / "config.json").exists()
    assert result.rounds[0]["dpo_iter/pairs_with_reference"] == result.rounds[0]["dpo_iter/pairs"]
    records = read_metrics(tmp_path)
    assert [r["eval/pass@1"] for r in records if "eval/pass@1" in r] == [m["eval/pass@1"] for _, m in result.history]
    assert (tmp_path / "final" / "config.json").exists()


def test_cli_pairs_then_train_dpo(tmp_path):
    """`codelhf pairs` labels samples with the local sandbox, `codelhf train dpo` trains a saved model on them."""
    from typer.testing import CliRunner

    from codelhf.cli import app
    from codelhf.problems import Problem, Solution, save_problems_jsonl
    from codelhf.problems import TestCase as Case
    from codelhf.samples import Sample, save_samples

    problems = [Problem(id="inc", prompt="Print n + 1.", public_tests=[Case("1\n", "2\n")],
                        hidden_tests=[Case("7\n", "8\n")], solutions=[Solution("print(int(input()) + 1)")])]
    save_problems_jsonl(tmp_path / "problems.jsonl", problems)
    save_samples(tmp_path / "samples.jsonl", [Sample("inc", program="print(int(input()) + 1)", sample_index=0),
                                              Sample("inc", program="print(int(input()) - 1)", sample_index=1),
                                              Sample("inc", program="print(", sample_index=2)])
    runner = CliRunner()
    result = runner.invoke(app, ["pairs", "--problems", str(tmp_path / "problems.jsonl"), "--samples",
                                 str(tmp_path / "samples.jsonl"), "--backend", "local", "--out",
                                 str(tmp_path / "pairs.jsonl")])
    assert result.exit_code == 0, result.output
    from codelhf.train.pairs import load_pairs

    rows = load_pairs(tmp_path / "pairs.jsonl")
    assert sorted(r["rejected_status"] for r in rows) == ["CE", "WA"]

    model, tokenizer = tiny_llama()
    model.save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    result = runner.invoke(app, ["train", "dpo", "--model", str(tmp_path / "model"), "--pairs",
                                 str(tmp_path / "pairs.jsonl"), "--out", str(tmp_path / "run"), "--set", "device=cpu",
                                 "--set", "batch_size=1", "--set", "lr=1e-3"])
    assert result.exit_code == 0, result.output
    assert len(read_metrics(tmp_path / "run")) == 2
    assert (tmp_path / "run" / "final" / "model.safetensors").exists()
    result = runner.invoke(app, ["train", "dpo", "--pairs", str(tmp_path / "pairs.jsonl"), "--out",
                                 str(tmp_path / "bad"), "--set", "betta=0.2"])
    assert result.exit_code != 0 and "betta" in str(result.exception)


def test_shipped_dpo_iter_config_loads():
    from pathlib import Path

    from codelhf.config import load_config
    from codelhf.train.dpo import DPOIterConfig

    path = Path(__file__).parents[2] / "codelhf" / "configs" / "dpo_iter_tiny.yaml"
    config = load_config(DPOIterConfig, path, ["dpo.lr=3e-5"])
    assert config.samples_per_prompt == 5 and config.dpo.beta == 0.1 and config.dpo.lr == 3e-5
    assert config.pairs.reference_when_none_pass and config.validation.ks == (1,)
