"""The tiny bundled model: its tokenizer, and a tiny Llama that loads and samples like any hub checkpoint."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from codelhf.datasets.bundled import load_bundled
from codelhf.generation import SamplingParams, make_generator
from codelhf.generation.sampling import sample_problems
from codelhf.policy import TINY_DIR, load_policy
from codelhf.prompting import build_prompt
from codelhf.samples import load_samples
from codelhf.tiny import TinyRecipe, build_tiny, bundled_texts, make_model, sft_corpus, train_tokenizer


def test_tokenizer_round_trips_every_bundled_solution_and_prompt():
    tokenizer = train_tokenizer(bundled_texts(), TinyRecipe().vocab_size)
    assert 300 < len(tokenizer) <= TinyRecipe().vocab_size  # the bundled texts run out of merges before 2048
    problems = load_bundled(None)
    for text in [s.code for p in problems for s in p.solutions] + [build_prompt(p, tokenizer) for p in problems]:
        assert tokenizer.decode(tokenizer(text, add_special_tokens=False)["input_ids"]) == text
    ids = tokenizer("x = 1")["input_ids"]
    assert ids[0] == tokenizer.bos_token_id
    assert tokenizer.decode(ids, skip_special_tokens=True) == "x = 1"
    assert len({tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id}) == 3


def test_tiny_checkpoint_samples_through_the_cli_and_the_python_api_alike(tmp_path):
    """A checkpoint directory goes through AutoModelForCausalLM/AutoTokenizer, the path a hub model takes."""
    torch.manual_seed(0)
    problems = load_bundled("test")[:3]
    tokenizer = train_tokenizer([build_prompt(p) for p in problems] * 3, vocab_size=400)
    model = make_model(tokenizer, TinyRecipe(hidden_size=64, num_layers=2, num_heads=2, intermediate_size=128))
    model.save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")

    out = tmp_path / "samples.jsonl"
    cli = [sys.executable, "-m", "codelhf.cli", "sample", "--model", str(tmp_path / "model"), "--problems", "bundled",
           "--split", "test", "--limit", "3", "--n", "2", "--temperature", "1.0", "--top-k", "50",
           "--max-new-tokens", "12", "--batch-size", "4", "--seed", "5", "--device", "cpu", "--out", str(out)]
    done = subprocess.run(cli, check=False, capture_output=True, text=True, timeout=300, env={**os.environ, "NO_COLOR": "1"})
    assert done.returncode == 0, done.stderr
    from_cli = load_samples(out)
    assert [(s.problem_id, s.sample_index) for s in from_cli] == [(p.id, j) for p in problems for j in range(2)]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert all(r["language"] == "python" and "text" in r["metadata"] for r in rows)

    generator = make_generator(str(tmp_path / "model"), backend="hf", device="cpu", batch_size=4)
    params = SamplingParams(n=2, temperature=1.0, top_k=50, max_new_tokens=12, seed=5)
    from_api = sample_problems(generator, problems, params, prompts_per_call=2, progress=False)
    assert [s.program for s in from_api] == [s.program for s in from_cli]
    assert [s.metadata["text"] for s in from_api] == [s.metadata["text"] for s in from_cli]


def test_cli_sample_rejects_an_unknown_sampler_and_a_missing_model(tmp_path):
    base = [sys.executable, "-m", "codelhf.cli", "sample", "--problems", "bundled", "--split", "test", "--limit", "1",
            "--out", str(tmp_path / "s.jsonl")]
    done = subprocess.run(base + ["--sampler", "nope"], check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "unknown sampling backend" in done.stderr
    done = subprocess.run(base + ["--model", str(tmp_path / "missing")], check=False, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2 and "cannot load model" in done.stderr


def test_the_noisy_corpus_swaps_in_near_miss_solutions_for_the_stated_share():
    recipe = TinyRecipe()
    train, corpus = load_bundled("train"), sft_corpus(recipe)
    assert [p.id for p in corpus] == [p.id for p in train]
    swapped = [c for p, c in zip(train, corpus) if c.solutions != p.solutions]
    assert all(c.solutions == p.incorrect_solutions for p, c in zip(train, corpus) if c.solutions != p.solutions)
    assert abs(len(swapped) / len(train) - recipe.noisy_fraction) < 0.03
    assert sft_corpus(TinyRecipe(noisy_fraction=0.0))[0].solutions == train[0].solutions


def test_the_recipe_builds_the_same_bits_twice_at_a_small_scale(tmp_path):
    """The real build function, at a few SFT steps: two builds are byte-identical, saved in float16, load as float32
    through `load_policy`, and record their recipe."""
    recipe = TinyRecipe(hidden_size=64, num_layers=1, num_heads=1, intermediate_size=128)
    recipe.sft = {**recipe.sft, "epochs": 0.02}
    first = build_tiny(tmp_path / "a", recipe, progress=False)
    second = build_tiny(tmp_path / "b", recipe, progress=False)
    assert (first / "model.safetensors").read_bytes() == (second / "model.safetensors").read_bytes()
    assert json.loads((first / "config.json").read_text())["dtype"] == "float16"
    assert f"recipe: {recipe!r}" in (first / "BUILD.txt").read_text()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a", "b"]  # no partial build or log left over
    model, _ = load_policy(str(first), device="cpu")
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_the_bundled_model_is_the_recipe_built_and_resolving_it_trains_nothing():
    """The checked-in artifact was made by today's recipe (BUILD.txt records it); `tiny` resolves to it."""
    build = (TINY_DIR / "BUILD.txt").read_text()
    assert f"recipe: {TinyRecipe()!r}" in build
    model, tokenizer = load_policy("tiny", device="cpu")
    assert sum(p.numel() for p in model.parameters()) == int(build.split("parameters: ")[1].split()[0])
    assert tokenizer.decode(tokenizer("x = 1")["input_ids"], skip_special_tokens=True) == "x = 1"


@pytest.mark.slow
def test_full_tiny_build_reproduces_the_bundled_model(tmp_path):
    """The real recipe from scratch (about 10 minutes on one thread): the bundled weights, bit for bit. Float
    sums are exact on one thread, but a different CPU or torch build may round differently: then this fails
    and the bundled model should be rebuilt with `codelhf tiny build` on that machine."""
    built = build_tiny(tmp_path / "tiny", progress=False)
    assert (built / "model.safetensors").read_bytes() == (TINY_DIR / "model.safetensors").read_bytes()
    assert (built / "tokenizer.json").read_bytes() == (TINY_DIR / "tokenizer.json").read_bytes()
