"""Sampling from a policy: `make_generator` picks the backend, every backend returns `Generation` records."""

from __future__ import annotations

from typing import Any

from codelhf.errors import UserError
from codelhf.generation.base import Generation, Generator, SamplingParams
from codelhf.generation.hf import HFGenerator
from codelhf.policy import load_policy, resolve_model_path

BACKENDS = ("hf", "vllm")

__all__ = ["BACKENDS", "Generation", "Generator", "SamplingParams", "make_generator"]


def make_generator(model_or_path: Any, backend: str = "hf", *, tokenizer: Any = None, device: str | None = None,
                   dtype: Any = None, **kwargs: Any) -> Generator:
    """A `Generator` for a model object (with its `tokenizer`), a local path, a hub name, or "tiny".

    `hf` loads through `codelhf.policy.load_policy` (or wraps the given model); `vllm` loads the path itself.
    Extra `kwargs` go to the backend (`batch_size` for hf; engine arguments for vllm)."""
    if backend not in BACKENDS:
        raise UserError(f"unknown sampling backend {backend!r}", f"use one of: {', '.join(BACKENDS)}")
    if backend == "hf":
        if isinstance(model_or_path, str):
            model, tokenizer = load_policy(model_or_path, device=device, dtype=dtype)
            return HFGenerator(model, tokenizer, **kwargs)
        if tokenizer is None:
            raise UserError("make_generator: a model object needs its tokenizer", "pass tokenizer=...")
        return HFGenerator(model_or_path, tokenizer, **kwargs)

    if not isinstance(model_or_path, str):
        raise UserError("the vllm backend loads a model by path or name, not a model object",
                        "save the model with save_pretrained and pass the directory, or use backend='hf'")
    from codelhf.generation.vllm import VLLMGenerator  # the optional vllm extra, imported only when chosen

    if dtype is not None:
        kwargs["dtype"] = str(dtype).removeprefix("torch.")
    return VLLMGenerator(resolve_model_path(model_or_path), **kwargs)
