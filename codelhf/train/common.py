"""What every trainer shares: padded token batches, log-probabilities of completions, the learning-rate schedule,
the device and mixed precision.

Mixed precision follows one rule in SFT, PPO and DPO: the weights, the optimizer state (and PPO's reference EMA)
stay float32; only the forward passes run under bfloat16 autocast. Updating bfloat16 weights in place loses every
step smaller than about 1/256 of a weight (at the paper's lr of 1e-5, `w - 1e-5 == w` for typical weights), and an
EMA with η = 0.001 would never move.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from codelhf.errors import UserError

PRECISIONS = ("auto", "bf16", "fp32")


def pick_device(name: str | None) -> torch.device:
    """The named device, or CUDA when available, else the CPU."""
    return torch.device(name or ("cuda" if torch.cuda.is_available() else "cpu"))


def check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise UserError(f"precision is {precision!r}", f"use one of: {', '.join(PRECISIONS)}")


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """bfloat16 autocast for forward passes: `bf16` anywhere, `auto` on GPUs that support it, `fp32` never."""
    check_precision(precision)
    bf16 = precision == "bf16" or (precision == "auto" and device.type == "cuda" and torch.cuda.is_bf16_supported())
    return torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()


def float32_weights(model: Any) -> Any:
    """The model with float32 parameters (master weights), converted in place when it was loaded in half precision."""
    if any(p.dtype != torch.float32 for p in model.parameters()):
        model.float()
    return model


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """torch's CPU threads set to `n` inside the block, restored after (None: unchanged). Trainers give their
    update every core: the sandbox is idle while the policy learns, but needs its share while samples run."""
    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def lr_multiplier(step: int, total_steps: int, warmup_steps: int, floor: float = 0.0) -> float:
    """Multiplier of the peak learning rate at optimizer step `step` (0-based): linear warm-up over `warmup_steps`,
    then cosine decay to `floor` at the last step."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def save_policy(model: Any, tokenizer: Any, path: str | Path) -> None:
    """A checkpoint that loads like any hub model: `codelhf sample --model PATH` / `load_policy(PATH)`."""
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)


def collate(seqs: Sequence[tuple[list[int], int]], pad_id: int,
            device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(token ids, prompt length) pairs → right-padded input_ids [B, T], attention_mask [B, T] and completion_mask
    [B, T] (1 on the tokens after the prompt)."""
    width = max(len(ids) for ids, _ in seqs)
    input_ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(seqs), width), dtype=torch.long)
    completion_mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, (ids, prompt_len) in enumerate(seqs):
        input_ids[row, :len(ids)] = torch.tensor(ids)
        attention_mask[row, :len(ids)] = 1
        completion_mask[row, prompt_len:len(ids)] = 1
    return input_ids.to(device), attention_mask.to(device), completion_mask.to(device)


def completion_logps(model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                     completion_mask: torch.Tensor) -> torch.Tensor:
    """log π(token | prefix) of every completion token, 0 elsewhere: [B, T-1] (token t is predicted at t−1).
    SFT minimises minus their sum; DPO compares their per-sequence sums."""
    logits = model(input_ids=input_ids, attention_mask=attention_mask).logits[:, :-1].float()  # [B, T-1, V]
    per_token_logps = torch.gather(logits.log_softmax(-1), 2, input_ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    return per_token_logps * completion_mask[:, 1:]
