"""DPO on pass/fail pairs of programs, and iterative DPO (DPO-Iter), as in Xu et al. 2024 (arXiv 2404.10719).

Read top to bottom: config → loss → log-probabilities of completions → the DPO loop → DPO-Iter (sample, label by
execution, pair, train, evaluate, repeat).

The loss is the sigmoid loss of Rafailov et al. 2023. With π the policy and π_ref the frozen reference:

    chosen_logratios   = log π(y_w|x) − log π_ref(y_w|x)
    rejected_logratios = log π(y_l|x) − log π_ref(y_l|x)
    loss               = −log σ(β · (chosen_logratios − rejected_logratios))

The reference log-probabilities are computed once, before the first update, so no second model sits in memory
during training. The reference defaults to the starting model (the SFT model): the paper reports that DPO with a
reference that does not match the data (the pretrained model) collapses (0.24% vs 12.8%).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from codelhf.config import config_to_dict, save_config
from codelhf.datasets import load_problems
from codelhf.errors import UserError
from codelhf.execution import Executor
from codelhf.generation.base import SamplingParams
from codelhf.generation.hf import HFGenerator
from codelhf.metrics import MetricsLogger
from codelhf.policy import load_policy
from codelhf.problems import Problem, problems_for_step, spread
from codelhf.prompting import encode_prompt
from codelhf.samples import save_samples
from codelhf.train.common import (
    autocast,
    check_precision,
    collate,
    completion_logps,
    float32_weights,
    lr_multiplier,
    pick_device,
    save_policy,
    torch_threads,
)
from codelhf.train.pairs import PairConfig, pairs_from_solutions, pairs_from_verdicts, save_pairs
from codelhf.train.validation import ValidationConfig, sample_and_judge, select, validate
from codelhf.verdicts import save_verdicts

# ---------------------------------------------------------------------------------------------------------------
# Config
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class DPOConfig:
    """One DPO run. Paper values are for CodeLlama-34B (Xu et al. 2024, section 6); ours are scaled for the tiny
    bundled model (a few million parameters), which needs a far larger learning rate to move at all."""

    beta: float = 0.1
    """Strength of the implicit KL to the reference; 0.1 as in the paper."""
    lr: float = 1e-4
    """Peak learning rate. Paper: 1e-6 for 34B; the tiny model needs far more (the sweep in
    codelhf/configs/dpo_iter_tiny.yaml: of 2e-5, 1e-4 and 5e-4, 1e-4 gained most on paired validation and 5e-4
    collapsed)."""
    epochs: int = 1
    """Passes over the pairs; 1 as in the paper."""
    batch_size: int = 8
    """Pairs per optimizer step (before accumulation)."""
    grad_accum_steps: int = 1
    """Micro-batches accumulated per optimizer step."""
    warmup_ratio: float = 0.1
    """Share of the optimizer steps spent warming the learning rate up linearly; cosine decay to 0 afterwards."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    max_grad_norm: float = 1.0
    """Gradient clipping by global norm."""
    max_prompt_tokens: int = 768
    """Prompts longer than this keep their last tokens (the statement's end and the answer cue)."""
    max_completion_tokens: int = 512
    """Completions longer than this are cut (both chosen and rejected)."""
    reference: str = ""
    """Reference model: "" = the starting model (the SFT model, as the paper requires); else a name or path."""
    seed: int = 0
    """Seed of the pair order and of torch."""
    log_every: int = 1
    """Log metrics every this many optimizer steps."""
    device: str = ""
    """"" = cuda when available, else cpu."""
    precision: str = "auto"
    """bf16 autocast of forward passes: auto (on GPUs that support it), bf16 (anywhere) or fp32 (never); weights
    and optimizer state stay float32."""
    save: bool = True
    """Write the trained model with `save_pretrained` to `<out>/final`."""
    torch_threads: int = 0
    """CPU threads for torch (0: torch's default). One is much faster on a small, busy machine."""
    update_threads: int = 0
    """CPU threads for torch while DPO trains, when no sandbox runs (0: as torch_threads)."""

    def __post_init__(self) -> None:
        check_precision(self.precision)


@dataclass
class DPOResult:
    model: Any
    """The trained model (also saved under `checkpoint` when `save` is on)."""
    checkpoint: Path | None
    metrics: dict[str, float]
    """Means over the whole run of the logged metrics (`rewards/margins`, `rewards/accuracies`, ...)."""
    steps: int


# ---------------------------------------------------------------------------------------------------------------
# Loss
# ---------------------------------------------------------------------------------------------------------------


