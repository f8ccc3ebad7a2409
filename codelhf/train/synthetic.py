"""The synthetic case of Xu et al. 2024 (section 4): DPO can move probability onto responses no preference covers;
PPO, which samples from its own policy and pays a KL penalty there, does not.

8 prompts × 8 responses; the policy is a small MLP from a one-hot prompt to logits over the 8 responses, so prompts
share parameters the way a language model's contexts do. Prompt i carries one pair, y[i mod 4] ≻ y[(i+1) mod 4], so
each of y0..y3 is chosen for some prompts and rejected for others, and y4..y7 are never seen. The paper's exact
pairs are not given; this cover is ours, chosen so that what a response learns on one prompt can spill onto
prompts where it is uncovered. The reference (the "SFT model") is the MLP fit to the data distribution: almost all
of each prompt's mass on the two responses its pair covers (`reference_covered_mass`), as in the paper's argument.

- DPO minimises −log σ(β·(log-ratio of chosen − log-ratio of rejected)) over the pairs. Nothing in it mentions the
  uncovered (prompt, response) cells, so they move wherever the shared parameters carry them.
- PPO is the real algorithm, measured, not its optimum written down: a reward model (an MLP on the one-hot prompt
  and response, fit Bradley–Terry on the same pairs, so it extrapolates to uncovered cells however it likes) scores
  responses *sampled* from the policy; the sequence-level reward is r(x, y) − β·log(π/π_ref); advantages are the
  reward minus the mean of the prompt's other samples; and the update is the clipped surrogate over a few epochs
  per batch. Uncovered responses are almost never sampled, and when they are, the KL term taxes them.

`codelhf synthetic` prints the reference, DPO and PPO probability tables (covered cells marked).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

N_PROMPTS = N_RESPONSES = 8


@dataclass
class SyntheticConfig:
    seed: int = 0
    hidden: int = 64
    """Width of the MLPs' two hidden layers (policy and reward model)."""
    beta: float = 0.1
    """The same β for DPO's implicit KL and PPO's explicit one (the paper's 0.1)."""
    lr: float = 1e-2
    dpo_steps: int = 500
    """Full-batch Adam steps of DPO."""
    reference_covered_mass: float = 0.98
    """Share of each prompt's reference probability on the two responses its pair covers (the rest is spread over
    the six uncovered ones: the reference puts almost no mass there)."""
    reward_l2: float = 1e-3
    """L2 penalty on the reward model's weights."""
    ppo_iterations: int = 100
    """PPO rollouts: each samples `ppo_samples` responses per prompt from the current policy."""
    ppo_samples: int = 16
    ppo_epochs: int = 4
    """Clipped updates per rollout (on its samples, with their old log-probabilities)."""
    cliprange: float = 0.2


@dataclass
class SyntheticResult:
    reference: torch.Tensor
    """π_ref(y | x), [8 prompts, 8 responses]."""
    dpo: torch.Tensor
    ppo: torch.Tensor
    covered: torch.Tensor
    """[8, 8] bool: the (prompt, response) cells some pair mentions."""
    reward: torch.Tensor
    """The reward model's value of every cell, [8, 8] (PPO only ever sees it at sampled cells)."""
    ppo_uncovered_samples: float
    """Share of PPO's samples that hit an uncovered cell."""

    def uncovered_mass(self, table: torch.Tensor) -> float:
        """Mean over prompts of the probability on responses no pair covers for that prompt."""
        return float((table * ~self.covered).sum(-1).mean())


def preference_pairs() -> list[tuple[int, int, int]]:
    """(prompt, chosen, rejected): prompt i prefers y[i mod 4] to y[(i+1) mod 4]."""
    return [(i, i % 4, (i + 1) % 4) for i in range(N_PROMPTS)]


def mlp(inputs: int, config: SyntheticConfig, outputs: int) -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(inputs, config.hidden), torch.nn.ReLU(),
                               torch.nn.Linear(config.hidden, config.hidden), torch.nn.ReLU(),
                               torch.nn.Linear(config.hidden, outputs))


