"""Supervised fine-tuning on reference solutions: prompt → solution, with the loss on the solution tokens only.

SFT is the starting point of both RL methods (the paper's PPO and DPO start from, and DPO is anchored to, an SFT
model; Xu et al. 2024), and it is how the tiny bundled model is trained from scratch. The file reads top to bottom:
config, data (tokenise, mask, batch), evaluation (sample → execute → pass@k), loop.

Batches are padded, not packed: examples of similar length are batched together (length-grouped shuffling), which
wastes little padding and keeps every example's attention to itself without document masks.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from codelhf.errors import UserError
from codelhf.execution import Executor
from codelhf.metrics import MetricsLogger
from codelhf.problems import Problem
from codelhf.prompting import build_prompt, encode_prompt, sft_target
from codelhf.train.common import (
    autocast,
    check_precision,
    collate,
    completion_logps,
    float32_weights,
    lr_multiplier,
    save_policy,
)
from codelhf.train.validation import ValidationConfig, select, validate


@dataclass
class SFTConfig:
    epochs: float = 3.0
    """Passes over the training examples (fractions allowed: 0.5 stops half-way)."""
    lr: float = 1e-5
    """Peak learning rate of AdamW (a pretrained 7B–34B code model: 1e-5 to 2e-5; from scratch: ~1e-3)."""
    weight_decay: float = 0.0
    """AdamW weight decay (not applied to biases and norms)."""
    betas: tuple[float, float] = (0.9, 0.95)
    """AdamW betas."""
    batch_size: int = 8
    """Sequences per micro-batch (one forward/backward)."""
    grad_accum: int = 1
    """Micro-batches per optimizer step; the effective batch is batch_size × grad_accum."""
    warmup_steps: int = 10
    """Optimizer steps of linear warm-up from 0 to `lr`; then cosine decay to `min_lr_ratio` × lr."""
    min_lr_ratio: float = 0.1
    """Learning rate at the end of the cosine schedule, as a fraction of `lr`."""
    max_grad_norm: float = 1.0
    """Gradients are clipped to this global norm (0 = no clipping)."""
    max_len: int = 1024
    """Longest prompt + solution in tokens; longer examples are skipped (and counted), never cut mid-solution."""
    solutions_per_problem: int = 1
    """How many of each problem's reference solutions become examples (the first ones in the file)."""
    precision: str = "auto"
    """bf16 autocast of forward passes: auto (on GPUs that support it), bf16 (anywhere) or fp32 (never); weights
    and optimizer state stay float32."""
    seed: int = 0
    """Seeds shuffling, initialisation-free randomness and evaluation sampling."""
    log_every: int = 10
    """Optimizer steps between metric lines."""
    save_every: int = 0
    """Optimizer steps between checkpoints in OUT/checkpoint-STEP (0 = only the final model, OUT/final)."""
    eval_every: int = 0
    """Optimizer steps between validation passes (0 = only after training, when validation problems are given)."""
    validation: ValidationConfig = field(default_factory=lambda: ValidationConfig(limit=64))
    """How validation samples: the same settings as every trainer's (here 64 problems by default)."""
    backend: str = "docker"
    """Sandbox backend for validation: "docker" (sandboxed) or "local" (runs programs on this host)."""
    tensorboard: bool = True
    """Write TensorBoard event files beside metrics.jsonl."""

    def __post_init__(self) -> None:
        check_precision(self.precision)
        if isinstance(self.validation, dict):
            self.validation = ValidationConfig(**self.validation)


@dataclass
class SFTResult:
    out_dir: Path
    steps: int
    final_dir: Path | None = None
    """Where the trained model and tokenizer were saved."""
    losses: list[float] = field(default_factory=list)
    """Mean solution-token loss of each optimizer step."""
    evals: list[dict[str, float]] = field(default_factory=list)
    """Each validation pass: {"step", "eval/pass@1", "eval/pass_rate"}."""
    skipped_too_long: int = 0


# ---------------------------------------------------------------------------------------------------------------
# data: (prompt, solution) → input ids with the prompt masked out of the labels
# ---------------------------------------------------------------------------------------------------------------


def make_examples(problems: Sequence[Problem], tokenizer: Any,
                  config: SFTConfig) -> tuple[list[tuple[list[int], int]], int]:
    """Tokenised examples (prompt + solution ids, prompt length); the loss covers the ids after the prompt.
    Returns (examples, skipped)."""
    examples, skipped = [], 0
    for problem in problems:
        prompt_ids = encode_prompt(tokenizer, build_prompt(problem, tokenizer))
        python = [s for s in problem.solutions if s.language == "python"]
        for solution in python[:config.solutions_per_problem]:
            target_ids = tokenizer(sft_target(solution.code), add_special_tokens=False)["input_ids"]
            target_ids = target_ids + [tokenizer.eos_token_id]
            if len(prompt_ids) + len(target_ids) > config.max_len:
                skipped += 1
                continue
            examples.append((prompt_ids + target_ids, len(prompt_ids)))
    return examples, skipped


