"""pass@k against brute-force enumeration of k-subsets, n@k against enumeration of draws and submission orders and
a case worked by hand, and `evaluate` on verdicts built by hand (no sandbox needed)."""

from __future__ import annotations

import itertools
import json
import math
from fractions import Fraction
from pathlib import Path

import pytest

from codelhf.errors import UserError
from codelhf.evaluate import (
    bootstrap_interval,
    evaluate,
    n_at_k,
    paired_difference,
    parse_ks,
    parse_n_at_k,
    pass_at_k,
    plot_by_difficulty,
    render_table,
)
from codelhf.problems import Problem
from codelhf.problems import TestCase as Case  # aliased: pytest would try to collect Test*
from codelhf.verdicts import SampleVerdict, Status
from codelhf.verdicts import TestVerdict as Verdict


def brute_pass_at_k(outcomes: list[bool], k: int) -> Fraction:
    subsets = list(itertools.combinations(outcomes, k))
    return Fraction(sum(any(s) for s in subsets), len(subsets))


@pytest.mark.parametrize("n", range(1, 8))
def test_pass_at_k_equals_subset_enumeration(n: int) -> None:
    for c in range(n + 1):
        outcomes = [True] * c + [False] * (n - c)
        for k in range(1, n + 1):
            assert pass_at_k(n, c, k) == pytest.approx(float(brute_pass_at_k(outcomes, k)), abs=1e-12)


def test_pass_at_k_stable_for_large_n_and_undefined_beyond_n() -> None:
    # 1 - C(990, 100) / C(1000, 100), computed exactly with integers
    exact = 1 - Fraction(math.comb(990, 100), math.comb(1000, 100))
    assert pass_at_k(1000, 10, 100) == pytest.approx(float(exact), rel=1e-12)
    assert pass_at_k(1000, 1, 1) == pytest.approx(0.001)
    assert pass_at_k(200, 0, 100) == 0.0 and pass_at_k(200, 150, 100) == 1.0
    with pytest.raises(ValueError, match="undefined"):
        pass_at_k(5, 0, 10)


def brute_n_at_k(samples: list[tuple[bool, bool]], k: int, submit: int) -> Fraction:
    """Every k-subset, then every order of submission among its public-passing samples, equally likely."""
    total = Fraction(0)
    subsets = list(itertools.combinations(samples, k))
    for subset in subsets:
        filtered = [hidden for public, hidden in subset if public]
        orders = list(itertools.permutations(filtered))
        solved = sum(any(order[:submit]) for order in orders)
        total += Fraction(solved, len(orders)) / len(subsets)
    return total


def test_n_at_k_by_hand() -> None:
    # Four samples: A passes public and hidden, B1 and B2 pass only public, F fails public. 1@2 draws 2 of 4:
    # {A,B1} and {A,B2} submit A half the time, {A,F} always, the other three never: (1/2 + 1/2 + 1) / 6 = 1/3.
    assert n_at_k(n=4, k=2, public_pass=3, solved=1, submit=1) == pytest.approx(1 / 3)
    # Submitting both of two drawn samples is pass@2: 1 - C(3, 2) / C(4, 2) = 1/2.
    assert n_at_k(n=4, k=2, public_pass=3, solved=1, submit=2) == pytest.approx(0.5)
    assert n_at_k(n=4, k=4, public_pass=3, solved=0, submit=4) == 0.0


@pytest.mark.parametrize("n", range(1, 7))
def test_n_at_k_equals_enumeration(n: int) -> None:
    for p in range(n + 1):
        for a in range(p + 1):
            samples = [(True, True)] * a + [(True, False)] * (p - a) + [(False, False)] * (n - p)
            for k in range(1, n + 1):
                for submit in range(1, k + 1):
                    expected = float(brute_n_at_k(samples, k, submit))
                    assert n_at_k(n, k, p, a, submit) == pytest.approx(expected, abs=1e-12), (n, p, a, k, submit)


def test_n_at_k_without_filtering_is_pass_at_k() -> None:
    for n, c, k in [(10, 3, 5), (50, 1, 10), (100, 20, 100)]:
        assert n_at_k(n, k, public_pass=n, solved=c, submit=k) == pytest.approx(pass_at_k(n, c, k))


def test_parsers_reject_bad_input() -> None:
    assert parse_ks("1, 10,100") == [1, 10, 100]
    assert parse_n_at_k("10@1000,1@10") == [(10, 1000), (1, 10)]
    with pytest.raises(UserError, match="--k"):
        parse_ks("1,ten")
    with pytest.raises(UserError, match="--n-at-k"):
        parse_n_at_k("10at1000")


# ---------------------------------------------------------------------------------------------------------------
# evaluate() on hand-made verdicts
# ---------------------------------------------------------------------------------------------------------------


def verdict(problem_id: str, index: int, statuses: str) -> SampleVerdict:
    """'AA.W' style: one letter per test (A accepted, W wrong answer), public tests first."""
    status = {"A": Status.AC, "W": Status.WA}
    return SampleVerdict(problem_id, index, [Verdict(status[s]) for s in statuses])


