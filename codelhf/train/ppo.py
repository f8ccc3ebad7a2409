"""PPO whose reward is the sandbox's verdict, as Xu et al. 2024 (arXiv 2404.10719) trained code models.

Read top to bottom: the config, the maths (small standalone functions, tested against hand computation), the
models (actor, critic, reference), the rollout (generation of chunk i+1 overlaps execution of chunk i), the PPO
update, and the loop (validation, best checkpoint, resume, metrics).

The paper's factors are switches, each independent, so their effect can be measured (`codelhf ablation`):
advantage normalisation (`whiten_advantages`), value normalisation (`value_norm`), a large rollout batch
(`large_batch`), and a reference model that follows the actor (`ref_ema`: ref ← η·actor + (1−η)·ref).

`advantage` chooses the baseline: `gae` (the paper's: a learned critic and GAE) or `group` (no critic: each
sample's return minus the mean return of the other samples of its prompt, RLOO, Ahmadian et al. 2024; the
critic-free baseline GRPO also uses, here without GRPO's division by the group's standard deviation).

Precision: weights, optimizer state and the reference stay float32; forward passes run under bfloat16 autocast
where `precision` asks for it (`codelhf/train/common.py` says why).

Shapes: B = samples in a batch, P = prompt length (left-padded), T = response length (right-padded), V = vocab.
Dropout is never switched on: the log-probabilities of the rollout and of the update must come from one function.
"""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from torch import nn

from codelhf.config import config_to_dict, save_config
from codelhf.datasets import load_problems
from codelhf.errors import UserError
from codelhf.execution import Executor
from codelhf.generation.base import SamplingParams
from codelhf.generation.hf import HFGenerator
from codelhf.metrics import MetricsLogger
from codelhf.policy import load_policy
from codelhf.problems import Problem, problems_for_step, spread
from codelhf.prompting import STOP, build_prompt, extract_code
from codelhf.rewards import RewardConfig, is_scorable, rewards_from_verdicts
from codelhf.samples import Sample
from codelhf.train.common import autocast, check_precision, float32_weights, save_policy, torch_threads
from codelhf.train.validation import ValidationConfig, select, validate
from codelhf.verdicts import SampleVerdict, count_statuses

# ---------------------------------------------------------------------------------------------------------------
# Config
# ---------------------------------------------------------------------------------------------------------------

ADVANTAGES = ("gae", "group")


