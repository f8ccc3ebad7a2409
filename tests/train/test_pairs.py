"""Preference pairs from hand-made verdicts and from a dataset's own solutions."""

from __future__ import annotations

import pytest

from codelhf.errors import UserError
from codelhf.problems import Problem, Solution
from codelhf.problems import TestCase as Case
from codelhf.prompting import build_prompt, extract_code, sft_target
from codelhf.samples import Sample
from codelhf.train.pairs import PairConfig, load_pairs, pairs_from_solutions, pairs_from_verdicts, save_pairs
from codelhf.verdicts import SampleVerdict, Status
from codelhf.verdicts import TestVerdict as Verdict

REFERENCE = "print(int(input()) + 1)"


def problem(pid: str = "p1") -> Problem:
    return Problem(id=pid, prompt="Print n + 1.", public_tests=[Case("1\n", "2\n")],
                   hidden_tests=[Case("5\n", "6\n")], solutions=[Solution(REFERENCE)])


def labelled(pid: str, outcomes: list[tuple[str, list[str]]]) -> tuple[list[Sample], list[SampleVerdict]]:
    """Samples whose raw generation is `text`, and verdicts with the given per-test statuses."""
    samples = [Sample(problem_id=pid, program=extract_code(text), sample_index=i, metadata={"text": text})
               for i, (text, _) in enumerate(outcomes)]
    verdicts = [SampleVerdict(pid, i, [Verdict(Status(s)) for s in statuses])
                for i, (_, statuses) in enumerate(outcomes)]
    return samples, verdicts


GOOD_A = "print(int(input()) + 1)\n```"
GOOD_B = "n = int(input())\nprint(n + 1)\n```"
BAD_WA = "print(int(input()))\n```"
BAD_RE = "print(undefined)\n```"
BAD_CE = "print(\n```"


def test_mixed_samples_pair_passing_with_failing_and_drop_duplicates():
    samples, verdicts = labelled("p1", [(GOOD_A, ["AC", "AC"]), (BAD_WA, ["AC", "WA"]), (GOOD_B, ["AC", "AC"]),
                                        (GOOD_A, ["AC", "AC"]), (BAD_RE, ["RE", "RE"])])
    pairs, stats = pairs_from_verdicts([problem()], samples, verdicts, PairConfig(max_pairs_per_prompt=10))
    assert {(p.chosen, p.rejected) for p in pairs} == {(GOOD_A, BAD_WA), (GOOD_A, BAD_RE), (GOOD_B, BAD_WA),
                                                       (GOOD_B, BAD_RE)}
    assert len(pairs) == 4 and stats.pairs == 4 and stats.duplicates_removed == 1
    assert {p.rejected: p.rejected_status for p in pairs} == {BAD_WA: "WA", BAD_RE: "RE"}
    assert all(p.chosen_source == "sample" and p.problem_id == "p1" for p in pairs)
    # prompt + chosen is exactly what the model wrote after the prompt; its program is the sample's
    assert pairs[0].prompt == build_prompt(problem())
    assert extract_code(pairs[0].chosen) in {extract_code(GOOD_A), extract_code(GOOD_B)}


def test_no_sample_passes_uses_the_reference_solution_when_allowed():
    samples, verdicts = labelled("p1", [(BAD_WA, ["AC", "WA"]), (BAD_CE, ["CE", "CE"])])
    pairs, stats = pairs_from_verdicts([problem()], samples, verdicts)
    assert [(p.chosen, p.rejected_status) for p in sorted(pairs, key=lambda p: p.rejected_status)] == [
        (sft_target(REFERENCE), "CE"), (sft_target(REFERENCE), "WA")]
    assert all(p.chosen_source == "reference" for p in pairs)
    assert stats.none_passed_used_reference == 1

    pairs, stats = pairs_from_verdicts([problem()], samples, verdicts, PairConfig(reference_when_none_pass=False))
    assert pairs == [] and stats.none_passed_skipped == 1
    no_reference = problem()
    no_reference.solutions = []
    pairs, stats = pairs_from_verdicts([no_reference], samples, verdicts)
    assert pairs == [] and stats.none_passed_skipped == 1


def test_all_samples_pass_gives_no_pair():
    samples, verdicts = labelled("p1", [(GOOD_A, ["AC", "AC"]), (GOOD_B, ["AC", "AC"])])
    pairs, stats = pairs_from_verdicts([problem()], samples, verdicts)
    assert pairs == [] and stats.all_passed_skipped == 1 and stats.problems == 1


