"""The synthetic case of Xu et al. 2024 (section 4): DPO can move probability onto responses no preference covers;
PPO, whose KL penalty is paid on the policy's own samples, cannot.

8 prompts × 8 responses; the policy is a small MLP from a one-hot prompt to logits over the 8 responses, so prompts
share parameters the way a language model's contexts do. The reference (the "SFT model") is the MLP fit to the
data distribution: 80% of each prompt's mass on the two responses its pair covers, 20% spread over the other six.
Prompt i carries one pair, y[i mod 4] ≻ y[(i+1) mod 4], so each of y0..y3 is chosen for some prompts and rejected
for others, and y4..y7 are never seen. The paper's exact pairs are not given; this cover is ours, chosen so that
what a response learns on one prompt can spill onto prompts where it is uncovered.

- DPO minimises −log σ(β·(log-ratio of chosen − log-ratio of rejected)) over the pairs. Nothing in it mentions the
  uncovered (prompt, response) cells, so they move wherever the shared parameters carry them.
- PPO maximises E_π[r] − β·KL(π ‖ π_ref) on every prompt, with the same preferences turned into a reward: a
  Bradley–Terry reward table fit on the pairs (uncovered cells keep reward 0, "no information"). The expectation
  over the 8 responses is computed exactly (no sampling noise), which is what PPO estimates. Its optimum is
  π ∝ π_ref·exp(r/β), so an uncovered cell can only lose mass to a rewarded one.

`python -m codelhf.train.synthetic` prints the reference, DPO and PPO probability tables (uncovered cells marked).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import torch
import torch.nn.functional as F

N_PROMPTS = N_RESPONSES = 8


@dataclass
class SyntheticConfig:
    seed: int = 0
    hidden: int = 64
    """Width of the MLP's two hidden layers."""
    beta: float = 0.1
    """The same β for DPO's implicit KL and PPO's explicit one (the paper's 0.1)."""
    lr: float = 1e-2
    steps: int = 1000
    """Full-batch Adam steps for DPO and for PPO alike."""
    reference_covered_mass: float = 0.8
    """Share of each prompt's reference probability on the two responses its pair covers."""
    reward_l2: float = 1e-2
    """L2 penalty of the Bradley–Terry reward fit, which keeps PPO's rewards finite."""


@dataclass
class SyntheticResult:
    reference: torch.Tensor
    """π_ref(y | x), [8 prompts, 8 responses]."""
    dpo: torch.Tensor
    ppo: torch.Tensor
    covered: torch.Tensor
    """[8, 8] bool: the (prompt, response) cells some pair mentions."""
    reward: torch.Tensor
    """The Bradley–Terry reward table PPO maximises, [8, 8]."""

    def uncovered_mass(self, table: torch.Tensor) -> float:
        """Mean over prompts of the probability on responses no pair covers for that prompt."""
        return float((table * ~self.covered).sum(-1).mean())


def preference_pairs() -> list[tuple[int, int, int]]:
    """(prompt, chosen, rejected): prompt i prefers y[i mod 4] to y[(i+1) mod 4]."""
    return [(i, i % 4, (i + 1) % 4) for i in range(N_PROMPTS)]


def make_policy(config: SyntheticConfig) -> torch.nn.Module:
    torch.manual_seed(config.seed)
    return torch.nn.Sequential(torch.nn.Linear(N_PROMPTS, config.hidden), torch.nn.ReLU(),
                               torch.nn.Linear(config.hidden, config.hidden), torch.nn.ReLU(),
                               torch.nn.Linear(config.hidden, N_RESPONSES))


def run_synthetic(config: SyntheticConfig | None = None) -> SyntheticResult:
    config = config or SyntheticConfig()
    prompts = torch.eye(N_PROMPTS)  # one-hot prompts, [8, 8]
    pairs = torch.tensor(preference_pairs())
    x, y_w, y_l = pairs[:, 0], pairs[:, 1], pairs[:, 2]
    covered = torch.zeros(N_PROMPTS, N_RESPONSES, dtype=torch.bool)
    covered[x, y_w] = covered[x, y_l] = True

    # The reference: the MLP fit (cross-entropy) to the data distribution, covered responses carrying most mass.
    target = (config.reference_covered_mass * covered / covered.sum(-1, keepdim=True)
              + (1 - config.reference_covered_mass) * ~covered / (~covered).sum(-1, keepdim=True))
    reference = make_policy(config)
    optimizer = torch.optim.Adam(reference.parameters(), lr=1e-2)
    for _ in range(500):
        loss = -(target * reference(prompts).log_softmax(-1)).sum(-1).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        ref_logprobs = reference(prompts).log_softmax(-1)

    # DPO from the reference.
    policy = make_policy(config)
    policy.load_state_dict(reference.state_dict())
    optimizer = torch.optim.Adam(policy.parameters(), lr=config.lr)
    for _ in range(config.steps):
        logprobs = policy(prompts).log_softmax(-1)
        chosen_logratios = logprobs[x, y_w] - ref_logprobs[x, y_w]
        rejected_logratios = logprobs[x, y_l] - ref_logprobs[x, y_l]
        loss = -F.logsigmoid(config.beta * (chosen_logratios - rejected_logratios)).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        dpo = policy(prompts).softmax(-1)

    # The same preferences as a reward: a Bradley–Terry table, then PPO's objective from the reference.
    reward = torch.zeros(N_PROMPTS, N_RESPONSES, requires_grad=True)
    optimizer = torch.optim.Adam([reward], lr=5e-2)
    for _ in range(500):
        loss = -F.logsigmoid(reward[x, y_w] - reward[x, y_l]).mean() + config.reward_l2 * reward.pow(2).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    reward = reward.detach()
    policy = make_policy(config)
    policy.load_state_dict(reference.state_dict())
    optimizer = torch.optim.Adam(policy.parameters(), lr=config.lr)
    for _ in range(config.steps):
        logprobs = policy(prompts).log_softmax(-1)
        probs = logprobs.exp()
        objective = (probs * reward).sum(-1) - config.beta * (probs * (logprobs - ref_logprobs)).sum(-1)
        loss = -objective.mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        ppo = policy(prompts).softmax(-1)

    return SyntheticResult(reference=ref_logprobs.exp(), dpo=dpo, ppo=ppo, covered=covered, reward=reward)


def format_table(name: str, table: torch.Tensor, covered: torch.Tensor) -> str:
    """One row per prompt; covered cells are marked * (chosen or rejected in that prompt's pair)."""
    lines = [f"{name}: π(y | x); * = covered by a pair", "      " + "".join(f"   y{j}  " for j in range(N_RESPONSES))
             + " uncovered"]
    for i in range(N_PROMPTS):
        cells = "".join(f" {float(table[i, j]):.3f}{'*' if covered[i, j] else ' '}" for j in range(N_RESPONSES))
        lines.append(f"  x{i}  {cells}   {float((table[i] * ~covered[i]).sum()):.3f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    result = run_synthetic(SyntheticConfig(seed=args.seed))
    for name in ("reference", "dpo", "ppo"):
        table = getattr(result, name)
        print(format_table(name.upper(), table, result.covered))
        print(f"  mean uncovered mass per prompt: {result.uncovered_mass(table):.3f}\n")


if __name__ == "__main__":
    main()