@dataclass
class PPOConfig:
    """Defaults: the paper's code settings (Xu et al. 2024, section 5 and appendix), scaled for the tiny model on a
    CPU where the paper's value does not fit; each such field says so, and `codelhf/configs/ppo_tiny.yaml` holds
    the sweep behind them."""

    # what to train, on what
    model: str = "tiny"
    """Policy to start from: "tiny" (the bundled SFT model), a hub name or a local path (ideally an SFT model)."""
    problems: str = "bundled"
    """Problem source for `codelhf.datasets.load_problems` (a path, a hub name, or "bundled")."""
    train_split: str | None = "train"
    val_split: str | None = "validation"
    train_limit: int | None = None
    """Use at most this many training problems, at even strides over the split (None: all)."""
    seed: int = 1
    device: str | None = None
    """None: CUDA when available, else CPU."""
    precision: str = "auto"
    """bf16 autocast of forward passes: auto (on GPUs that support it), bf16 (anywhere) or fp32 (never); the
    weights, optimizer state and reference are float32 in every case."""
    torch_threads: int | None = None
    """CPU threads for torch (None: torch's default). 1 is fastest on a machine whose cores are busy already."""
    update_threads: int | None = None
    """CPU threads for torch during the update, when the sandbox is idle (None: as torch_threads)."""

    # budget and batches
    total_steps: int = 40
    """PPO steps (one rollout batch each)."""
    samples_per_prompt: int = 4
    """Samples per problem in a rollout batch (the group of the `group` baseline)."""
    batch_size: int = 16
    """Rollout samples per step when `large_batch` is off."""
    large_batch: bool = True
    """Paper factor: a large rollout batch (paper: 512 split into 4 minibatches; here `large_batch_size`)."""
    large_batch_size: int = 64
    """Rollout samples per step when `large_batch` is on (paper: 512)."""
    num_minibatches: int = 4
    """Minibatches per rollout batch (paper: 4)."""
    ppo_epochs: int = 1
    """Passes over each rollout batch (not stated in the paper; 1 keeps the update close to on-policy)."""
    generation_batch_size: int = 16
    """Samples per generation call; execution of one chunk overlaps generation of the next (small chunks leave
    less to wait for at the end of a rollout)."""
    overlap: bool = True
    """Send each chunk to the sandbox while the next one is generated (off: wait for each chunk's verdicts)."""
    forward_batch_size: int = 8
    """Sequences per forward pass (speed and memory, not the maths): rows of similar length are computed together,
    and a minibatch's gradient is accumulated over such pieces, so little compute goes to padding."""

    # sampling
    temperature: float = 1.0
    """Sampling temperature (paper: 1.0); the update divides logits by it too."""
    top_k: int = 200
    """Paper: 200."""
    max_new_tokens: int = 160
    """Paper: 1024; the tiny model's programs are short."""

    # reward
    reward: RewardConfig = field(default_factory=RewardConfig)
    """Which reward function and which tests (public, hidden, all); the paper's: binary 10/0 on all tests."""
    reward_clip: float = 20.0
    """Scores are clipped to ±reward_clip (paper: 20)."""
    kl_coef: float = 0.1
    """β of the per-token KL penalty against the reference (paper: 0.1)."""

    # optimisation
    advantage: str = "gae"
    """gae: a learned critic and GAE (the paper's); group: no critic, the leave-one-out mean return of the
    prompt's other samples as the baseline (RLOO/GRPO-style)."""
    actor_lr: float = 3e-4
    """Paper: 1e-5 on 34B; the tiny model needs a larger step to move within a CPU budget (the sweep in
    codelhf/configs/ppo_tiny.yaml: 3e-4 gained most on validation, approx_kl still ~1e-3)."""
    critic_lr: float = 3e-4
    """Paper: 5e-6; a fresh value head must learn fast on the tiny budget."""
    critic: str = "separate"
    """"separate": the value head sits on a copy of the policy; "shared": on the actor's own trunk."""
    vf_coef: float = 0.5
    """Weight of the value loss in the total loss (matters for the shared trunk)."""
    gamma: float = 1.0
    """Paper: 1."""
    lam: float = 1.0
    """GAE λ (paper: 1)."""
    cliprange: float = 0.2
    """Policy ratio clip (paper: 0.2)."""
    cliprange_value: float = 0.2
    """Value clip (paper: 0.2), in the critic's own (normalised when `value_norm`) units."""
    max_grad_norm: float = 1.0
    """Gradient clipping by global norm, of the actor's and of the critic's gradients separately."""
    whiten_advantages: bool = True
    """Paper factor: normalise advantages over the batch (on in the paper)."""
    value_norm: bool = True
    """Normalise value targets by running mean and std of returns (on in the paper)."""
    ref_ema: bool = True
    """Paper factor: the reference follows the actor, ref ← η·actor + (1−η)·ref, after every step."""
    ref_ema_eta: float = 0.05
    """η (paper: 0.001 over thousands of steps; larger here because the tiny run has tens)."""

    # sandbox, validation, checkpoints
    backend: str = "docker"
    """Executor backend: docker (sandboxed, default) or local (host, weaker isolation)."""
    exec_workers: int | None = None
    """Sandbox workers (None: one per core)."""
    eval_every: int = 10
    """Validate every this many steps, before the first (the starting point) and after the last; 0: never."""
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    """How validation samples (the same settings for every trainer); the best validated checkpoint is `best/`."""
    save_every: int = 10
    """Write a resumable checkpoint every this many steps (and at the end)."""
    tensorboard: bool = True

    # derived in __post_init__; setting them is an error (codelhf.config)
    rollout_batch_size: int = field(init=False, default=0)
    """batch_size or large_batch_size."""
    prompts_per_step: int = field(init=False, default=0)
    """rollout_batch_size / samples_per_prompt."""
    minibatch_size: int = field(init=False, default=0)
    """rollout_batch_size / num_minibatches."""

    def __post_init__(self) -> None:
        self.rollout_batch_size = self.large_batch_size if self.large_batch else self.batch_size
        if self.rollout_batch_size % self.samples_per_prompt:
            raise UserError(f"rollout batch {self.rollout_batch_size} is not a multiple of samples_per_prompt "
                            f"{self.samples_per_prompt}", "change batch_size/large_batch_size or samples_per_prompt")
        if self.rollout_batch_size % self.num_minibatches:
            raise UserError(f"rollout batch {self.rollout_batch_size} does not split into {self.num_minibatches} "
                            "minibatches", "make the batch size a multiple of num_minibatches")
        if self.critic not in ("separate", "shared"):
            raise UserError(f"critic is {self.critic!r}", "use separate or shared")
        if self.advantage not in ADVANTAGES:
            raise UserError(f"advantage is {self.advantage!r}", f"use one of: {', '.join(ADVANTAGES)}")
        if self.advantage == "group" and self.samples_per_prompt < 2:
            raise UserError("advantage=group needs samples_per_prompt >= 2 (the baseline is the other samples)")
        check_precision(self.precision)
        if isinstance(self.reward, dict):  # a YAML mapping given for the whole sub-config
            self.reward = RewardConfig(**self.reward)
        if isinstance(self.validation, dict):
            self.validation = ValidationConfig(**self.validation)
        self.reward.__post_init__()
        self.prompts_per_step = self.rollout_batch_size // self.samples_per_prompt
        self.minibatch_size = self.rollout_batch_size // self.num_minibatches


