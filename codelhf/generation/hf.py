"""Sampling with a transformers causal LM: our own decoding loop over the model's KV cache.

Why not `model.generate`: PPO needs, for every sampled token, the log-probability the policy gave it, and the
exact rule for which distribution that is; stop strings must cut both the text and the token ids; and left-padded
batches must give the same greedy output as single prompts. A 60-line loop says all of that in one place.

Log-probabilities (`Generation.logprobs`) are log softmax(logits / temperature) of the sampled token: the
temperature-adjusted distribution *before* top-k / top-p truncation, which is what a trainer recomputes from the
same logits (PPO divides by its sampling temperature too). With temperature 0 (greedy) they are log softmax(logits).
The sampler's values are a consistency check; PPO recomputes its own in a forward pass.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import torch

from codelhf.generation.base import Generation, SamplingParams
from codelhf.prompting import encode_prompt


class HFGenerator:
    """`Generator` over a transformers model and tokenizer (a hub checkpoint, a local path, or the tiny model).

    `batch_size` bounds how many sequences (prompts × n) decode together; memory grows with it.
    """

    def __init__(self, model: Any, tokenizer: Any, batch_size: int = 32):
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        eos = model.generation_config.eos_token_id if getattr(model, "generation_config", None) else None
        eos = eos if eos is not None else tokenizer.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, (list, tuple)) else [eos]) - {None}
        # transformers 5 renamed `past_key_values` to `cache`; older releases and remote-code models use the old name
        self._cache_arg = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"

    def generate(self, prompts: Sequence[str], params: SamplingParams) -> list[list[Generation]]:
        """`params.n` generations per prompt; the same seed and inputs give the same outputs."""
        rng = torch.Generator(device=self.model.device)
        if params.seed is None:
            rng.seed()
        else:
            rng.manual_seed(params.seed)
        flat = [p for p in prompts for _ in range(params.n)]
        out: list[Generation] = []
        for start in range(0, len(flat), self.batch_size):
            out.extend(self._generate_batch(flat[start:start + self.batch_size], params, rng))
        return [out[i * params.n:(i + 1) * params.n] for i in range(len(prompts))]

    # ------------------------------------------------------------------------------------------------------------
    # one left-padded batch
    # ------------------------------------------------------------------------------------------------------------

    @torch.no_grad()
    def _generate_batch(self, prompts: list[str], params: SamplingParams, rng: torch.Generator) -> list[Generation]:
        device = self.model.device
        prompt_ids = [encode_prompt(self.tokenizer, p) for p in prompts]
        B, width = len(prompts), max(len(ids) for ids in prompt_ids)
        input_ids = torch.full((B, width), self.pad_id, dtype=torch.long)
        attention_mask = torch.zeros((B, width), dtype=torch.long)
        for i, ids in enumerate(prompt_ids):  # left padding: every prompt ends at the same column
            input_ids[i, width - len(ids):] = torch.tensor(ids)
            attention_mask[i, width - len(ids):] = 1
        input_ids, attention_mask = input_ids.to(device), attention_mask.to(device)

        tokens: list[list[int]] = [[] for _ in range(B)]
        logprobs: list[list[float]] = [[] for _ in range(B)]
        texts = [""] * B
        finish = ["length"] * B
        done = [False] * B
        active = list(range(B))  # the rows the tensors below still hold, in order
        past = None
        step_ids = input_ids
        for _ in range(params.max_new_tokens):
            # positions count real tokens only, so a left-padded prompt sees the same positions as alone
            position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)[:, -step_ids.shape[1]:]
            result = self.model(input_ids=step_ids, attention_mask=attention_mask, position_ids=position_ids,
                                use_cache=True, **{self._cache_arg: past})
            past = result.cache if self._cache_arg == "cache" else result.past_key_values
            logits = result.logits[:, -1, :].float()  # [rows, V]
            next_ids, next_logprobs = _sample(logits, params, rng)
            for i, token, logprob in zip(active, next_ids.tolist(), next_logprobs.tolist()):  # one device→host copy
                if done[i]:
                    continue
                tokens[i].append(token)
                logprobs[i].append(logprob)
                if token in self.eos_ids:
                    finish[i], done[i] = "stop", True
                    texts[i] = self.tokenizer.decode(tokens[i][:-1], skip_special_tokens=True)
                elif params.stop:
                    text = self.tokenizer.decode(tokens[i], skip_special_tokens=True)
                    cut = _find_stop(text, params.stop)
                    if cut is not None:
                        finish[i], done[i], texts[i] = "stop", True, text[:cut]
            if all(done):
                break
            keep = [k for k, i in enumerate(active) if not done[i]]
            if len(keep) < len(active) and hasattr(past, "batch_select_indices"):
                # finished rows leave the batch and the KV cache, so the longest sample no longer sets everyone's cost
                index = torch.tensor(keep, device=device)
                past.batch_select_indices(index)
                next_ids, attention_mask = next_ids[index], attention_mask[index]
                active = [active[k] for k in keep]
            else:  # a cache that cannot drop rows: finished rows decode padding, whose outputs are ignored
                next_ids[torch.tensor([done[i] for i in active], device=device)] = self.pad_id
            step_ids = next_ids[:, None]
            attention_mask = torch.cat([attention_mask, attention_mask.new_ones((len(active), 1))], dim=1)

        for i in range(B):
            if finish[i] == "length":
                texts[i] = self.tokenizer.decode(tokens[i], skip_special_tokens=True)
        return [Generation(prompt=prompts[i], text=texts[i], prompt_ids=prompt_ids[i], token_ids=tokens[i],
                           logprobs=logprobs[i], finish_reason=finish[i]) for i in range(B)]


def _sample(logits: torch.Tensor, params: SamplingParams, rng: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Next token ids [B] and their log-probs [B] under softmax(logits / T) (see the module docstring)."""
    if params.temperature <= 0:
        ids = logits.argmax(-1)
        return ids, torch.log_softmax(logits, -1).gather(-1, ids[:, None]).squeeze(-1)
    logp = torch.log_softmax(logits / params.temperature, -1)
    filtered = logp.clone()
    if params.top_k and params.top_k < filtered.shape[-1]:
        kth = torch.topk(filtered, params.top_k, dim=-1).values[:, -1:]
        filtered[filtered < kth] = -float("inf")
    if params.top_p < 1.0:
        sorted_logp, order = torch.sort(filtered, descending=True, dim=-1)
        cum = sorted_logp.exp().cumsum(-1)
        drop = cum - sorted_logp.exp() >= params.top_p  # keep the smallest prefix whose mass reaches top_p
        filtered.scatter_(-1, order, sorted_logp.masked_fill(drop, -float("inf")))
    ids = torch.multinomial(filtered.exp(), 1, generator=rng).squeeze(-1)
    return ids, logp.gather(-1, ids[:, None]).squeeze(-1)


def _find_stop(text: str, stops: Sequence[str]) -> int | None:
    """Index where the earliest stop string starts in `text`, or None."""
    hits = [i for i in (text.find(s) for s in stops if s) if i >= 0]
    return min(hits) if hits else None