def batches(examples: list[tuple[list[int], int]], batch_size: int,
            rng: random.Random) -> list[list[tuple[list[int], int]]]:
    """Shuffle, sort by length within windows of 50 batches, cut into batches, shuffle the batches."""
    order = examples[:]
    rng.shuffle(order)
    window = batch_size * 50
    out = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start:start + window], key=lambda e: len(e[0]))
        out.extend(chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(out)
    return out


def solution_loss_sum(model: Any, batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, int]:
    """Summed next-token cross-entropy over solution tokens, and how many there were."""
    input_ids, attention_mask, completion_mask = batch
    return -completion_logps(model, input_ids, attention_mask, completion_mask).sum(), int(completion_mask[:, 1:].sum())


# ---------------------------------------------------------------------------------------------------------------
# the loop
# ---------------------------------------------------------------------------------------------------------------


def train_sft(model: Any, tokenizer: Any, problems: Sequence[Problem], config: SFTConfig, out_dir: str | Path,
              val_problems: Sequence[Problem] = (), progress: bool = True,
              final_dir: str | Path | None = None) -> SFTResult:
    """Fine-tune `model` in place on `problems`' reference solutions.

    `out_dir` gets metrics.jsonl, config.json (this config), tensorboard/ and checkpoint-STEP/; the final model and
    tokenizer go to `final_dir` (default `out_dir/final`), loadable by path like any checkpoint. Validation
    (`codelhf.train.validation`) runs on `val_problems` every `eval_every` steps and after the last."""
    out_dir = Path(out_dir)
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    float32_weights(model)  # master weights in float32; autocast does the rest
    device = model.device

    examples, skipped = make_examples(problems, tokenizer, config)
    if not examples:
        raise UserError(f"no SFT examples: {len(problems)} problems, {skipped} examples longer than "
                        f"max_len={config.max_len}", "give problems with python reference solutions, or raise max_len")
    steps_per_epoch = math.ceil(len(examples) / (config.batch_size * config.grad_accum))
    total_steps = max(1, round(steps_per_epoch * config.epochs))
    val_problems = select(val_problems, config.validation)

    decay = [p for n, p in model.named_parameters() if p.requires_grad and p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.requires_grad and p.ndim < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=config.lr, betas=config.betas)
    logger = MetricsLogger(out_dir, tensorboard=config.tensorboard,
                           config={**asdict(config), "n_examples": len(examples), "skipped_too_long": skipped})
    executor = Executor(backend=config.backend) if val_problems else None
    result = SFTResult(out_dir=out_dir, steps=0, skipped_too_long=skipped)

    def run_eval(step: int) -> None:
        with autocast(device, config.precision):
            metrics = validate(model, tokenizer, val_problems, executor, config.validation)
        logger.log(metrics, step)
        result.evals.append({"step": step, **metrics})

    micro_batches: list[list[tuple[list[int], int]]] = []
    model.train()
    start = time.time()
    bar = Progress(TextColumn("sft"), BarColumn(), TextColumn("{task.completed}/{task.total} steps"),
                   TextColumn("loss {task.fields[loss]:.3f}"), TimeRemainingColumn(), disable=not progress)
    try:
        with bar, logger:
            task = bar.add_task("sft", total=total_steps, loss=float("nan"))
            for step in range(total_steps):
                lr = config.lr * lr_multiplier(step, total_steps, config.warmup_steps, config.min_lr_ratio)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                # one optimizer step = grad_accum micro-batches; the loss is a mean over all their solution tokens
                step_batches = []
                for _ in range(config.grad_accum):
                    if not micro_batches:
                        micro_batches = batches(examples, config.batch_size, rng)
                    step_batches.append(collate(micro_batches.pop(), tokenizer.pad_token_id, device))
                n_tokens = sum(int(b[2][:, 1:].sum()) for b in step_batches)
                step_loss = 0.0
                for b in step_batches:
                    with autocast(device, config.precision):
                        loss_sum, _ = solution_loss_sum(model, b)
                    (loss_sum / n_tokens).backward()
                    step_loss += float(loss_sum.detach()) / n_tokens
                grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm or float("inf"))
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                result.losses.append(step_loss)
                result.steps = step + 1
                bar.update(task, advance=1, loss=step_loss)

                if (step + 1) % config.log_every == 0 or step + 1 == total_steps:
                    logger.log({"loss": step_loss, "learning_rate": lr, "grad_norm": float(grad_norm),
                                "num_tokens": n_tokens, "time/elapsed_s": time.time() - start}, step + 1)
                if config.save_every and (step + 1) % config.save_every == 0:
                    save_policy(model, tokenizer, out_dir / f"checkpoint-{step + 1}")
                if val_problems and config.eval_every and (step + 1) % config.eval_every == 0:
                    run_eval(step + 1)

            if val_problems and (not config.eval_every or total_steps % config.eval_every):
                run_eval(total_steps)
    finally:
        if executor is not None:
            executor.close()
    model.eval()
    result.final_dir = Path(final_dir) if final_dir is not None else out_dir / "final"
    save_policy(model, tokenizer, result.final_dir)
    return result
