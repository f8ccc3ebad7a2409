"""The transformers sampler on a tiny random Llama made here: stop strings, left padding, seeds, log-probs."""

from __future__ import annotations

import pytest
import torch

from codelhf.generation import SamplingParams, make_generator
from codelhf.generation.hf import HFGenerator
from codelhf.prompting import encode_prompt
from codelhf.tiny import TinyRecipe, make_model, train_tokenizer

TEXTS = ["n = int(input())\nprint(n * 2)\n", "def add(a, b):\n    return a + b\n",
         "Read two integers and print their sum.\n", "s = input().strip()\nprint(s[::-1])\n"] * 10
PROMPTS = ["Read", "def add(a, b):\n    return", "s = input().strip()\nprint(s[::-1])\nn = int(input())\n"]


@pytest.fixture(scope="module")
def policy():
    torch.manual_seed(0)
    tokenizer = train_tokenizer(TEXTS, vocab_size=300)
    model = make_model(tokenizer, TinyRecipe(hidden_size=64, num_layers=2, num_heads=2, intermediate_size=128))
    # a random model is too flat to ever stop; sharpen it so greedy decoding has clear preferences
    with torch.no_grad():
        model.model.embed_tokens.weight.mul_(8)
    return model.eval(), tokenizer


def test_left_padded_batch_is_greedy_equal_to_single_prompts(policy):
    gen = HFGenerator(*policy)
    params = SamplingParams(temperature=0.0, max_new_tokens=12)
    batched = gen.generate(PROMPTS, params)
    for prompt, [together] in zip(PROMPTS, batched):
        [[alone]] = gen.generate([prompt], params)
        assert together.token_ids == alone.token_ids
        assert together.text == alone.text
        assert together.logprobs == pytest.approx(alone.logprobs, abs=1e-4)


def test_logprobs_match_a_forward_pass_under_the_temperature(policy):
    """log softmax(logits / T) of each sampled token, recomputed on prompt + generation in one forward pass."""
    model, tokenizer = policy
    params = SamplingParams(n=2, temperature=0.7, top_k=20, top_p=0.9, max_new_tokens=10, seed=3)
    for [g, _] in HFGenerator(model, tokenizer).generate(PROMPTS, params):
        ids = torch.tensor([g.prompt_ids + g.token_ids])
        with torch.no_grad():
            logits = model(input_ids=ids).logits[0, len(g.prompt_ids) - 1:-1].float()
        expected = torch.log_softmax(logits / 0.7, -1).gather(-1, torch.tensor(g.token_ids)[:, None]).squeeze(-1)
        assert g.logprobs == pytest.approx(expected.tolist(), abs=1e-4)
        assert g.prompt_ids == encode_prompt(tokenizer, g.prompt)
        assert g.prompt_ids[0] == tokenizer.bos_token_id


def test_stop_strings_cut_text_and_tokens(policy):
    model, tokenizer = policy
    gen = HFGenerator(model, tokenizer)
    [[free]] = gen.generate([PROMPTS[0]], SamplingParams(temperature=0.0, max_new_tokens=30))
    assert len(free.text) > 4, "the sharpened model should produce some text"
    stop = free.text[2:4]  # a string we know greedy decoding produces
    [[cut]] = gen.generate([PROMPTS[0]], SamplingParams(temperature=0.0, max_new_tokens=30, stop=[stop]))
    assert cut.finish_reason == "stop"
    assert cut.text == free.text[:free.text.find(stop)]
    assert stop not in cut.text
    # the token ids end with the token that completed the stop string, and are a prefix of the free run
    assert cut.token_ids == free.token_ids[:len(cut.token_ids)]
    assert stop in tokenizer.decode(cut.token_ids) and stop not in tokenizer.decode(cut.token_ids[:-1])
    assert len(cut.logprobs) == len(cut.token_ids)


def test_eos_ends_generation_and_is_kept(policy):
    """Any id in the model's generation_config.eos_token_id ends a sequence; it stays in token_ids, not in text."""
    model, tokenizer = policy
    params = SamplingParams(temperature=0.0, max_new_tokens=20)
    [[free]] = HFGenerator(model, tokenizer).generate(["Read"], params)
    eos = free.token_ids[3]
    first = free.token_ids.index(eos)
    saved = model.generation_config.eos_token_id
    model.generation_config.eos_token_id = [tokenizer.eos_token_id, eos]
    try:
        [[g]] = HFGenerator(model, tokenizer).generate(["Read"], params)
    finally:
        model.generation_config.eos_token_id = saved
    assert g.finish_reason == "stop"
    assert g.token_ids == free.token_ids[:first + 1]
    assert g.text == tokenizer.decode(free.token_ids[:first])


def test_seeds_make_sampling_reproducible_and_n_samples_differ(policy):
    gen = HFGenerator(*policy, batch_size=4)
    params = SamplingParams(n=6, temperature=1.5, max_new_tokens=8, seed=11)
    first, second = gen.generate(PROMPTS[:1], params), gen.generate(PROMPTS[:1], params)
    assert [g.token_ids for g in first[0]] == [g.token_ids for g in second[0]]
    assert len({tuple(g.token_ids) for g in first[0]}) > 1
    other = gen.generate(PROMPTS[:1], SamplingParams(n=6, temperature=1.5, max_new_tokens=8, seed=12))
    assert [g.token_ids for g in other[0]] != [g.token_ids for g in first[0]]


def test_top_k_one_is_greedy(policy):
    gen = HFGenerator(*policy)
    greedy = gen.generate(PROMPTS, SamplingParams(temperature=0.0, max_new_tokens=8))
    top1 = gen.generate(PROMPTS, SamplingParams(temperature=1.0, top_k=1, max_new_tokens=8, seed=0))
    assert [g[0].token_ids for g in greedy] == [g[0].token_ids for g in top1]


def test_saved_model_loads_by_path_and_samples_like_the_original(policy, tmp_path):
    model, tokenizer = policy
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    params = SamplingParams(n=2, temperature=0.0, max_new_tokens=10)
    from_path = make_generator(str(tmp_path), backend="hf", device="cpu").generate(PROMPTS, params)
    in_memory = make_generator(model, tokenizer=tokenizer).generate(PROMPTS, params)
    assert [[g.token_ids for g in gs] for gs in from_path] == [[g.token_ids for g in gs] for gs in in_memory]
