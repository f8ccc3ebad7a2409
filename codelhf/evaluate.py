"""pass@k and n@k from verdicts, overall and per difficulty, with bootstrap confidence intervals.

pass@k (Chen et al. 2021): with n samples of a problem of which c pass every test, the probability that a random
k-subset holds at least one passing sample, 1 - C(n-c, k) / C(n, k), computed as a product so that n = 1000 does
not overflow; averaged over problems.

n@k (Li et al. 2022, AlphaCode): draw k samples, keep those passing the problem's public tests, submit at most n of
them; the problem is solved if a submitted sample passes the hidden tests. We compute its expectation exactly (no
Monte Carlo), see `n_at_k`. Samples are submitted in random order among the filtered ones: AlphaCode clusters
them by behaviour first, which we do not.

k > n: with fewer than k samples no k-subset exists and C(n, k) = 0, so the estimator is undefined. We do not
extrapolate: `pass_at_k` raises, and `evaluate` reports the metric as None (null in JSON) with the reason under
"undefined". (The reference implementation returns 1.0 whenever n - c < k, which for k > n would claim every
problem solved, even with no passing sample.)
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.table import Table

from codelhf.errors import UserError
from codelhf.plots import grouped_bars
from codelhf.problems import Problem
from codelhf.verdicts import SampleVerdict, Status, count_statuses

# ---------------------------------------------------------------------------------------------------------------
# Estimators
# ---------------------------------------------------------------------------------------------------------------


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem: 1 - C(n-c, k) / C(n, k) = 1 - prod_{i=n-c+1}^{n} (1 - k/i)."""
    if not 0 <= c <= n or k < 1:
        raise ValueError(f"pass@k needs 0 <= c <= n and k >= 1 (n={n}, c={c}, k={k})")
    if k > n:
        raise ValueError(f"pass@{k} is undefined with only {n} samples")
    if n - c < k:  # every k-subset contains a passing sample
        return 1.0
    failing_subsets = 1.0
    for i in range(n - c + 1, n + 1):
        failing_subsets *= 1.0 - k / i
    return 1.0 - failing_subsets


def n_at_k(n: int, k: int, public_pass: int, solved: int, submit: int) -> float:
    """Expected n@k for one problem with `n` samples, exact.

    `public_pass` samples pass the public tests, of which `solved` also pass the hidden ones; `submit` is the n of
    n@k. Order the n samples at random: the k drawn are the first k, and the submitted ones are the first
    `submit` public-passing samples among them. Two independent facts decide success: the rank j (among the
    p = `public_pass` filtered samples) of the first one that also passes hidden tests, P(j) = C(p-j, a-1) / C(p, a)
    with a = `solved`; and whether the j-th filtered sample lies among the first k, P(H >= j) with H the
    hypergeometric number of filtered samples in a k-draw. Solved iff j <= submit and H >= j.
    """
    p, a = public_pass, solved
    if not 0 <= a <= p <= n or k < 1 or submit < 1:
        raise ValueError(f"n@k needs 0 <= solved <= public_pass <= n, k >= 1, submit >= 1 (n={n}, p={p}, a={a})")
    if k > n:
        raise ValueError(f"{submit}@{k} is undefined with only {n} samples")
    if a == 0:
        return 0.0
    draws = math.comb(n, k)
    # tail[j] = P(H >= j): at least j of the p filtered samples among the k drawn
    pmf = [math.comb(p, h) * math.comb(n - p, k - h) for h in range(min(p, k) + 1)]
    tail = [0] * (len(pmf) + 1)
    for h in range(len(pmf) - 1, -1, -1):
        tail[h] = tail[h + 1] + pmf[h]
    orders = math.comb(p, a)
    total = sum(math.comb(p - j, a - 1) * tail[j] for j in range(1, min(submit, p, k) + 1))
    return total / (orders * draws)


# ---------------------------------------------------------------------------------------------------------------
# Per-problem outcomes from verdicts
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class ProblemOutcome:
    """What the estimators need from one problem's samples."""

    problem_id: str
    difficulty: str
    n: int = 0
    """samples"""
    passed: int = 0
    """samples passing every test (hence also the public ones)"""
    public_pass: int = 0
    """samples passing the public tests (all samples when the problem has none)"""


def outcomes(problems: Sequence[Problem] | Mapping[str, Problem],
             verdicts: Iterable[SampleVerdict]) -> list[ProblemOutcome]:
    """Group verdicts by problem. Verdicts of `execute` on all tests hold the public tests first (Problem.tests)."""
    by_id = problems if isinstance(problems, Mapping) else {p.id: p for p in problems}
    found: dict[str, ProblemOutcome] = {}
    for v in verdicts:
        problem = by_id.get(v.problem_id)
        if problem is None:
            raise UserError(f"a verdict names problem {v.problem_id!r}, which is not among the problems",
                            "evaluate with the same problem set (and --split/--limit) the samples were made for")
        o = found.setdefault(v.problem_id, ProblemOutcome(v.problem_id, problem.difficulty))
        n_public = len(problem.public_tests)
        if v.test_set == "all":
            public_ok = all(t.status == Status.AC for t in v.tests[:n_public])
        elif v.test_set == "hidden":  # no public run: every sample counts as passing the filter
            public_ok = True
        else:
            raise UserError(f"verdicts for {v.problem_id!r} were run on the {v.test_set!r} tests only",
                            "pass@k needs verdicts on all tests (execute --tests all, the default)")
        o.n += 1
        o.passed += v.all_passed
        o.public_pass += public_ok
    return list(found.values())