def test_system_errors_are_neither_chosen_nor_rejected_and_flaky_texts_are_dropped():
    samples, verdicts = labelled("p1", [(GOOD_A, ["AC", "AC"]), (BAD_WA, ["SE", "SE"]), (GOOD_B, ["AC", "AC"]),
                                        (GOOD_B, ["AC", "TLE"]), (BAD_RE, ["RE", "RE"])])
    pairs, stats = pairs_from_verdicts([problem()], samples, verdicts, PairConfig(max_pairs_per_prompt=10))
    assert [(p.chosen, p.rejected) for p in pairs] == [(GOOD_A, BAD_RE)]
    assert stats.system_errors_skipped == 1


def test_cap_and_determinism():
    outcomes = [(f"print({i})\n```", ["AC", "AC"]) for i in range(4)] + \
               [(f"print(-{i})\n```", ["WA", "WA"]) for i in range(4)]
    samples, verdicts = labelled("p1", outcomes)
    first, _ = pairs_from_verdicts([problem()], samples, verdicts, PairConfig(max_pairs_per_prompt=3, seed=1))
    again, _ = pairs_from_verdicts([problem()], samples[::-1], verdicts[::-1],
                                   PairConfig(max_pairs_per_prompt=3, seed=1))
    other, _ = pairs_from_verdicts([problem()], samples, verdicts, PairConfig(max_pairs_per_prompt=3, seed=2))
    assert len(first) == 3 and len({(p.chosen, p.rejected) for p in first}) == 3
    assert {(p.chosen, p.rejected) for p in first} == {(p.chosen, p.rejected) for p in again}
    assert [(p.chosen, p.rejected) for p in first] != [(p.chosen, p.rejected) for p in other]


def test_samples_without_raw_text_use_the_sft_target_format():
    samples = [Sample("p1", program="print(1)", sample_index=0), Sample("p1", program=REFERENCE, sample_index=1)]
    verdicts = [SampleVerdict("p1", 0, [Verdict(Status.WA)]), SampleVerdict("p1", 1, [Verdict(Status.AC)])]
    pairs, _ = pairs_from_verdicts({"p1": problem()}, samples, verdicts)
    assert (pairs[0].chosen, pairs[0].rejected) == (sft_target(REFERENCE), sft_target("print(1)"))


def test_a_generation_cut_at_the_closing_fence_gets_it_back():
    """Stop strings are cut from generated text; the pair's completion must read like the SFT target."""
    samples = [Sample("p1", program=REFERENCE, sample_index=0,
                      metadata={"text": REFERENCE, "finish_reason": "stop"}),
               Sample("p1", program="print(1)", sample_index=1, metadata={"text": "print(1)", "finish_reason": "length"})]
    verdicts = [SampleVerdict("p1", 0, [Verdict(Status.AC)]), SampleVerdict("p1", 1, [Verdict(Status.WA)])]
    pairs, _ = pairs_from_verdicts([problem()], samples, verdicts)
    assert (pairs[0].chosen, pairs[0].rejected) == (sft_target(REFERENCE), "print(1)")


def test_mismatched_inputs_are_user_errors():
    samples, verdicts = labelled("p1", [(GOOD_A, ["AC"])])
    with pytest.raises(UserError, match="1 samples but 0 verdicts"):
        pairs_from_verdicts([problem()], samples, [])
    with pytest.raises(UserError, match="unknown problem 'p1'"):
        pairs_from_verdicts([problem("other")], samples, verdicts)


def test_pairs_from_dataset_solutions_keep_python_only():
    p = problem()
    p.solutions = [Solution(REFERENCE), Solution("n=int(input());print(n+1)"), Solution("int main(){}", "cpp")]
    p.incorrect_solutions = [Solution("print(0)"), Solution("int main(){return 1;}", "cpp")]
    pairs, stats = pairs_from_solutions([p, problem("no-incorrect")])
    assert {(p.chosen, p.rejected) for p in pairs} == {(sft_target(REFERENCE), sft_target("print(0)")),
                                                       (sft_target("n=int(input());print(n+1)"),
                                                        sft_target("print(0)"))}
    assert all(p.chosen_source == "solution" and p.rejected_status == "" for p in pairs)
    assert stats.problems == 2 and stats.problems_with_pairs == 1 and stats.all_passed_skipped == 1


def test_jsonl_round_trip_in_the_hf_preference_format(tmp_path):
    samples, verdicts = labelled("p1", [(GOOD_A, ["AC", "AC"]), (BAD_WA, ["AC", "WA"])])
    pairs, _ = pairs_from_verdicts([problem()], samples, verdicts)
    path = tmp_path / "pairs.jsonl"
    assert save_pairs(path, pairs) == 1
    rows = load_pairs(path)
    assert rows[0]["prompt"] == pairs[0].prompt and rows[0]["chosen"] == GOOD_A and rows[0]["rejected"] == BAD_WA
    assert rows[0]["problem_id"] == "p1"
    path.write_text('{"prompt": "x", "chosen": ["not", "text"], "rejected": "y"}\n')
    with pytest.raises(UserError, match=r"pairs.jsonl:1: field 'chosen'"):
        load_pairs(path)
