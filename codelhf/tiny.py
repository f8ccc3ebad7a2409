"""The tiny default policy: a 1.0M-parameter Llama trained here, on the bundled train split, in minutes on a CPU.

A new user gets the whole pipeline (sample → execute → reward → PPO/DPO → pass@k) without downloading anything,
and every test gets a real transformers checkpoint that loads through the same path as a hub model
(`AutoModelForCausalLM.from_pretrained(path)`). The build is deterministic (fixed seeds; same machine, same
thread count, same bits) and cached in the user's cache directory; a new `VERSION` rebuilds it.

It is imperfect on purpose: after SFT its held-out pass@1 sits well inside 5–60%, so RL has room to improve it.
The recipe: a byte-level BPE tokenizer (exact round trip of any text), a Llama with head size 64 (vLLM rejects
16), trained by `codelhf.train.sft` on prompt → reference solution with loss on the solution only.

What we saw tuning it (bundled test split, greedy): 3 epochs gave pass@1 ≈ 4% (right code shape, wrong constants
copied from the statement); 6 epochs ≈ 45% (constants copied; the held-out families stay at 0%). The build is
≈ 190 s of CPU on one thread; a 3M-parameter variant (hidden 256) cost 2.6× as much per token.
"""

from __future__ import annotations

import dataclasses
import os
import random
import shutil
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from codelhf.datasets.bundled import load_bundled
from codelhf.policy import TINY_DIR
from codelhf.problems import Problem
from codelhf.prompting import build_prompt, sft_target
from codelhf.train.sft import SFTConfig, train_sft

VERSION = 2
"""Bump when the recipe changes (it is written into BUILD.txt beside the weights)."""

PAD, BOS, EOS = "<|pad|>", "<|bos|>", "<|eos|>"


@dataclass
class TinyRecipe:
    """Everything that determines the tiny model; the defaults are the bundled one."""
    vocab_size: int = 2048
    """Largest BPE vocabulary, special tokens included (the bundled texts run out of merges at about 1,100)."""
    hidden_size: int = 128
    num_layers: int = 4
    num_heads: int = 2
    """Head size = hidden_size / num_heads = 64 (vLLM's kernels take 32, 64, 80, ...; not 16)."""
    intermediate_size: int = 384
    max_position_embeddings: int = 1024
    seed: int = 0
    noisy_fraction: float = 0.3
    """Share of training problems whose SFT example is the set's near-miss incorrect solution instead of the
    reference (a noisy corpus, as scraped human code is)."""
    sft: dict[str, Any] = field(default_factory=lambda: {
        "epochs": 6, "lr": 3e-3, "batch_size": 16, "warmup_steps": 20, "max_len": 512, "eval_every": 0,
        "save_every": 0, "seed": 0, "tensorboard": False})
    """Overrides for `codelhf.train.sft.SFTConfig` (the tiny model trains from scratch: a high lr)."""


# ---------------------------------------------------------------------------------------------------------------
# tokenizer and model
# ---------------------------------------------------------------------------------------------------------------


def train_tokenizer(texts: Iterable[str], vocab_size: int = 2048) -> Any:
    """A byte-level BPE tokenizer trained on `texts`, wrapped as a transformers fast tokenizer.

    Byte-level so that decode(encode(x)) == x for any text (indentation, unicode); BOS is added by the
    post-processor, EOS ends every SFT target; no chat template, so prompts use the plain template."""
    tok = Tokenizer(models.BPE())
    # digits one by one: copying a constant from the statement into the code is then a copy of a few tokens
    # seen everywhere, which a tiny model learns far sooner than one embedding per number
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                 pre_tokenizers.ByteLevel(add_prefix_space=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[PAD, BOS, EOS], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(single=f"{BOS} $A", pair=f"{BOS} $A $B",
                                                       special_tokens=[(BOS, tok.token_to_id(BOS))])
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=PAD, bos_token=BOS, eos_token=EOS,
                                   padding_side="left", model_max_length=1024)


def make_model(tokenizer: Any, recipe: TinyRecipe | None = None) -> Any:
    """A randomly initialised Llama sized by `recipe`, its special tokens taken from `tokenizer`."""
    recipe = recipe or TinyRecipe()
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=recipe.hidden_size, intermediate_size=recipe.intermediate_size,
        num_hidden_layers=recipe.num_layers, num_attention_heads=recipe.num_heads,
        num_key_value_heads=recipe.num_heads, max_position_embeddings=recipe.max_position_embeddings,
        tie_word_embeddings=True, pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id)
    torch.manual_seed(recipe.seed)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def sft_corpus(recipe: TinyRecipe | None = None) -> list[Problem]:
    """The bundled train split as the tiny model learns it: a `noisy_fraction` of its problems carry their
    near-miss incorrect solution in place of the reference."""
    recipe = recipe or TinyRecipe()
    rng = random.Random(f"tiny-noise/{recipe.seed}")
    corpus = []
    for p in load_bundled("train"):
        if rng.random() < recipe.noisy_fraction and p.incorrect_solutions:
            p = dataclasses.replace(p, solutions=list(p.incorrect_solutions))
        corpus.append(p)
    return corpus


def bundled_texts(recipe: TinyRecipe | None = None) -> list[str]:
    """What the tokenizer learns from: the SFT corpus's prompts (as the model sees them) and solutions."""
    train = sft_corpus(recipe)
    return [build_prompt(p) for p in train] + [sft_target(s.code) for p in train for s in p.solutions]


# ---------------------------------------------------------------------------------------------------------------
# the bundled build
# ---------------------------------------------------------------------------------------------------------------


def build_tiny(out_dir: str | Path = TINY_DIR, recipe: TinyRecipe | None = None, *, progress: bool = True) -> Path:
    """Build the tiny model from scratch into `out_dir` (default: the package's own `codelhf/tiny_model/`):
    tokenizer on the SFT corpus, Llama, SFT, weights saved in float16 with `save_pretrained`.

    Built in a temporary sibling and renamed at the end, so an interrupted build never replaces a good one.
    BUILD.txt beside the weights records the recipe, the time it took and the SFT loss at the start and end."""
    out = Path(out_dir)
    recipe = recipe or TinyRecipe()
    start, cpu_start = time.time(), time.process_time()
    tokenizer = train_tokenizer(bundled_texts(recipe), recipe.vocab_size)
    model = make_model(tokenizer, recipe)

    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    # One thread: the same bits on every run (float sums do not depend on the core count), and on a shared or
    # 2-core machine it is as fast as two (oversubscribed threads spin).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with tempfile.TemporaryDirectory() as log_dir:
            result = train_sft(model, tokenizer, sft_corpus(recipe), SFTConfig(**recipe.sft), log_dir,
                               progress=progress, final_dir=tmp)
    finally:
        torch.set_num_threads(threads)
    model.to(torch.float16).save_pretrained(tmp)  # a few MB; loaded back as float32 (`load_policy`)
    (tmp / "BUILD.txt").write_text(f"codelhf tiny model v{VERSION}\nparameters: {model.num_parameters()}\n"
                                   f"sft_steps: {result.steps}\nsft_loss_first_last: {result.losses[0]:.4f} "
                                   f"{result.losses[-1]:.4f}\nbuild_seconds: {time.time() - start:.1f}\n"
                                   f"cpu_seconds: {time.process_time() - cpu_start:.1f}\n"
                                   f"load_average: {os.getloadavg()[0]:.1f}\nrecipe: {recipe!r}\n")
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return out
