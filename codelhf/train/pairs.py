"""Preference pairs for DPO: chosen = a program that passes every test, rejected = one that does not.

Two sources, as in Xu et al. 2024:
- a dataset's own correct and incorrect solutions (CodeContests has both): `pairs_from_solutions`;
- programs a model wrote, labelled by running them (DPO-Iter on APPS): `pairs_from_verdicts`. When no sample of
  a problem passes, the reference solution may stand in as the chosen one (the paper does this; configurable).
  When every sample passes there is nothing to reject and the problem gives no pair (we do not pair a reference
  against nothing: DPO needs a rejected response).

The rows follow the Hugging Face preference-data convention (TRL's "standard" format): `prompt`, `chosen` and
`rejected` are text, and `chosen`/`rejected` are the completions that follow the prompt, in the same format the
SFT targets use, so DPO's log-probabilities are those of what the model was trained (and samples) to write.
Extra keys (`problem_id`, `chosen_source`, `rejected_status`) say where each pair came from.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from codelhf.errors import UserError
from codelhf.problems import Problem, Solution, read_jsonl, write_jsonl
from codelhf.prompting import STOP, build_prompt, sft_target
from codelhf.samples import Sample
from codelhf.verdicts import SampleVerdict, Status


@dataclass
class PreferencePair:
    prompt: str
    chosen: str
    """Completion text after the prompt (a program that passes, in the SFT target format)."""
    rejected: str
    """Completion text after the prompt (a program that fails)."""
    problem_id: str
    chosen_source: str = "sample"
    """"sample" (a model's passing program), "reference" (the problem's reference solution) or "solution" (a
    dataset's correct solution)."""
    rejected_status: str = ""
    """The rejected program's verdict (WA, RE, CE, ...), or "" for a dataset's known-incorrect solution."""


@dataclass
class PairStats:
    """What happened per problem, so a user can see why a set gave few pairs."""

    problems: int = 0
    pairs: int = 0
    problems_with_pairs: int = 0
    none_passed_used_reference: int = 0
    none_passed_skipped: int = 0
    """No sample passed and no (usable) reference solution, or the reference is switched off."""
    all_passed_skipped: int = 0
    duplicates_removed: int = 0
    """Exact duplicate completions dropped (and completions seen both passing and failing, which are ambiguous)."""
    system_errors_skipped: int = 0
    """Samples whose verdict is SE (the sandbox's fault): neither chosen nor rejected."""


@dataclass
class PairConfig:
    max_pairs_per_prompt: int = 4
    """Cap per problem; the pairs kept are a seeded random choice among all chosen × rejected combinations."""
    reference_when_none_pass: bool = True
    """When no sample passes, use the problem's reference solution as the chosen one (Xu et al. 2024)."""
    languages: tuple[str, ...] = ("python",)
    """Languages of dataset solutions used as responses (the policy writes these)."""
    seed: int = 0


# ---------------------------------------------------------------------------------------------------------------
# Texts
# ---------------------------------------------------------------------------------------------------------------


def solution_text(code: str) -> str:
    """A reference or dataset program as the completion the model would write after the prompt (SFT format)."""
    return sft_target(code)


def sample_text(sample: Sample) -> str:
    """What the model wrote after the prompt: the raw generation when the sample kept it, else the completion, else
    the program in the SFT target format.

    A generation that stopped at the closing fence comes without it (stop strings are cut from the text); the fence
    is put back, so a passing sample reads exactly like an SFT target and the model is not taught to end its
    program with EOS and no fence."""
    text = sample.metadata.get("text")
    if isinstance(text, str):
        if sample.metadata.get("finish_reason") == "stop" and not text.rstrip().endswith("```"):
            text += STOP[0]
        return text
    if sample.completion is not None:
        return sample.completion
    return solution_text(sample.program or "")


def _unique(texts: Iterable[str], stats: PairStats) -> list[str]:
    seen: dict[str, None] = {}
    for t in texts:
        if t in seen:
            stats.duplicates_removed += 1
        seen[t] = None
    return list(seen)


def _usable(solutions: Sequence[Solution], config: PairConfig) -> list[Solution]:
    return [s for s in solutions if not config.languages or s.language in config.languages]


def _choose(problem_id: str, chosen: list[str], rejected: list[str], config: PairConfig) -> list[tuple[str, str]]:
    """A seeded choice of at most `max_pairs_per_prompt` (chosen, rejected) combinations; the same for the same
    inputs whatever the order problems are processed in."""
    combos = [(c, r) for c in sorted(chosen) for r in sorted(rejected)]
    random.Random(f"{config.seed}:{problem_id}").shuffle(combos)
    return combos[:config.max_pairs_per_prompt]


# ---------------------------------------------------------------------------------------------------------------
# From a dataset's own correct and incorrect solutions (CodeContests)
# ---------------------------------------------------------------------------------------------------------------


def pairs_from_solutions(problems: Sequence[Problem], config: PairConfig | None = None,
                         tokenizer: Any = None) -> tuple[list[PreferencePair], PairStats]:
    """Correct vs incorrect solutions of each problem, in the languages of `config.languages`."""
    config = config or PairConfig()
    stats = PairStats(problems=len(problems))
    pairs = []
    for problem in problems:
        chosen = _unique((solution_text(s.code) for s in _usable(problem.solutions, config)), stats)
        rejected = _unique((solution_text(s.code) for s in _usable(problem.incorrect_solutions, config)), stats)
        if chosen and not rejected:
            stats.all_passed_skipped += 1
        elif rejected and not chosen:
            stats.none_passed_skipped += 1
        chosen_set = set(chosen)
        rejected = [r for r in rejected if r not in chosen_set]
        prompt = build_prompt(problem, tokenizer)
        picked = _choose(problem.id, chosen, rejected, config)
        pairs += [PreferencePair(prompt, c, r, problem.id, chosen_source="solution") for c, r in picked]
        stats.problems_with_pairs += bool(picked)
    stats.pairs = len(pairs)
    return pairs, stats


# ---------------------------------------------------------------------------------------------------------------
# From samples labelled by execution (DPO-Iter)
# ---------------------------------------------------------------------------------------------------------------


def pairs_from_verdicts(problems: Sequence[Problem] | dict[str, Problem], samples: Sequence[Sample],
                        verdicts: Sequence[SampleVerdict], config: PairConfig | None = None,
                        tokenizer: Any = None) -> tuple[list[PreferencePair], PairStats]:
    """Passing vs failing samples of each problem; `verdicts[i]` is the verdict of `samples[i]`."""
    config = config or PairConfig()
    if len(samples) != len(verdicts):
        raise UserError(f"{len(samples)} samples but {len(verdicts)} verdicts",
                        "verdicts must come from executing exactly these samples, in the same order")
    by_id = problems if isinstance(problems, dict) else {p.id: p for p in problems}
    passing: dict[str, list[str]] = {}
    failing: dict[str, list[tuple[str, str]]] = {}
    stats = PairStats()
    for sample, verdict in zip(samples, verdicts):
        if sample.problem_id not in by_id:
            raise UserError(f"sample for unknown problem {sample.problem_id!r}",
                            "samples and problems must come from the same problem set (check --problems/--split)")
        passing.setdefault(sample.problem_id, [])
        failing.setdefault(sample.problem_id, [])
        if verdict.status == Status.SE:
            stats.system_errors_skipped += 1
        elif verdict.all_passed:
            passing[sample.problem_id].append(sample_text(sample))
        else:
            failing[sample.problem_id].append((sample_text(sample), verdict.status.value))

    pairs = []
    stats.problems = len(passing)
    for problem_id, passed in passing.items():
        problem = by_id[problem_id]
        chosen = _unique(passed, stats)
        status_of = {text: status for text, status in failing[problem_id]}
        rejected = _unique((text for text, _ in failing[problem_id]), stats)
        ambiguous = set(chosen) & set(rejected)  # the same text both passed and failed: a flaky verdict
        if ambiguous:
            stats.duplicates_removed += 2 * len(ambiguous)
            chosen = [c for c in chosen if c not in ambiguous]
            rejected = [r for r in rejected if r not in ambiguous]
        source = "sample"
        if not rejected:
            stats.all_passed_skipped += bool(chosen)
            continue
        if not chosen:
            references = _usable(problem.solutions, config)
            if not (config.reference_when_none_pass and references):
                stats.none_passed_skipped += 1
                continue
            stats.none_passed_used_reference += 1
            chosen, source = [solution_text(references[0].code)], "reference"
        prompt = build_prompt(problem, tokenizer)
        picked = _choose(problem_id, chosen, rejected, config)
        pairs += [PreferencePair(prompt, c, r, problem_id, chosen_source=source, rejected_status=status_of[r])
                  for c, r in picked]
        stats.problems_with_pairs += 1
    stats.pairs = len(pairs)
    return pairs, stats


# ---------------------------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------------------------


def save_pairs(path: str | Path, pairs: Iterable[PreferencePair]) -> int:
    return write_jsonl(path, (asdict(p) for p in pairs))


def load_pairs(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a preference JSONL (ours, or any file in the HF standard format: prompt, chosen, rejected text)."""
    rows = []
    for lineno, row in read_jsonl(path):
        for key in ("prompt", "chosen", "rejected"):
            if not isinstance(row.get(key), str):
                raise UserError(f"{path}:{lineno}: field {key!r} is missing or not text",
                                "each line is {prompt, chosen, rejected} with text values (write one with "
                                "`codelhf pairs`); conversational (list of messages) rows are not supported")
        rows.append(row)
    return rows