# ---------------------------------------------------------------------------------------------------------------
# Maths: standalone, each tested against a hand computation (tests/train/test_ppo.py)
# ---------------------------------------------------------------------------------------------------------------


def masked_mean(x: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Mean of x where mask is 1 (over everything, or along `dim`)."""
    if dim is None:
        return (x * mask).sum() / mask.sum().clamp(min=1)
    return (x * mask).sum(dim) / mask.sum(dim).clamp(min=1)


def masked_var(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Population variance of x where mask is 1."""
    return masked_mean((x - masked_mean(x, mask)) ** 2, mask)


def masked_whiten(x: torch.Tensor, mask: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """(x − mean) / std over the masked entries; masked-out entries become 0."""
    return (x - masked_mean(x, mask)) * torch.rsqrt(masked_var(x, mask) + eps) * mask


def kl_per_token(logprobs: torch.Tensor, ref_logprobs: torch.Tensor) -> torch.Tensor:
    """log π(a|s) − log π_ref(a|s) per token, [B, T]: the k1 estimator, whose expectation under π is KL(π‖ref)."""
    return logprobs - ref_logprobs


def token_rewards(scores: torch.Tensor, kl: torch.Tensor, mask: torch.Tensor, kl_coef: float) -> torch.Tensor:
    """−β·kl on every token, plus the sample's score on its last token (paper: reward on the last token), [B, T]."""
    rewards = -kl_coef * kl * mask
    last = (mask.sum(1).long() - 1).clamp(min=0)  # [B] index of each response's last token
    rewards[torch.arange(len(scores)), last] += scores
    return rewards


def gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float, lam: float
        ) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation (Schulman et al. 2016) → (advantages, returns), both [B, T].

    values[b, t] is V of the state before token t. A response ends at its last unmasked token: what follows counts
    as terminal (value 0), because padded rewards and values are zeroed first.
    """
    rewards, values = rewards * mask, values * mask
    T = rewards.shape[1]
    lastgaelam = torch.zeros_like(rewards[:, 0])
    advantages_reversed = []
    for t in reversed(range(T)):
        nextvalues = values[:, t + 1] if t + 1 < T else torch.zeros_like(values[:, 0])
        delta = rewards[:, t] + gamma * nextvalues - values[:, t]
        lastgaelam = delta + gamma * lam * lastgaelam
        advantages_reversed.append(lastgaelam)
    advantages = torch.stack(advantages_reversed[::-1], dim=1) * mask
    return advantages, (advantages + values) * mask


def group_advantages(returns: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
    """The leave-one-out baseline (RLOO): each sample's return minus the mean return of the other samples of the
    same prompt, [B] → [B]; 0 for a sample alone in its group (nothing to compare with). `groups` [B] holds
    each sample's prompt index."""
    same = groups[:, None] == groups[None, :]  # [B, B]
    others = same.sum(1) - 1  # [B]
    sums = (same.float() * returns[None, :]).sum(1) - returns  # [B] sum over the other members
    baseline = torch.where(others > 0, sums / others.clamp(min=1), returns)
    return returns - baseline


def policy_loss(logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor,
                cliprange: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The clipped surrogate: mean of max(−A·ratio, −A·clip(ratio, 1±ε)) over tokens; plus diagnostics."""
    logratio = logprobs - old_logprobs
    ratio = torch.exp(logratio)  # [B, T]
    pg_losses = -advantages * ratio
    pg_losses2 = -advantages * torch.clamp(ratio, 1.0 - cliprange, 1.0 + cliprange)
    pg_loss = masked_mean(torch.max(pg_losses, pg_losses2), mask)
    with torch.no_grad():
        stats = {
            "clipfrac": masked_mean((pg_losses2 > pg_losses).float(), mask),
            "approx_kl": masked_mean((ratio - 1) - logratio, mask),  # k3 estimator of KL(old‖new), always ≥ 0
            "ratio": masked_mean(ratio, mask),
        }
    return pg_loss, stats


def value_loss(values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor,
               cliprange_value: float) -> tuple[torch.Tensor, torch.Tensor]:
    """½·mean of max((V − R)², (clip(V, V_old ± ε) − R)²) over tokens, and the share of tokens where the clip won."""
    values_clipped = old_values + torch.clamp(values - old_values, -cliprange_value, cliprange_value)
    vf_losses1 = (values - returns) ** 2
    vf_losses2 = (values_clipped - returns) ** 2
    vf_loss = 0.5 * masked_mean(torch.max(vf_losses1, vf_losses2), mask)
    return vf_loss, masked_mean((vf_losses2 > vf_losses1).float(), mask).detach()


def explained_variance(values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor) -> float:
    """1 − Var(R − V) / Var(R): 1 is a perfect critic, 0 no better than a constant, negative worse."""
    var_returns = masked_var(returns, mask)
    if var_returns < 1e-8:  # (nearly) constant returns, e.g. a batch with no reward: undefined
        return float("nan")
    return float(1 - masked_var(returns - values, mask) / var_returns)


@torch.no_grad()
def ema_update(target: nn.Module, source: nn.Module, eta: float) -> None:
    """target ← η·source + (1−η)·target, parameter by parameter (the paper's reference EMA)."""
    for p_target, p_source in zip(target.parameters(), source.parameters(), strict=True):
        p_target.lerp_(p_source.to(p_target.dtype), eta)


class RunningMoments:
    """Mean and variance of every value target seen so far (batches merged exactly, Chan et al. 1979), so the
    critic can predict returns in normalised units (value normalisation)."""

    def __init__(self) -> None:
        self.mean, self.var, self.count = 0.0, 1.0, 0

    def update(self, x: torch.Tensor) -> None:
        n = x.numel()
        if n == 0:
            return
        batch_mean, batch_var = float(x.mean()), float(x.var(unbiased=False))
        total = self.count + n
        delta = batch_mean - self.mean
        m2 = self.var * self.count + batch_var * n + delta**2 * self.count * n / total
        self.mean, self.var, self.count = self.mean + delta * n / total, m2 / total, total

    @property
    def std(self) -> float:
        return math.sqrt(self.var) if self.var > 1e-8 else 1.0

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.std + self.mean

    def state_dict(self) -> dict[str, float]:
        return {"mean": self.mean, "var": self.var, "count": self.count}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.mean, self.var, self.count = state["mean"], state["var"], int(state["count"])


# ---------------------------------------------------------------------------------------------------------------
# Models: actor (the policy), critic (a value head on a copy of it, or on its own trunk; none in group mode),
# reference
# ---------------------------------------------------------------------------------------------------------------


class ValueHead(nn.Module):
    """hidden states [B, T, H] → values [B, T]; on a trunk of its own (`separate`) or on the actor's (`shared`)."""

    def __init__(self, hidden_size: int, trunk: nn.Module | None = None):
        super().__init__()
        self.trunk = trunk
        self.head = nn.Linear(hidden_size, 1)
        nn.init.normal_(self.head.weight, std=1 / math.sqrt(hidden_size + 1))
        nn.init.zeros_(self.head.bias)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.head(hidden.float()).squeeze(-1)


def forward(model: nn.Module, query_responses: torch.Tensor, attention_mask: torch.Tensor, context_length: int,
            temperature: float, hidden: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Logits of the response positions, [B, T, V], divided by the sampling temperature; and the last hidden
    states there, [B, T, H], when asked. Positions count real tokens only (left padding)."""
    position_ids = (attention_mask.cumsum(1) - 1).clamp(min=0)
    out = model(input_ids=query_responses, attention_mask=attention_mask, position_ids=position_ids,
                output_hidden_states=hidden, use_cache=False)
    logits = out.logits[:, context_length - 1:-1].float() / temperature
    return logits, out.hidden_states[-1][:, context_length - 1:-1] if hidden else None


def critic_values(critic: ValueHead, actor_hidden: torch.Tensor | None, query_responses: torch.Tensor,
                  attention_mask: torch.Tensor, context_length: int) -> torch.Tensor:
    """Values of the response positions, [B, T], from the critic's own trunk or the actor's hidden states."""
    if critic.trunk is None:
        assert actor_hidden is not None, "a shared critic reads the actor's hidden states"
        return critic(actor_hidden)
    position_ids = (attention_mask.cumsum(1) - 1).clamp(min=0)
    out = critic.trunk(input_ids=query_responses, attention_mask=attention_mask, position_ids=position_ids,
                       use_cache=False)
    return critic(out.last_hidden_state[:, context_length - 1:-1])


def logprobs_of(logits: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
    """log π(response token) from logits: [B, T, V], [B, T] → [B, T]."""
    return torch.gather(logits.log_softmax(-1), 2, responses.unsqueeze(-1)).squeeze(-1)


def entropy_of(logits: torch.Tensor) -> torch.Tensor:
    """Entropy of each position's distribution, [B, T, V] → [B, T]."""
    logp = logits.log_softmax(-1)
    return -(logp.exp() * logp).sum(-1)


# ---------------------------------------------------------------------------------------------------------------
# Rollout: generate in chunks; each chunk goes to the sandbox while the next one is generated
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Rollout:
    """One rollout batch, padded. B samples, P prompt columns (left-padded), T response columns (right-padded)."""

    query_responses: torch.Tensor
    """[B, P + T] prompt and response token ids."""
    attention_mask: torch.Tensor
    """[B, P + T] 1 on real tokens."""
    responses: torch.Tensor
    """[B, T] response token ids."""
    response_mask: torch.Tensor
    """[B, T] float, 1 on response tokens."""
    context_length: int
    """P."""
    scores: torch.Tensor
    """[B] the reward of each sample (clipped to ±reward_clip)."""
    groups: torch.Tensor
    """[B] the index of each sample's prompt in the batch (samples of one prompt form a group)."""

    def __len__(self) -> int:
        return len(self.scores)

    def pieces(self, rows: torch.Tensor, size: int) -> list[torch.Tensor]:
        """`rows` sorted by length and cut into pieces of at most `size`: each piece pads to a similar length."""
        rows = rows[self.attention_mask[rows].sum(1).argsort(stable=True)]
        return list(rows.split(size))

    def rows(self, index: torch.Tensor | slice) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int, int]:
        """Some rows, cut to their own extent (the prompt columns that are padding in all of them, and the response
        columns after the longest of them): (query_responses [b, p + t], attention_mask, responses [b, t], p, t).
        A batch is padded to its longest sample; a minibatch without it need not pay for that length."""
        P = self.context_length
        mask = self.attention_mask[index]
        first = int(mask[:, :P].any(0).int().argmax())  # the first column that is a token in some row
        t = int(self.response_mask[index].sum(1).max())
        return (self.query_responses[index][:, first:P + t], mask[:, first:P + t], self.responses[index][:, :t],
                P - first, t)


@dataclass
class RolloutTiming:
    generation_s: float = 0.0
    """Time spent generating (the trainer's resource)."""
    execution_s: float = 0.0
    """Wall time during which at least one chunk was in the sandbox."""
    waiting_s: float = 0.0
    """Time the trainer sat idle waiting for verdicts: what the overlap is meant to remove."""


def collect_rollout(generator: Any, executor: Any, tokenizer: Any, problems: Sequence[Problem], config: PPOConfig,
                    seed: int) -> tuple[list[Any], list[SampleVerdict], RolloutTiming]:
    """Sample `samples_per_prompt` programs per problem and judge them; generations and verdicts follow the order
    problems × samples. With `overlap`, chunk i executes while chunk i+1 is generated."""
    by_id = {p.id: p for p in problems}
    per_chunk = max(1, config.generation_batch_size // config.samples_per_prompt)
    timing = RolloutTiming()
    generations: list[Any] = []
    futures, intervals = [], []
    for c, start in enumerate(range(0, len(problems), per_chunk)):
        chunk = problems[start:start + per_chunk]
        params = SamplingParams(n=config.samples_per_prompt, temperature=config.temperature, top_k=config.top_k,
                                max_new_tokens=config.max_new_tokens, stop=list(STOP), seed=seed * 1000 + c)
        t0 = time.perf_counter()
        chunk_gens = generator.generate([build_prompt(p, tokenizer) for p in chunk], params)
        timing.generation_s += time.perf_counter() - t0
        samples = [Sample(problem_id=p.id, program=extract_code(g.text), sample_index=j)
                   for p, gens in zip(chunk, chunk_gens) for j, g in enumerate(gens)]
        generations.extend(g for gens in chunk_gens for g in gens)
        interval = [time.perf_counter(), 0.0]
        future = executor.submit(by_id, samples, tests=config.reward.tests)
        future.add_done_callback(lambda _f, iv=interval: iv.__setitem__(1, time.perf_counter()))
        futures.append(future)
        intervals.append(interval)
        if not config.overlap:
            t0 = time.perf_counter()
            future.result()
            timing.waiting_s += time.perf_counter() - t0
    t0 = time.perf_counter()
    verdicts = [v for f in futures for v in f.result()]
    timing.waiting_s += time.perf_counter() - t0
    timing.execution_s = _union_length(intervals)
    return generations, verdicts, timing


def _union_length(intervals: list[list[float]]) -> float:
    """Total length covered by [start, end] intervals (chunks may be in the sandbox at the same time)."""
    total, reach = 0.0, -math.inf
    for start, end in sorted(intervals):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def build_rollout(generations: Sequence[Any], scores: Sequence[float], groups: Sequence[int], pad_id: int,
                  device: torch.device) -> Rollout:
    """Pad generations into one batch: prompts to the left, responses to the right."""
    P = max(len(g.prompt_ids) for g in generations)
    T = max(len(g.token_ids) for g in generations)
    B = len(generations)
    query_responses = torch.full((B, P + T), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((B, P + T), dtype=torch.long)
    for i, g in enumerate(generations):
        query_responses[i, P - len(g.prompt_ids):P] = torch.tensor(g.prompt_ids)
        query_responses[i, P:P + len(g.token_ids)] = torch.tensor(g.token_ids)
        attention_mask[i, P - len(g.prompt_ids):P + len(g.token_ids)] = 1
    return Rollout(query_responses=query_responses.to(device), attention_mask=attention_mask.to(device),
                   responses=query_responses[:, P:].to(device), response_mask=attention_mask[:, P:].float().to(device),
                   context_length=P, scores=torch.tensor(scores, dtype=torch.float, device=device),
                   groups=torch.tensor(groups, dtype=torch.long, device=device))


# ---------------------------------------------------------------------------------------------------------------
# The PPO update on one rollout batch
# ---------------------------------------------------------------------------------------------------------------


def ppo_update(actor: nn.Module, critic: ValueHead | None, ref: nn.Module, optimizer: torch.optim.Optimizer,
               moments: RunningMoments, rollout: Rollout, config: PPOConfig, step: int) -> dict[str, float]:
    """Score the rollout (old log-probs, reference log-probs, values), compute rewards, advantages and returns,
    then `ppo_epochs` passes of `num_minibatches` clipped updates. `critic` is None with the group baseline.
    Returns the step's metrics (TRL's names)."""
    mask, B = rollout.response_mask, len(rollout)
    shared = critic is not None and critic.trunk is None
    device = mask.device

    # 1. the rollout as seen by the models before the update
    logprobs, ref_logprobs, entropy = torch.zeros_like(mask), torch.zeros_like(mask), torch.zeros_like(mask)
    values = torch.zeros_like(mask)  # [B, T] each
    with torch.no_grad(), autocast(device, config.precision):
        for rows in rollout.pieces(torch.arange(B, device=device), config.forward_batch_size):
            qr, am, resp, ctx, t = rollout.rows(rows)
            logits, hidden = forward(actor, qr, am, ctx, config.temperature, hidden=shared)
            logprobs[rows, :t] = logprobs_of(logits, resp)
            entropy[rows, :t] = entropy_of(logits)
            if critic is not None:
                values[rows, :t] = critic_values(critic, hidden, qr, am, ctx).float()
            ref_logits, _ = forward(ref, qr, am, ctx, config.temperature)
            ref_logprobs[rows, :t] = logprobs_of(ref_logits, resp)

    # 2. rewards, advantages, returns
    kl = kl_per_token(logprobs, ref_logprobs) * mask
    seq_kl = kl.sum(1)  # [B]
    metrics: dict[str, float] = {}
    if critic is None:  # group baseline: one advantage per sample, on each of its tokens
        advantages = group_advantages(rollout.scores - config.kl_coef * seq_kl, rollout.groups)[:, None] * mask
    else:  # values are in the critic's units (normalised when value_norm)
        values_raw = moments.denormalize(values) if config.value_norm else values  # reward units
        rewards = token_rewards(rollout.scores, kl, mask, config.kl_coef)
        advantages, returns = gae(rewards, values_raw, mask, config.gamma, config.lam)
        metrics["val/explained_variance"] = explained_variance(values_raw, returns, mask)
        metrics["val/value_avg"] = float(masked_mean(values_raw, mask))
        metrics["val/return_avg"] = float(masked_mean(returns, mask))
        if config.value_norm:
            # Only the returns are normalised (with the moments updated by this batch); the old values stay in the
            # units the critic produced them in, so the value clip compares like with like.
            moments.update(returns[mask.bool()])
            returns = moments.normalize(returns) * mask
    if config.whiten_advantages:
        advantages = masked_whiten(advantages, mask)

    # 3. minibatch updates; the actor's and the critic's gradients are clipped separately
    generator = torch.Generator().manual_seed(config.seed * 100_003 + step)
    actor_params = list(actor.parameters())
    critic_params = list(critic.parameters()) if critic is not None else []
    stats: dict[str, list[float]] = {}
    for _ in range(config.ppo_epochs):
        for mb in torch.randperm(B, generator=generator).split(config.minibatch_size):
            mb = mb.to(device)
            mb_tokens = mask[mb].sum()
            mb_stats: dict[str, torch.Tensor] = {}
            optimizer.zero_grad(set_to_none=True)
            for rows in rollout.pieces(mb, config.forward_batch_size):
                # each piece's share of the minibatch's tokens: the accumulated losses are the minibatch's means
                qr, am, resp, ctx, t = rollout.rows(rows)
                rows_mask, share = mask[rows, :t], mask[rows].sum() / mb_tokens
                with autocast(device, config.precision):
                    logits, hidden = forward(actor, qr, am, ctx, config.temperature, hidden=shared)
                    pg_loss, pg_stats = policy_loss(logprobs_of(logits, resp), logprobs[rows, :t],
                                                    advantages[rows, :t], rows_mask, config.cliprange)
                    loss = pg_loss
                    piece = {"loss/policy_avg": pg_loss, "policy/clipfrac_avg": pg_stats["clipfrac"],
                             "policy/approxkl_avg": pg_stats["approx_kl"], "val/ratio": pg_stats["ratio"]}
                    if critic is not None:
                        vf_loss, vf_clipfrac = value_loss(critic_values(critic, hidden, qr, am, ctx).float(),
                                                          values[rows, :t], returns[rows, :t], rows_mask,
                                                          config.cliprange_value)
                        loss = loss + config.vf_coef * vf_loss
                        piece.update({"loss/value_avg": vf_loss, "val/clipfrac_avg": vf_clipfrac})
                (share * loss).backward()
                for name, value in piece.items():
                    mb_stats[name] = mb_stats.get(name, 0.0) + share * value.detach()
            mb_stats["grad_norm"] = torch.nn.utils.clip_grad_norm_(actor_params, config.max_grad_norm)
            if critic is not None:
                mb_stats["val/grad_norm"] = torch.nn.utils.clip_grad_norm_(critic_params, config.max_grad_norm)
            optimizer.step()
            for name, value in mb_stats.items():
                stats.setdefault(name, []).append(float(value))

    metrics.update({name: sum(v) / len(v) for name, v in stats.items()})
    group_scores: dict[int, set[float]] = {}
    for g, s in zip(rollout.groups.tolist(), rollout.scores.tolist()):
        group_scores.setdefault(g, set()).add(s)
    metrics.update({
        "objective/kl": float(seq_kl.mean()),
        "objective/non_score_reward": float(-config.kl_coef * seq_kl.mean()),
        "objective/rlhf_reward": float((rollout.scores - config.kl_coef * seq_kl).mean()),
        "objective/entropy": float((entropy * mask).sum(1).mean()),
        "policy/entropy_avg": float(masked_mean(entropy, mask)),
        "policy/response_length": float(mask.sum(1).mean()),
        "rewards/frac_zero_std": sum(len(s) == 1 for s in group_scores.values()) / len(group_scores),
    })
    return metrics


# ---------------------------------------------------------------------------------------------------------------
# Checkpoints
# ---------------------------------------------------------------------------------------------------------------


def save_checkpoint(path: Path, actor: nn.Module, critic: ValueHead | None, ref: nn.Module,
                    optimizer: torch.optim.Optimizer, moments: RunningMoments, step: int, best: float) -> None:
    """Everything a run needs to go on from `step` (written to a temporary file first, so a crash keeps the old)."""
    path.mkdir(parents=True, exist_ok=True)
    state = {"step": step, "best": best, "actor": actor.state_dict(),
             "critic": critic.state_dict() if critic is not None else None, "ref": ref.state_dict(),
             "optimizer": optimizer.state_dict(), "moments": moments.state_dict()}
    torch.save(state, path / "state.pt.tmp")
    (path / "state.pt.tmp").replace(path / "state.pt")


def save_scored_policy(actor: nn.Module, tokenizer: Any, path: Path, info: dict[str, Any]) -> None:
    """A policy other commands load by path (`--model DIR`), with what it scored."""
    save_policy(actor, tokenizer, path)
    (path / "ppo_info.json").write_text(json.dumps(info, indent=2))


# ---------------------------------------------------------------------------------------------------------------
# The loop
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class PPOResult:
    out_dir: Path
    initial: dict[str, float]
    """Validation before the first step (the SFT starting point)."""
    best: float
    """The best validation pass rate (`eval/pass_rate`), the start included."""
    best_step: int
    updates: int = 0
    """Optimizer updates made: steps × minibatches × epochs."""
    history: list[tuple[int, dict[str, float]]] = field(default_factory=list)
    """(step, validation metrics) for every validation of this run."""


def train_ppo(config: PPOConfig, out_dir: str | Path, *, resume: bool = False, show_progress: bool = True,
              policy: tuple[Any, Any] | None = None, train_problems: Sequence[Problem] | None = None,
              val_problems: Sequence[Problem] | None = None,
              initial_validation: dict[str, float] | None = None) -> PPOResult:
    """Train with PPO into `out_dir` (metrics, `checkpoint/`, `best/`, `final/`); with `resume`, go on from its
    checkpoint. `policy` = (model, tokenizer) and the problem lists replace `config.model`/`config.problems`
    when given (the study and the tests pass objects they already hold); `initial_validation` is the starting
    policy's validation when the caller has measured it already (with the same `config.validation`)."""
    out = Path(out_dir)
    if config.torch_threads:
        torch.set_num_threads(config.torch_threads)
    torch.manual_seed(config.seed)
    actor, tokenizer = policy if policy is not None else load_policy(config.model, device=config.device,
                                                                     dtype=torch.float32)
    float32_weights(actor).eval()  # fp32 master weights; no dropout, ever (see the module docstring)
    device = next(actor.parameters()).device
    if train_problems is None:
        train_problems = spread(load_problems(config.problems, split=config.train_split), config.train_limit)
    if val_problems is None:
        val_problems = select(load_problems(config.problems, split=config.val_split), config.validation)
    train_problems = [p for p in train_problems if p.tests(config.reward.tests)]
    if not train_problems:
        raise UserError(f"no training problem in {config.problems!r} has {config.reward.tests} tests",
                        "choose reward.tests=all, or problems with tests")

    ref = copy.deepcopy(actor).requires_grad_(False)
    critic = None
    if config.advantage == "gae":
        trunk = None if config.critic == "shared" else copy.deepcopy(actor.base_model)
        critic = ValueHead(actor.config.hidden_size, trunk).to(device)
    groups = [{"params": list(actor.parameters()), "lr": config.actor_lr}]
    if critic is not None:
        groups.append({"params": list(critic.parameters()), "lr": config.critic_lr})
    optimizer = torch.optim.AdamW(groups, eps=1e-5, weight_decay=0.0)
    moments = RunningMoments()
    generator = HFGenerator(actor, tokenizer, batch_size=config.generation_batch_size)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id

    start_step, best = 1, -math.inf
    checkpoint = out / "checkpoint" / "state.pt"
    if resume and checkpoint.exists():
        state = torch.load(checkpoint, map_location=device, weights_only=False)
        actor.load_state_dict(state["actor"])
        if critic is not None:
            critic.load_state_dict(state["critic"])
        ref.load_state_dict(state["ref"])
        optimizer.load_state_dict(state["optimizer"])
        moments.load_state_dict(state["moments"])
        start_step, best = state["step"] + 1, state["best"]
    elif resume:
        raise UserError(f"{out}: nothing to resume (no checkpoint/state.pt)", "drop --resume to start a new run")
    save_config(config, out / "config.yaml")
    updates_per_step = config.num_minibatches * config.ppo_epochs
    result = PPOResult(out_dir=out, initial={}, best=best, best_step=0,
                       updates=(start_step - 1) * updates_per_step)

    columns = [TextColumn("[bold]ppo[/]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[info]}")]
    with MetricsLogger(out, tensorboard=config.tensorboard, config=config_to_dict(config)) as logger, \
            Executor(backend=config.backend, workers=config.exec_workers) as executor, \
            Progress(*columns, disable=not show_progress, transient=False) as progress:
        task = progress.add_task("ppo", total=config.total_steps, completed=start_step - 1, info="")

        def run_validation(step: int, measured: dict[str, float] | None = None) -> dict[str, float]:
            nonlocal best
            t0 = time.perf_counter()
            if measured is None:
                with autocast(device, config.precision):
                    measured = validate(actor, tokenizer, val_problems, executor, config.validation)
            metrics = {**measured, "time/validation": time.perf_counter() - t0}
            logger.log(metrics, step)
            result.history.append((step, metrics))
            if metrics["eval/pass_rate"] > best:  # the best validated checkpoint, the start included
                best, result.best, result.best_step = metrics["eval/pass_rate"], metrics["eval/pass_rate"], step
                save_scored_policy(actor, tokenizer, out / "best", {"step": step, **metrics})
            return metrics

        validating = config.eval_every > 0
        if start_step == 1 and validating:
            result.initial = run_validation(0, initial_validation)
        for step in range(start_step, config.total_steps + 1):
            t_step = time.perf_counter()
            batch_problems = problems_for_step(train_problems, step, config.prompts_per_step, config.seed)
            with autocast(device, config.precision):
                generations, verdicts, timing = collect_rollout(generator, executor, tokenizer, batch_problems,
                                                                config, seed=config.seed * 100_003 + step)
            keep = [i for i, (g, v) in enumerate(zip(generations, verdicts)) if is_scorable(v) and g.token_ids]
            scores = rewards_from_verdicts([verdicts[i] for i in keep], config.reward)
            scores = [max(-config.reward_clip, min(config.reward_clip, s)) for s in scores]

            t0 = time.perf_counter()
            metrics: dict[str, float] = {}
            if keep:
                rollout = build_rollout([generations[i] for i in keep], scores,
                                        [i // config.samples_per_prompt for i in keep], pad_id, device)
                with torch_threads(config.update_threads):
                    metrics = ppo_update(actor, critic, ref, optimizer, moments, rollout, config, step)
                result.updates += updates_per_step
                if config.ref_ema:
                    ema_update(ref, actor, config.ref_ema_eta)
            timing_training = time.perf_counter() - t0
            step_s = time.perf_counter() - t_step

            statuses = count_statuses(verdicts)
            metrics.update({
                "objective/scores": sum(scores) / max(1, len(scores)),
                "rewards/pass_rate": sum(v.all_passed for v in verdicts) / len(verdicts),
                "learning_rate": config.actor_lr,
                "exec/dropped_samples": len(verdicts) - len(keep),
                **{f"verdicts/{s}": n / len(verdicts) for s, n in statuses.items()},
                "time/generation": timing.generation_s, "time/execution": timing.execution_s,
                "time/waiting": timing.waiting_s, "time/training": timing_training, "time/step": step_s,
                "time/waiting_share": timing.waiting_s / step_s,
                "exec/programs_per_s": len(verdicts) / max(timing.execution_s, 1e-9),
                "exec/tests_per_s": sum(v.total for v in verdicts) / max(timing.execution_s, 1e-9),
            })
            logger.log(metrics, step)
            info = f"reward {metrics['objective/scores']:.2f}  pass {metrics['rewards/pass_rate']:.2f}"
            if validating and (step % config.eval_every == 0 or step == config.total_steps):
                info += f"  val {run_validation(step)['eval/pass_rate']:.3f}"
            if step % config.save_every == 0 or step == config.total_steps:
                save_checkpoint(out / "checkpoint", actor, critic, ref, optimizer, moments, step, best)
            progress.update(task, completed=step, info=info)
    save_scored_policy(actor, tokenizer, out / "final",
                       {"step": config.total_steps, "best_step": result.best_step, "updates": result.updates})
    return result
