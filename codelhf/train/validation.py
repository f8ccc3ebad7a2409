"""The one validation every trainer runs (SFT, PPO, DPO, DPO-Iter): sample the policy on validation problems with
a fixed seed, run the programs in the sandbox, and report pass@k and the share of passing samples.

Every trainer takes the same `ValidationConfig`, picks its problems the same way (`select`: even strides over the
split) and samples them with the same settings, so validation numbers of different methods compare. PPO and
DPO-Iter keep their checkpoint by one rule: the highest `eval/pass_rate`, the start included, ties going to the
earliest (so a run that never beats its start keeps the start). The seed is fixed: every validation of a run
draws the same random numbers, so two checkpoints differ by what the weights do, not by sampling luck.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from codelhf.evaluate import evaluate
from codelhf.generation.base import SamplingParams
from codelhf.generation.hf import HFGenerator
from codelhf.generation.sampling import sample_problems
from codelhf.problems import Problem, spread
from codelhf.samples import Sample
from codelhf.verdicts import SampleVerdict, Status

TEMPERATURE = 1.0
"""The default validation (and study evaluation) temperature of every trainer: the sampling temperature PPO
trains at (Xu et al. 2024 sample at 1.0), so validation measures the distribution that RL changes."""


@dataclass
class ValidationConfig:
    limit: int | None = None
    """Validation problems, taken at even strides over the split (None: all of them)."""
    samples: int = 4
    """Samples per problem. Choosing a checkpoint needs enough of them to beat sampling noise: 48 problems × 4
    samples once picked a checkpoint 6 points worse than the starting model on the whole split."""
    temperature: float = TEMPERATURE
    top_k: int = 200
    max_new_tokens: int = 160
    seed: int = 0
    ks: tuple[int, ...] = (1,)
    batch_size: int = 64
    """Sequences decoded together (memory only)."""


def select(problems: Sequence[Problem], config: ValidationConfig) -> list[Problem]:
    """The validation problems of a split: `config.limit` of them at even strides."""
    return spread(problems, config.limit)


def sample_and_judge(generator: Any, problems: Sequence[Problem], params: SamplingParams, executor: Any,
                     prompts_per_call: int, tests: str = "all",
                     cache: dict[tuple, SampleVerdict] | None = None) -> tuple[list[Sample], list[SampleVerdict],
                                                                              list[Any]]:
    """`params.n` samples per problem, judged on `tests`; each chunk of `prompts_per_call` problems goes to the
    sandbox while the next is generated. Chunk c is sampled with seed `params.seed + c`, as `sample_problems`
    does. Returns (samples, verdicts, the executor's stats of each chunk).

    With a `cache`, a program already judged on the same problem and tests (by an earlier call: say SFT's samples,
    which a method sampled with the same seeds often repeats word for word) takes its verdict from there instead of
    running again; the executor's verdicts go into the cache (system errors excepted)."""
    samples: list[Sample] = []
    chunks = []  # (samples of the chunk, their cached verdicts or None, the future judging the others)
    for c, start in enumerate(range(0, len(problems), prompts_per_call)):
        chunk = problems[start:start + prompts_per_call]
        seed = None if params.seed is None else params.seed + c
        chunk_samples = sample_problems(generator, chunk, replace(params, seed=seed), prompts_per_call, progress=False)
        known = [cache.get(_key(s, tests)) if cache is not None else None for s in chunk_samples]
        fresh = [s for s, v in zip(chunk_samples, known) if v is None]
        chunks.append((chunk_samples, known, executor.submit(chunk, fresh, tests=tests) if fresh else None))
        samples += chunk_samples
    verdicts: list[SampleVerdict] = []
    for chunk_samples, known, future in chunks:
        judged = iter(future.result() if future is not None else [])
        for sample, verdict in zip(chunk_samples, known):
            if verdict is None:
                verdict = next(judged)
                if cache is not None and verdict.status != Status.SE:
                    cache[_key(sample, tests)] = verdict
            verdicts.append(replace(verdict, sample_index=sample.sample_index))
    return samples, verdicts, [future.stats for _, _, future in chunks if future is not None and future.stats]


def _key(sample: Sample, tests: str) -> tuple:
    return sample.problem_id, tests, sample.language, sample.program, sample.completion


def judge(model: Any, tokenizer: Any, problems: Sequence[Problem], executor: Any,
          config: ValidationConfig) -> list[SampleVerdict]:
    """`config.samples` samples per problem from `model` (in eval mode, seeded), judged on all tests."""
    was_training = model.training
    model.eval()
    params = SamplingParams(n=config.samples, temperature=config.temperature, top_k=config.top_k,
                            max_new_tokens=config.max_new_tokens, seed=config.seed)
    generator = HFGenerator(model, tokenizer, batch_size=config.batch_size)
    _, verdicts, _ = sample_and_judge(generator, problems, params, executor,
                                      max(1, config.batch_size // config.samples))
    model.train(was_training)
    return verdicts


def pass_rates(verdicts: Iterable[SampleVerdict]) -> dict[str, float]:
    """Each problem's share of passing samples: what paired comparisons (the same problems and sampling seeds,
    before and after, or SFT and a method) subtract problem by problem."""
    passed: dict[str, list[bool]] = {}
    for v in verdicts:
        passed.setdefault(v.problem_id, []).append(v.all_passed)
    return {pid: sum(x) / len(x) for pid, x in passed.items()}


def validate(model: Any, tokenizer: Any, problems: Sequence[Problem], executor: Any,
             config: ValidationConfig) -> dict[str, float]:
    """`eval/pass@k` and `eval/pass_rate` of `model` on `problems` (all tests)."""
    verdicts = judge(model, tokenizer, problems, executor, config)
    result = evaluate(problems, verdicts, ks=config.ks, bootstrap=0)
    metrics = {f"eval/{k}": float(v) for k, v in result.items() if k.startswith("pass@") and v is not None}
    metrics["eval/pass_rate"] = sum(v.all_passed for v in verdicts) / max(1, len(verdicts))
    return metrics