# ---------------------------------------------------------------------------------------------------------------
# Aggregation: mean over problems, bootstrap interval, per difficulty
# ---------------------------------------------------------------------------------------------------------------


def parse_ks(text: str | Sequence[int]) -> list[int]:
    """'1,10,100' -> [1, 10, 100]."""
    if not isinstance(text, str):
        return [int(k) for k in text]
    try:
        ks = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UserError(f"--k {text!r}: expected integers separated by commas", "for example --k 1,10,100")
    if not ks or min(ks) < 1:
        raise UserError(f"--k {text!r}: every k must be at least 1", "for example --k 1,10,100")
    return ks


def parse_n_at_k(spec: str | tuple[int, int] | Sequence[str | tuple[int, int]]) -> list[tuple[int, int]]:
    """'10@1000' or '1@10,10@100' or [(10, 1000)] -> [(10, 1000)]."""
    if isinstance(spec, tuple) and len(spec) == 2 and all(isinstance(x, int) for x in spec):
        return [spec]
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    result = []
    for item in items:
        if isinstance(item, tuple):
            result.append((int(item[0]), int(item[1])))
            continue
        match = re.fullmatch(r"\s*(\d+)@(\d+)\s*", item)
        if not match or int(match.group(1)) < 1 or int(match.group(2)) < 1:
            raise UserError(f"--n-at-k {item!r}: expected N@K with positive integers", "for example --n-at-k 10@1000")
        result.append((int(match.group(1)), int(match.group(2))))
    return result


def _metric_values(outs: list[ProblemOutcome], ks: list[int], n_at: list[tuple[int, int]]
                   ) -> dict[str, list[float | None]]:
    """Each metric's value per problem (aligned with `outs`), None where k exceeds that problem's samples.
    Computed once and shared by the overall and per-difficulty summaries (10@1000 costs ~4 ms a problem)."""
    values: dict[str, list[float | None]] = {}
    for k in ks:
        values[f"pass@{k}"] = [pass_at_k(o.n, o.passed, k) if k <= o.n else None for o in outs]
    for submit, k in n_at:
        values[f"{submit}@{k}"] = [n_at_k(o.n, k, o.public_pass, o.passed, submit) if k <= o.n else None
                                   for o in outs]
    return values