def dpo_loss(chosen_logps: torch.Tensor, rejected_logps: torch.Tensor, ref_chosen_logps: torch.Tensor,
             ref_rejected_logps: torch.Tensor, beta: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-pair sigmoid DPO losses [B], and the implicit rewards β·log(π/π_ref) of chosen and rejected [B].

    All inputs are summed log-probabilities of whole completions, shape [B]."""
    chosen_logratios = chosen_logps - ref_chosen_logps
    rejected_logratios = rejected_logps - ref_rejected_logps
    losses = -F.logsigmoid(beta * (chosen_logratios - rejected_logratios))
    chosen_rewards = beta * chosen_logratios.detach()
    rejected_rewards = beta * rejected_logratios.detach()
    return losses, chosen_rewards, rejected_rewards


# ---------------------------------------------------------------------------------------------------------------
# Log-probabilities of completions
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class EncodedPair:
    """Token ids of prompt+chosen and prompt+rejected, and where each completion starts."""

    chosen_ids: list[int]
    rejected_ids: list[int]
    prompt_len_chosen: int
    prompt_len_rejected: int


def encode(tokenizer: Any, prompt: str, completion: str, max_prompt_tokens: int,
           max_completion_tokens: int) -> tuple[list[int], int]:
    """Prompt and completion tokenised apart (so the boundary is exact), the prompt as the sampler encodes it and
    EOS after the completion as SFT does. Returns (ids, prompt length). The prompt keeps its last
    `max_prompt_tokens` tokens."""
    prompt_ids = encode_prompt(tokenizer, prompt)[-max_prompt_tokens:]
    completion_ids = tokenizer(completion, add_special_tokens=False)["input_ids"][:max_completion_tokens - 1]
    if tokenizer.eos_token_id is not None:
        completion_ids = completion_ids + [tokenizer.eos_token_id]
    return prompt_ids + completion_ids, len(prompt_ids)


def encode_pairs(tokenizer: Any, pairs: Sequence[dict[str, Any]], config: DPOConfig) -> list[EncodedPair]:
    out = []
    for i, pair in enumerate(pairs):
        for key in ("prompt", "chosen", "rejected"):
            if not isinstance(pair.get(key), str):
                raise UserError(f"pair {i}: field {key!r} is missing or not text",
                                "pairs are JSONL rows {prompt, chosen, rejected, ...}; see `codelhf pairs`")
        chosen_ids, n_c = encode(tokenizer, pair["prompt"], pair["chosen"], config.max_prompt_tokens,
                                 config.max_completion_tokens)
        rejected_ids, n_r = encode(tokenizer, pair["prompt"], pair["rejected"], config.max_prompt_tokens,
                                   config.max_completion_tokens)
        out.append(EncodedPair(chosen_ids, rejected_ids, n_c, n_r))
    return out


def sequence_logps(model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                   completion_mask: torch.Tensor) -> torch.Tensor:
    """Sum over completion tokens of log π(token | prefix), [B]."""
    return completion_logps(model, input_ids, attention_mask, completion_mask).sum(-1)


def pair_logps(model: Any, batch: Sequence[EncodedPair], pad_id: int,
               device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(chosen_logps [B], rejected_logps [B]) from one forward pass over the 2B sequences."""
    seqs = [(p.chosen_ids, p.prompt_len_chosen) for p in batch] + [(p.rejected_ids, p.prompt_len_rejected)
                                                                   for p in batch]
    logps = sequence_logps(model, *collate(seqs, pad_id, device))
    return logps[:len(batch)], logps[len(batch):]


@torch.no_grad()
def reference_logps(ref_model: Any, encoded: Sequence[EncodedPair], batch_size: int, pad_id: int,
                    device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The reference's (ref_chosen_logps [N], ref_rejected_logps [N]) for every pair, computed once (eval mode)."""
    ref_model.eval()
    chosen, rejected = [], []
    for start in range(0, len(encoded), batch_size):
        c, r = pair_logps(ref_model, encoded[start:start + batch_size], pad_id, device)
        chosen.append(c.cpu())
        rejected.append(r.cpu())
    return torch.cat(chosen), torch.cat(rejected)


# ---------------------------------------------------------------------------------------------------------------
# The DPO loop
# ---------------------------------------------------------------------------------------------------------------


def train_dpo(model: Any, tokenizer: Any, pairs: Sequence[dict[str, Any]], config: DPOConfig, out_dir: str | Path,
              ref_model: Any = None, logger: MetricsLogger | None = None, step_offset: int = 0) -> DPOResult:
    """Train `model` in place on preference `pairs` ({prompt, chosen, rejected} text) and return it.

    `ref_model` None means the reference is `model` as it is now (computed before the first update), or the model
    named by `config.reference`. `logger` and `step_offset` let DPO-Iter log every round on one time axis.
    The policy stays in eval mode throughout (no dropout), as its reference log-probs were computed."""
    with torch_threads(config.update_threads):
        return _train_dpo(model, tokenizer, pairs, config, out_dir, ref_model, logger, step_offset)


def _train_dpo(model: Any, tokenizer: Any, pairs: Sequence[dict[str, Any]], config: DPOConfig, out_dir: str | Path,
               ref_model: Any, logger: MetricsLogger | None, step_offset: int) -> DPOResult:
    if not pairs:
        raise UserError("no preference pairs to train on",
                        "check the pairs file, or the samples: pairs need a passing and a failing program")
    out_dir = Path(out_dir)
    device = pick_device(config.device)
    torch.manual_seed(config.seed)
    if config.torch_threads:
        torch.set_num_threads(config.torch_threads)
    float32_weights(model).to(device).eval()
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    encoded = encode_pairs(tokenizer, pairs, config)

    if ref_model is None and config.reference:
        ref_model, _ = load_policy(config.reference, device=str(device), dtype=torch.float32)
    with autocast(device, config.precision):
        ref_chosen_logps, ref_rejected_logps = reference_logps(ref_model if ref_model is not None else model,
                                                               encoded, config.batch_size, pad_id, device)
    del ref_model  # the reference is no longer needed: its log-probs are all we use

    own_logger = logger is None
    if own_logger:
        logger = MetricsLogger(out_dir, config=asdict(config))
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    micro_per_epoch = math.ceil(len(encoded) / config.batch_size)
    total_steps = max(1, config.epochs * micro_per_epoch // config.grad_accum_steps)
    warmup = int(config.warmup_ratio * total_steps)
    rng = random.Random(config.seed)

    step, micro = 0, 0
    sums: dict[str, float] = {}
    window: dict[str, list[float]] = {}
    for _epoch in range(config.epochs):
        order = list(range(len(encoded)))
        rng.shuffle(order)
        for start in range(0, len(order), config.batch_size):
            if step >= total_steps:
                break
            idx = order[start:start + config.batch_size]
            with autocast(device, config.precision):
                chosen_logps, rejected_logps = pair_logps(model, [encoded[i] for i in idx], pad_id, device)
            losses, chosen_rewards, rejected_rewards = dpo_loss(
                chosen_logps, rejected_logps, ref_chosen_logps[idx].to(device), ref_rejected_logps[idx].to(device),
                config.beta)
            (losses.mean() / config.grad_accum_steps).backward()
            stats = {
                "loss": losses.mean().item(),
                "rewards/chosen": chosen_rewards.mean().item(),
                "rewards/rejected": rejected_rewards.mean().item(),
                "rewards/margins": (chosen_rewards - rejected_rewards).mean().item(),
                "rewards/accuracies": (chosen_rewards > rejected_rewards).float().mean().item(),
                "logps/chosen": chosen_logps.detach().mean().item(),
                "logps/rejected": rejected_logps.detach().mean().item(),
            }
            for k, v in stats.items():
                window.setdefault(k, []).append(v)
            micro += 1
            if micro % config.grad_accum_steps:
                continue
            lr = config.lr * lr_multiplier(step, total_steps, warmup)
            for group in optimizer.param_groups:
                group["lr"] = lr
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            means = {k: sum(v) / len(v) for k, v in window.items()}
            for k, v in means.items():
                sums[k] = sums.get(k, 0.0) + v
            window = {}
            if step % config.log_every == 0 or step == total_steps:
                logger.log({**means, "learning_rate": lr, "grad_norm": float(grad_norm)}, step=step_offset + step)

    checkpoint = None
    if config.save:
        checkpoint = out_dir / "final"
        save_policy(model, tokenizer, checkpoint)
    if own_logger:
        logger.close()
    return DPOResult(model=model, checkpoint=checkpoint, metrics={k: v / max(1, step) for k, v in sums.items()},
                     steps=step)


# ---------------------------------------------------------------------------------------------------------------
# DPO-Iter: sample → label by execution → pairs → DPO, round after round
# ---------------------------------------------------------------------------------------------------------------


PAIR_SOURCES = ("samples", "dataset")


@dataclass
class DPOIterConfig:
    """DPO-Iter as the paper runs it on APPS (Xu et al. 2024, section 6): each round samples 5 programs per prompt
    from the current model, labels them with the tests, pairs passing with failing ones (the reference solution as
    the chosen one when none passes) and trains DPO with the previous round's model as the reference. Sampling and
    validation defaults match `PPOConfig`'s, so the two are compared on the same footing.

    With `pairs_from: dataset` a round samples nothing: its pairs are the set's own correct vs known-incorrect
    solutions of the round's problems (offline DPO, as the paper trains on CodeContests)."""

    model: str = "tiny"
    """Starting policy: "tiny" (the bundled SFT model), a hub name or a local path (ideally an SFT model)."""
    problems: str = "bundled"
    """Problem source for `codelhf.datasets.load_problems`."""
    train_split: str | None = "train"
    val_split: str | None = "validation"
    train_limit: int | None = None
    """Use at most this many training problems, at even strides over the split (None: all)."""
    rounds: int = 3
    """Rounds of sample → label → pairs → DPO."""
    prompts_per_round: int = 64
    """Training problems per round (the next slice of a seeded shuffle each round; 0: all)."""
    pairs_from: str = "samples"
    """samples: the current model's samples labelled by execution (on-policy); dataset: the set's own correct vs
    incorrect solutions (offline; nothing is sampled or executed for training)."""
    samples_per_prompt: int = 5
    """Paper: 5."""
    temperature: float = 1.0
    """Sampling temperature (paper: 1.0)."""
    top_k: int = 200
    """Paper: 200."""
    max_new_tokens: int = 160
    """As PPOConfig (paper: 1024; the tiny model's programs are short)."""
    generation_batch_size: int = 64
    tests: str = "all"
    """Which tests label a sample: all (the paper), public or hidden."""
    pairs: PairConfig = field(default_factory=PairConfig)
    """How pairs are built (cap per prompt, reference when none passes, seed)."""
    dpo: DPOConfig = field(default_factory=DPOConfig)
    """The DPO of each round; its `reference` must stay "" (each round's reference is the previous model)."""
    backend: str = "docker"
    """Executor backend: docker (sandboxed, default) or local (host, weaker isolation)."""
    exec_workers: int | None = None
    eval_every: int = 1
    """Validate every this many rounds, before the first (the starting point) and after the last."""
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    """How validation samples (the same settings for every trainer); the best validated round is `best/`."""
    seed: int = 1
    device: str | None = None
    tensorboard: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.pairs, dict):  # a YAML mapping for the whole sub-config
            self.pairs = PairConfig(**self.pairs)
        if isinstance(self.dpo, dict):
            self.dpo = DPOConfig(**self.dpo)
        if isinstance(self.validation, dict):
            self.validation = ValidationConfig(**self.validation)
        if self.dpo.reference:
            raise UserError("dpo.reference is set, but DPO-Iter's reference is always the previous round's model",
                            "drop dpo.reference (use `codelhf train dpo` for a fixed reference)")
        if self.tests not in ("all", "public", "hidden"):
            raise UserError(f"tests is {self.tests!r}", "use all, public or hidden")
        if self.pairs_from not in PAIR_SOURCES:
            raise UserError(f"pairs_from is {self.pairs_from!r}", f"use one of: {', '.join(PAIR_SOURCES)}")


@dataclass
class DPOIterResult:
    out_dir: Path
    history: list[tuple[int, dict[str, float]]] = field(default_factory=list)
    """(round, validation metrics); round 0 is the starting model."""
    rounds: list[dict[str, float]] = field(default_factory=list)
    """Per round: samples, sample pass rate, pairs, DPO steps and mean margins."""
    best_round: int = 0
    """The round whose validation pass rate is highest (the start included); its model is `best/`."""


def train_dpo_iter(config: DPOIterConfig, out_dir: str | Path, *, policy: tuple[Any, Any] | None = None,
                   train_problems: Sequence[Problem] | None = None, val_problems: Sequence[Problem] | None = None,
                   show_progress: bool = True, initial_validation: dict[str, float] | None = None) -> DPOIterResult:
    """Run DPO-Iter into `out_dir`: `round<r>/` holds that round's samples, verdicts, pairs and model (`final/`),
    `best/` the best validated round's model and `final/` the last. `policy` and the problem lists replace
    `config.model`/`config.problems` when given; `initial_validation` is the starting policy's validation when the
    caller has measured it already. Validation is logged (`eval/...`) before the first round and after every
    round, and returned."""
    out = Path(out_dir)
    torch.manual_seed(config.seed)
    if config.dpo.torch_threads:  # sampling and validation too, not only the DPO steps
        torch.set_num_threads(config.dpo.torch_threads)
    model, tokenizer = policy if policy is not None else load_policy(config.model, device=config.device,
                                                                     dtype=torch.float32)
    float32_weights(model).eval()
    device = next(model.parameters()).device
    if train_problems is None:
        train_problems = spread(load_problems(config.problems, split=config.train_split), config.train_limit)
    if val_problems is None:
        val_problems = select(load_problems(config.problems, split=config.val_split), config.validation)
    save_config(config, out / "config.yaml")
    result = DPOIterResult(out_dir=out)
    step = 0
    best = -math.inf
    with MetricsLogger(out, tensorboard=config.tensorboard, config=config_to_dict(config)) as logger, \
            Executor(backend=config.backend, workers=config.exec_workers) as executor:

        def run_validation(round_index: int, measured: dict[str, float] | None = None) -> None:
            nonlocal best
            if measured is None:
                with autocast(device, config.dpo.precision):
                    measured = validate(model, tokenizer, val_problems, executor, config.validation)
            logger.log({**measured, "dpo_iter/round": round_index}, step)
            result.history.append((round_index, measured))
            if measured["eval/pass_rate"] > best:  # the best validated round, the start included
                best, result.best_round = measured["eval/pass_rate"], round_index
                save_policy(model, tokenizer, out / "best")
            if show_progress:
                shown = ", ".join(f"{k.removeprefix('eval/')} {v:.3f}" for k, v in measured.items())
                print(f"dpo-iter round {round_index}: validation {shown}", flush=True)

        run_validation(0, initial_validation)
        for r in range(1, config.rounds + 1):
            round_dir = out / f"round{r}"
            n = config.prompts_per_round if 0 < config.prompts_per_round < len(train_problems) else len(train_problems)
            problems = problems_for_step(train_problems, r, n, config.seed)
            summary: dict[str, float] = {"dpo_iter/round": r}
            if config.pairs_from == "dataset":
                pairs, stats = pairs_from_solutions(problems, config.pairs, tokenizer)
            else:
                params = SamplingParams(n=config.samples_per_prompt, temperature=config.temperature,
                                        top_k=config.top_k, max_new_tokens=config.max_new_tokens,
                                        seed=config.seed * 1000 + r)
                model.eval()
                generator = HFGenerator(model, tokenizer, batch_size=config.generation_batch_size)
                with autocast(device, config.dpo.precision):
                    samples, verdicts, _ = sample_and_judge(generator, problems, params, executor,
                                                            max(1, config.generation_batch_size
                                                                // config.samples_per_prompt), tests=config.tests)
                pairs, stats = pairs_from_verdicts(problems, samples, verdicts, config.pairs, tokenizer)
                save_samples(round_dir / "samples.jsonl", samples)
                save_verdicts(round_dir / "verdicts.jsonl", verdicts)
                summary.update({"dpo_iter/samples": len(samples), "dpo_iter/sample_pass_rate":
                                sum(v.all_passed for v in verdicts) / max(1, len(verdicts))})
            save_pairs(round_dir / "pairs.jsonl", pairs)
            summary.update({"dpo_iter/pairs": stats.pairs,
                            "dpo_iter/pairs_with_reference": sum(p.chosen_source == "reference" for p in pairs),
                            "dpo_iter/all_passed_skipped": stats.all_passed_skipped,
                            "dpo_iter/none_passed_skipped": stats.none_passed_skipped})
            if pairs:
                # train_dpo computes the reference log-probs from `model` before its first update: the reference
                # of this round is the previous round's model, as in the paper.
                trained = train_dpo(model, tokenizer, [asdict(p) for p in pairs], config.dpo, round_dir,
                                    logger=logger, step_offset=step)
                step += trained.steps
                summary.update({"dpo_iter/dpo_steps": trained.steps,
                                "dpo_iter/mean_margin": trained.metrics.get("rewards/margins", 0.0),
                                "dpo_iter/mean_accuracy": trained.metrics.get("rewards/accuracies", 0.0)})
            logger.log(summary, step)
            result.rounds.append(summary)
            if r % max(1, config.eval_every) == 0 or r == config.rounds:
                run_validation(r)
    save_policy(model, tokenizer, out / "final")
    return result