def fit(module: torch.nn.Module, loss_fn, steps: int, lr: float) -> None:
    optimizer = torch.optim.Adam(module.parameters(), lr=lr)
    for _ in range(steps):
        loss = loss_fn()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def run_synthetic(config: SyntheticConfig | None = None) -> SyntheticResult:
    config = config or SyntheticConfig()
    torch.manual_seed(config.seed)
    prompts = torch.eye(N_PROMPTS)  # one-hot prompts, [8, 8]
    pairs = torch.tensor(preference_pairs())
    x, y_w, y_l = pairs[:, 0], pairs[:, 1], pairs[:, 2]
    covered = torch.zeros(N_PROMPTS, N_RESPONSES, dtype=torch.bool)
    covered[x, y_w] = covered[x, y_l] = True

    # The reference: the MLP fit (cross-entropy) to the data distribution, covered responses carrying the mass.
    target = (config.reference_covered_mass * covered / covered.sum(-1, keepdim=True)
              + (1 - config.reference_covered_mass) * ~covered / (~covered).sum(-1, keepdim=True))
    reference = mlp(N_PROMPTS, config, N_RESPONSES)
    fit(reference, lambda: -(target * reference(prompts).log_softmax(-1)).sum(-1).mean(), 500, 1e-2)
    with torch.no_grad():
        ref_logprobs = reference(prompts).log_softmax(-1)

    # DPO from the reference.
    policy = mlp(N_PROMPTS, config, N_RESPONSES)
    policy.load_state_dict(reference.state_dict())

    def dpo_loss() -> torch.Tensor:
        logprobs = policy(prompts).log_softmax(-1)
        chosen_logratios = logprobs[x, y_w] - ref_logprobs[x, y_w]
        rejected_logratios = logprobs[x, y_l] - ref_logprobs[x, y_l]
        return -F.logsigmoid(config.beta * (chosen_logratios - rejected_logratios)).mean()

    fit(policy, dpo_loss, config.dpo_steps, config.lr)
    with torch.no_grad():
        dpo = policy(prompts).softmax(-1)

    # A parametric reward model r(x, y), Bradley–Terry on the same pairs.
    reward_model = mlp(2 * N_PROMPTS, config, 1)
    cells = torch.cat([prompts.repeat_interleave(N_RESPONSES, 0), torch.eye(N_RESPONSES).repeat(N_PROMPTS, 1)], 1)

    def reward_of(xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
        return reward_model(cells[xs * N_RESPONSES + ys]).squeeze(-1)

    def reward_loss() -> torch.Tensor:
        l2 = sum(p.pow(2).sum() for p in reward_model.parameters())
        return -F.logsigmoid(reward_of(x, y_w) - reward_of(x, y_l)).mean() + config.reward_l2 * l2

    fit(reward_model, reward_loss, 500, 1e-2)
    with torch.no_grad():
        reward_table = reward_model(cells).view(N_PROMPTS, N_RESPONSES)

    # PPO from the reference: sampled rollouts, KL-penalised reward, group baseline, clipped surrogate.
    policy = mlp(N_PROMPTS, config, N_RESPONSES)
    policy.load_state_dict(reference.state_dict())
    optimizer = torch.optim.Adam(policy.parameters(), lr=config.lr)
    generator = torch.Generator().manual_seed(config.seed)
    xs = torch.arange(N_PROMPTS).repeat_interleave(config.ppo_samples)  # [B] prompt of each sample
    uncovered_hits = 0
    for _ in range(config.ppo_iterations):
        with torch.no_grad():
            old_logprobs_all = policy(prompts).log_softmax(-1)
            ys = torch.multinomial(old_logprobs_all.exp(), config.ppo_samples, replacement=True,
                                   generator=generator).flatten()  # [B] sampled responses
            old_logprobs = old_logprobs_all[xs, ys]
            rewards = reward_table[xs, ys] - config.beta * (old_logprobs - ref_logprobs[xs, ys])
            grouped = rewards.view(N_PROMPTS, config.ppo_samples)
            others = (grouped.sum(1, keepdim=True) - grouped) / (config.ppo_samples - 1)
            advantages = (grouped - others).flatten()
            uncovered_hits += int((~covered[xs, ys]).sum())
        for _ in range(config.ppo_epochs):
            ratio = torch.exp(policy(prompts).log_softmax(-1)[xs, ys] - old_logprobs)
            loss = torch.max(-advantages * ratio,
                             -advantages * ratio.clamp(1 - config.cliprange, 1 + config.cliprange)).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        ppo = policy(prompts).softmax(-1)

    return SyntheticResult(reference=ref_logprobs.exp(), dpo=dpo, ppo=ppo, covered=covered, reward=reward_table,
                           ppo_uncovered_samples=uncovered_hits / (config.ppo_iterations * len(xs)))


def format_table(name: str, table: torch.Tensor, covered: torch.Tensor) -> str:
    """One row per prompt; covered cells are marked * (chosen or rejected in that prompt's pair)."""
    lines = [f"{name}: π(y | x); * = covered by a pair", "      " + "".join(f"   y{j}  " for j in range(N_RESPONSES))
             + " uncovered"]
    for i in range(N_PROMPTS):
        cells = "".join(f" {float(table[i, j]):.3f}{'*' if covered[i, j] else ' '}" for j in range(N_RESPONSES))
        lines.append(f"  x{i}  {cells}   {float((table[i] * ~covered[i]).sum()):.3f}")
    return "\n".join(lines)


def report(result: SyntheticResult) -> str:
    """The three tables and their uncovered mass, as `codelhf synthetic` prints them."""
    parts = []
    for name in ("reference", "dpo", "ppo"):
        table = getattr(result, name)
        parts.append(format_table(name.upper(), table, result.covered)
                     + f"\n  mean uncovered mass per prompt: {result.uncovered_mass(table):.3f}\n")
    parts.append(f"PPO's samples on uncovered responses: {100 * result.ppo_uncovered_samples:.2f}%")
    return "\n".join(parts)