def bootstrap_interval(values: Sequence[float], resamples: int = 1000, confidence: float = 0.95,
                       seed: int = 0) -> tuple[float, float]:
    """Percentile interval of the mean, resampling problems with replacement (seeded, so reports are stable)."""
    data = np.asarray(values, dtype=float)
    if len(data) < 2 or resamples < 1:
        return float(data.mean()), float(data.mean())
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, len(data), size=(resamples, len(data)))].mean(axis=1)
    low, high = np.quantile(means, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(low), float(high)


def paired_difference(ours: Mapping[str, float], base: Mapping[str, float], problem_ids: Iterable[str],
                      resamples: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Mean over problems of the per-problem difference `ours − base` (pass rates of the same problems with the same
    sampling seeds: a method and SFT, or after and before training), with its 95% bootstrap interval over problems
    and how many problems got better and worse. Problems missing from either side are left out."""
    d = np.array([ours[pid] - base[pid] for pid in problem_ids if pid in ours and pid in base])
    if len(d) == 0:
        return {"n_problems": 0}
    low, high = bootstrap_interval(d, resamples, seed=seed)  # rounded: a mean of exact zeros must read 0, not 3e-18
    return {"n_problems": len(d), "diff": round(float(d.mean()), 12), "ci": [round(low, 12), round(high, 12)],
            "better": int((d > 0).sum()), "worse": int((d < 0).sum())}


def _summary(outs: list[ProblemOutcome], values: dict[str, list[float | None]], resamples: int,
             confidence: float, seed: int) -> dict[str, Any]:
    """Mean and bootstrap interval of each metric over `outs` (`values` aligned with them)."""
    summary: dict[str, Any] = {"n_problems": len(outs), "n_samples": sum(o.n for o in outs)}
    intervals: dict[str, list[float]] = {}
    undefined: dict[str, str] = {}
    fewest = min(o.n for o in outs)
    for name, per_problem in values.items():
        if any(v is None for v in per_problem):
            summary[name] = None
            undefined[name] = f"k={name.split('@')[1]} but some problems have only {fewest} samples"
            continue
        summary[name] = sum(per_problem) / len(per_problem)
        intervals[name] = list(bootstrap_interval(per_problem, resamples, confidence, seed))
    summary["ci"] = intervals
    if undefined:
        summary["undefined"] = undefined
    return summary


# Easiest first, so tables and plots read left to right (APPS, then the common easy/medium/hard scales).
DIFFICULTY_ORDER = ["introductory", "interview", "competition", "easy", "medium", "medium_hard", "hard", "harder",
                    "very_hard", "hardest"]


def difficulty_rank(name: str) -> tuple[int, str]:
    key = name.lower()
    return (DIFFICULTY_ORDER.index(key) if key in DIFFICULTY_ORDER else len(DIFFICULTY_ORDER), key)


def evaluate(problems: Sequence[Problem] | Mapping[str, Problem], verdicts: Iterable[SampleVerdict],
             ks: Sequence[int] | str = (1,), n_at_k: Sequence[Any] | str = (), bootstrap: int = 1000,
             confidence: float = 0.95, seed: int = 0) -> dict[str, Any]:
    """pass@k and n@k over the problems that have verdicts, overall and by `metadata["difficulty"]`.

    Returns {"pass@1": .., "10@1000": .., "n_problems": .., "n_samples": .., "ci": {metric: [low, high]},
    "by_difficulty": {difficulty: {same keys}}, "statuses": {AC: .., WA: ..}, "problems_without_samples": ..,
    "undefined": {metric: why}} with fractions in [0, 1]; a metric is None where k exceeds some problem's n.
    """
    verdicts = list(verdicts)
    ks, n_at = parse_ks(ks), parse_n_at_k(n_at_k)
    outs = outcomes(problems, verdicts)
    if not outs:
        raise UserError("no verdicts to evaluate", "run the samples first (codelhf execute) or pass --samples")
    values = _metric_values(outs, ks, n_at)
    result = _summary(outs, values, bootstrap, confidence, seed)
    groups: dict[str, list[int]] = defaultdict(list)
    for i, o in enumerate(outs):
        groups[o.difficulty].append(i)
    result["by_difficulty"] = {
        difficulty: _summary([outs[i] for i in members], {m: [v[i] for i in members] for m, v in values.items()},
                             bootstrap, confidence, seed)
        for difficulty, members in sorted(groups.items(), key=lambda item: difficulty_rank(item[0]))}
    result["statuses"] = count_statuses(verdicts)
    n_problems = len(problems)
    result["problems_without_samples"] = n_problems - len(outs)
    result["confidence"], result["bootstrap"], result["seed"] = confidence, bootstrap, seed
    return result


# ---------------------------------------------------------------------------------------------------------------
# Reporting: a rich table and a bar chart
# ---------------------------------------------------------------------------------------------------------------


def metric_names(result: dict[str, Any]) -> list[str]:
    return [key for key in result if key.startswith("pass@") or re.fullmatch(r"\d+@\d+", key)]


def _cell(summary: dict[str, Any], name: str) -> str:
    value = summary.get(name)
    if value is None:
        return "n/a"
    low, high = summary["ci"][name]
    return f"{100 * value:.1f} [{100 * low:.1f}, {100 * high:.1f}]"


def render_table(result: dict[str, Any]) -> Any:
    """A rich Table: one row per difficulty and one overall, percentages with the bootstrap interval."""
    names = metric_names(result)
    table = Table(title=f"pass@k (%), {int(100 * result['confidence'])}% bootstrap interval over problems")
    table.add_column("difficulty")
    table.add_column("problems", justify="right")
    table.add_column("samples", justify="right")
    for name in names:
        table.add_column(name, justify="right")
    rows = list(result["by_difficulty"].items()) if len(result["by_difficulty"]) > 1 else []
    for difficulty, summary in rows + [("overall", result)]:
        table.add_row(difficulty, str(summary["n_problems"]), str(summary["n_samples"]),
                      *(_cell(summary, name) for name in names))
    return table


def plot_by_difficulty(result: dict[str, Any], path: str | Path) -> Path:
    """Grouped bars of each metric per difficulty (and overall), with the bootstrap interval as error bars."""
    names = [n for n in metric_names(result) if result.get(n) is not None]
    groups = list(result["by_difficulty"].items()) + [("overall", result)]
    series = []
    for name in names:
        values = [summary.get(name) for _, summary in groups]
        intervals = [summary["ci"][name] if value is not None else (math.nan, math.nan)
                     for value, (_, summary) in zip(values, groups)]
        series.append((name, [math.nan if v is None else 100 * v for v in values],
                       [100 * lo for lo, _ in intervals], [100 * hi for _, hi in intervals]))
    ticks = [f"{d}\n({s['n_problems']} problems)" for d, s in groups]
    return grouped_bars(path, ticks, series, "% of problems", "pass@k by difficulty", ylim=(0, 100))
