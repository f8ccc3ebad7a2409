"""Problems in, `Sample` records out: prompt building, generation and code extraction in one place.

Used by `codelhf sample`, validation (every trainer) and the study, so every one of them prompts and extracts the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from codelhf.generation.base import Generator, SamplingParams
from codelhf.problems import Problem
from codelhf.prompting import STOP, build_prompt, extract_code
from codelhf.samples import Sample


def sample_problems(generator: Generator, problems: Sequence[Problem], params: SamplingParams,
                    prompts_per_call: int = 8, progress: bool = True) -> list[Sample]:
    """`params.n` samples per problem, in problem order; `program` is the extracted code, `metadata.text` the raw
    generation. The prompt builder's stop strings are added to `params.stop`. Chunk `c` of `prompts_per_call`
    problems is sampled with seed `params.seed + c`, so the same seed and options give the same samples."""
    tokenizer = getattr(generator, "tokenizer", None)
    stop = list(dict.fromkeys([*params.stop, *STOP]))
    samples: list[Sample] = []
    columns = [TextColumn("sampling"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[rate]}")]
    n_tokens = 0
    with Progress(*columns, console=Console(stderr=True), disable=not progress) as bar:
        task = bar.add_task("sample", total=len(problems) * params.n, rate="")
        for c, start in enumerate(range(0, len(problems), prompts_per_call)):
            chunk = problems[start:start + prompts_per_call]
            seed = None if params.seed is None else params.seed + c
            generations = generator.generate([build_prompt(p, tokenizer) for p in chunk],
                                             replace(params, stop=stop, seed=seed))
            for problem, gens in zip(chunk, generations):
                for j, g in enumerate(gens):
                    n_tokens += len(g.token_ids)
                    program = extract_code(g.text)
                    samples.append(Sample(problem_id=problem.id, program=program, language="python",
                                          sample_index=j, metadata={"text": g.text, "finish_reason": g.finish_reason,
                                                                    "n_tokens": len(g.token_ids)}))
            elapsed = bar.tasks[0].elapsed or 0.0
            bar.update(task, advance=len(chunk) * params.n,
                       rate=f"{n_tokens / elapsed:.0f} tokens/s" if elapsed > 0 else "")
    return samples
