"""The one sampling interface every trainer and evaluation uses, whatever the backend (transformers, vLLM).

PPO needs, per sample, the generated token ids and the log-probabilities the sampling policy gave them; DPO and
evaluation need the text and the extracted program. So every backend returns `Generation` records with all of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass
class SamplingParams:
    n: int = 1
    """Samples per prompt."""
    temperature: float = 1.0
    top_k: int = 0
    """0 = off. The paper samples with top-k 200 at temperature 1.0 (Xu et al. 2024)."""
    top_p: float = 1.0
    max_new_tokens: int = 256
    stop: list[str] = field(default_factory=list)
    """Generation ends at the first of these strings (not included in the text)."""
    seed: int | None = None


@dataclass
class Generation:
    prompt: str
    text: str
    """The generated text, cut at a stop string."""
    prompt_ids: list[int]
    token_ids: list[int]
    """Generated token ids, [T]; the ids that produced `text` (ending at the stop or EOS)."""
    logprobs: list[float]
    """log π(token | prefix) of each generated token under the sampling distribution's model, [T]."""
    finish_reason: str = "length"
    """"stop" (EOS or a stop string) or "length"."""


class Generator(Protocol):
    def generate(self, prompts: Sequence[str], params: SamplingParams) -> list[list[Generation]]:
        """For each prompt, `params.n` generations (outer list follows `prompts`)."""
        ...