@pytest.fixture
def problems() -> list[Problem]:
    def problem(pid: str, difficulty: str) -> Problem:
        return Problem(pid, "", public_tests=[Case("1", "1")], hidden_tests=[Case("2", "2")],
                       metadata={"difficulty": difficulty})

    return [problem("easy1", "easy"), problem("easy2", "easy"), problem("hard1", "hard"), problem("unused", "hard")]


def test_evaluate_overall_and_by_difficulty(problems: list[Problem]) -> None:
    verdicts = [
        verdict("easy1", 0, "AA"), verdict("easy1", 1, "AA"), verdict("easy1", 2, "AW"), verdict("easy1", 3, "WW"),
        verdict("easy2", 0, "AW"), verdict("easy2", 1, "WA"), verdict("easy2", 2, "WW"), verdict("easy2", 3, "AA"),
        *(verdict("hard1", i, "WW") for i in range(4)),
    ]
    result = evaluate(problems, verdicts, ks=[1, 2, 10], n_at_k=["1@2"])
    assert result["n_problems"] == 3 and result["n_samples"] == 12 and result["problems_without_samples"] == 1
    # pass@1 per problem: 2/4, 1/4, 0
    assert result["pass@1"] == pytest.approx((0.5 + 0.25 + 0) / 3)
    assert result["pass@2"] == pytest.approx((pass_at_k(4, 2, 2) + pass_at_k(4, 1, 2)) / 3)
    assert result["pass@10"] is None and "pass@10" in result["undefined"]
    # easy1: 3 pass public, 2 of them hidden; easy2: samples 0 and 3 pass public, 3 passes hidden too
    expected_1at2 = (n_at_k(4, 2, 3, 2, 1) + n_at_k(4, 2, 2, 1, 1)) / 3
    assert result["1@2"] == pytest.approx(expected_1at2)
    easy = result["by_difficulty"]["easy"]
    assert easy["n_problems"] == 2 and easy["pass@1"] == pytest.approx(0.375)
    assert result["by_difficulty"]["hard"]["pass@1"] == 0.0
    low, high = result["ci"]["pass@1"]
    assert 0.0 <= low <= result["pass@1"] <= high <= 0.5
    assert result["statuses"] == {"AC": 3, "WA": 9}
    json.dumps(result)  # the --json output


def test_evaluate_rejects_unknown_problem(problems: list[Problem]) -> None:
    with pytest.raises(UserError, match="'nope', which is not among the problems"):
        evaluate(problems, [verdict("nope", 0, "AA")])


def test_bootstrap_is_seeded_and_narrows_with_more_problems() -> None:
    values = [1.0, 0.0] * 10
    assert bootstrap_interval(values, seed=3) == bootstrap_interval(values, seed=3)
    low, high = bootstrap_interval(values)
    wide = high - low
    low, high = bootstrap_interval(values * 25)
    assert low < 0.5 < high and high - low < wide / 3


def test_table_and_plot(problems: list[Problem], tmp_path: Path) -> None:
    from rich.console import Console

    verdicts = [verdict(p, i, "AA" if i == 0 else "WW") for p in ("easy1", "hard1") for i in range(3)]
    result = evaluate(problems, verdicts, ks=[1, 2])
    console = Console(record=True, width=160)
    console.print(render_table(result))
    text = console.export_text()
    assert "overall" in text and "easy" in text and "33.3" in text
    path = plot_by_difficulty(result, tmp_path / "plots" / "passk.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000


def test_metric_undefined_overall_but_defined_where_every_problem_has_k_samples(problems: list[Problem]) -> None:
    verdicts = [verdict("easy1", i, "AA") for i in range(4)] + [verdict("hard1", i, "WW") for i in range(2)]
    result = evaluate(problems, verdicts, ks=[1, 3])
    assert result["pass@3"] is None and result["undefined"]["pass@3"] == "k=3 but some problems have only 2 samples"
    assert result["by_difficulty"]["easy"]["pass@3"] == 1.0
    assert result["by_difficulty"]["hard"]["pass@3"] is None
    assert result["pass@1"] == pytest.approx(0.5)


def test_paired_difference_is_the_mean_per_problem_difference_with_a_bootstrap_interval():
    ours, base = {"a": 1.0, "b": 0.5, "c": 0.0, "only_ours": 1.0}, {"a": 0.5, "b": 0.5, "c": 0.5, "d": 0.0}
    result = paired_difference(ours, base, ["a", "b", "c", "d", "only_ours"], resamples=500)
    assert (result["n_problems"], result["diff"], result["better"], result["worse"]) == (3, 0.0, 1, 1)
    assert -0.5 <= result["ci"][0] < 0 < result["ci"][1] <= 0.5
    assert paired_difference({"a": 0.2, "b": 0.4}, {"a": 0.2, "b": 0.4}, ["a", "b"])["ci"] == [0.0, 0.0]
    assert paired_difference(ours, base, ["nowhere"]) == {"n_problems": 0}
