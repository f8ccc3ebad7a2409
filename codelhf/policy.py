"""Load a policy (model + tokenizer) by hub name, local path, or "tiny"; every trainer and sampler starts here.

The tiny bundled model is a checkpoint directory shipped inside the package (`codelhf/tiny_model/`, built by
`codelhf tiny build` from `codelhf/tiny.py`), so it takes exactly the path a user's CodeLlama / DeepSeek-Coder /
Qwen-Coder checkpoint takes: `AutoModelForCausalLM` and `AutoTokenizer`. Resolving a model never trains one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.utils import logging as hf_logging

from codelhf.errors import UserError

TINY = "tiny"
TINY_DIR = Path(__file__).parent / "tiny_model"
"""Where the bundled tiny model lives (weights in float16, tokenizer, BUILD.txt with the recipe that made it)."""


def resolve_model_path(name_or_path: str) -> str:
    """"tiny" → the bundled checkpoint directory; anything else is passed on to transformers."""
    if name_or_path != TINY:
        return name_or_path
    if not (TINY_DIR / "config.json").exists():
        raise UserError(f"the bundled tiny model is missing ({TINY_DIR} has no config.json)",
                        "rebuild it with `codelhf tiny build` (about 10 minutes on a CPU), or reinstall codelhf")
    return str(TINY_DIR)


def load_policy(name_or_path: str = TINY, device: str | None = None, dtype: Any = None) -> tuple[Any, Any]:
    """(model, tokenizer) in eval mode on `device` (default: CUDA when available, else CPU).

    `dtype`: a torch dtype or its name ("bfloat16"); default float32 on CPU and bfloat16 on a GPU that supports it
    (right for sampling; trainers ask for float32, their master weights). The tokenizer pads on the left
    (decoder-only batches) and always has a pad token (EOS when it had none)."""
    hf_logging.disable_progress_bar()  # our own progress bars say what is happening; weight loading is instant here
    path = resolve_model_path(name_or_path)
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if isinstance(dtype, str):
        dtype = getattr(torch, dtype)
    if dtype is None:
        dtype = torch.bfloat16 if str(device).startswith("cuda") and torch.cuda.is_bf16_supported() else torch.float32
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
    except OSError as e:
        local = Path(path).exists()
        raise UserError(f"cannot load model {name_or_path!r}: {e}".splitlines()[0],
                        "a local directory needs config.json, weights and tokenizer files (save_pretrained)"
                        if local else "give a local checkpoint directory, a Hugging Face model name (needs network "
                        "or the HF cache), or 'tiny' for the bundled model")
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.to(device)
    model.eval()
    return model, tokenizer
