"""The bundled problem set: splits, tests, determinism, and reference solutions that pass their own tests.

The reference solutions are checked three ways: each in a fresh `python3` subprocess (a sample per family,
no sandbox needed), hand-derived answers for a few problems (so a wrong template cannot hide behind tests
computed from itself), and every validation and test problem through the real runner via the `local` executor
(and a sample per family in the Docker sandbox). The known-incorrect solutions must fail the same checks.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections import defaultdict

import pytest

from codelhf.datasets.bundled import SPLITS, build_all, load_bundled, stats
from codelhf.datasets.bundled.family import FAMILIES
from codelhf.problems import Problem

HELD_OUT_FAMILIES = {f.name for f in FAMILIES if f.held_out}


@pytest.fixture(scope="module")
def problems() -> list[Problem]:
    return load_bundled(None)


def by_id(problems: list[Problem]) -> dict[str, Problem]:
    return {p.id: p for p in problems}


# ---------------------------------------------------------------------------------------------------------------
# Shape of the set
# ---------------------------------------------------------------------------------------------------------------


def test_load_is_fast_and_sized(problems):
    started = time.perf_counter()
    build_all()
    elapsed = time.perf_counter() - started
    assert elapsed < 10, f"building the set took {elapsed:.1f} s (goal < 2 s; margin for a loaded CI machine)"
    sizes = {split: len(load_bundled(split)) for split in SPLITS}
    assert sizes["train"] >= 2500 and 150 <= sizes["validation"] <= 300 and 150 <= sizes["test"] <= 300, sizes
    assert sum(sizes.values()) == len(problems)
    print(json.dumps(stats(problems), indent=1))


def test_unknown_split_is_a_user_error():
    from codelhf.errors import UserError

    with pytest.raises(UserError, match="no split 'dev'"):
        load_bundled("dev")


def test_ids_unique_and_splits_disjoint(problems):
    ids = [p.id for p in problems]
    assert len(ids) == len(set(ids))
    per_split = {split: {p.id for p in load_bundled(split)} for split in SPLITS}
    assert not per_split["train"] & per_split["validation"]
    assert not per_split["train"] & per_split["test"]
    assert not per_split["validation"] & per_split["test"]
    every = by_id(problems)
    for split, split_ids in per_split.items():
        assert all(every[i].metadata["split"] == split for i in split_ids)


def test_held_out_combinations_never_in_train_but_their_values_are(problems):
    combos = defaultdict(set)  # (family, split) -> knob combinations
    values = defaultdict(set)  # family -> (knob, value) pairs seen in training
    for p in problems:
        knobs = tuple(sorted(p.metadata["knobs"].items()))
        combos[p.metadata["family"], p.metadata["split"]].add(knobs)
        if p.metadata["split"] == "train":
            values[p.metadata["family"]].update(knobs)
    for fam in FAMILIES:
        train = combos[fam.name, "train"]
        for split in ("validation", "test"):
            held = combos[fam.name, split]
            assert held, f"{fam.name} has nothing in {split}"
            assert not held & train
            if not fam.held_out:
                unseen = {kv for knobs in held for kv in knobs} - values[fam.name]
                assert not unseen, f"{fam.name}/{split} uses knob values never seen in training: {unseen}"
        assert not combos[fam.name, "validation"] & combos[fam.name, "test"]


def test_held_out_families_absent_from_train(problems):
    assert len(HELD_OUT_FAMILIES) >= 3
    train_families = {p.metadata["family"] for p in load_bundled("train")}
    assert not train_families & HELD_OUT_FAMILIES
    for split in ("validation", "test"):
        assert HELD_OUT_FAMILIES <= {p.metadata["family"] for p in load_bundled(split)}


def test_every_problem_is_complete(problems):
    for p in problems:
        assert len(p.public_tests) >= 1 and len(p.hidden_tests) >= 5, p.id
        assert p.solutions and p.solutions[0].language == "python", p.id
        assert p.metadata["source"] == "bundled" and p.metadata["difficulty"] in ("easy", "medium", "hard"), p.id
        assert p.metadata["split"] in SPLITS and p.metadata["family"] in {f.name for f in FAMILIES}, p.id
        if p.harness == "call":
            assert p.fn_name and p.starter_code.startswith(f"def {p.fn_name}("), p.id
        else:
            assert p.harness == "stdio" and all(isinstance(t.input, str) for t in p.tests()), p.id
        assert len({json.dumps(t.input) for t in p.tests()}) >= 4, f"{p.id}: tests mostly repeat each other"


def test_statements_are_distinct_and_do_not_leak_code(problems):
    statements = [p.prompt for p in problems]
    assert len(statements) == len(set(statements))
    for p in problems:
        for line in p.solutions[0].code.splitlines():
            if len(line.strip()) >= 10:
                assert line.strip() not in p.prompt, f"{p.id}: statement contains the code line {line!r}"


def test_deterministic_across_processes(problems):
    """Same set in a fresh interpreter with another hash seed (string seeds, no set-order dependence)."""
    script = ("import hashlib, json\nfrom codelhf.datasets.bundled import build_all\n"
              "rows = [p.to_dict() for p in build_all()]\n"
              "print(hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest())")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    rebuilt = build_all()
    digest = hashlib.sha256(json.dumps([p.to_dict() for p in rebuilt], sort_keys=True).encode()).hexdigest()
    assert out.stdout.strip() == digest
    assert sorted(p.id for p in rebuilt) == sorted(p.id for p in problems)


def test_splits_written_as_jsonl_load_back_unchanged(tmp_path):
    from codelhf.datasets import load_problems

    done = subprocess.run([sys.executable, "-m", "codelhf.datasets.bundled", str(tmp_path)], capture_output=True,
                          text=True, check=True)
    assert '"mean_solution_chars"' in done.stdout
    loaded = load_problems(tmp_path / "bundled-validation.jsonl")
    assert [p.to_dict() for p in loaded] == [p.to_dict() for p in load_bundled("validation")]


# ---------------------------------------------------------------------------------------------------------------
# Reference solutions, outside any sandbox
# ---------------------------------------------------------------------------------------------------------------

CALL_DRIVER = ("import json, runpy, sys\n"
               "fn = runpy.run_path(sys.argv[1], run_name='solution')[sys.argv[2]]\n"
               "print(json.dumps(fn(*json.loads(sys.stdin.read()))))")


def run_program(program: str, stdin: str, tmp_path, fn_name: str | None = None) -> str | None:
    """Run `program` in a fresh python3 as `__main__` (or call `fn_name` on the JSON arguments in `stdin`);
    its stdout, or None when it fails."""
    path = tmp_path / "solution.py"
    path.write_text(program)
    command = [sys.executable, str(path)] if fn_name is None else [sys.executable, "-c", CALL_DRIVER, str(path),
                                                                  fn_name]
    done = subprocess.run(command, check=False, input=stdin, capture_output=True, text=True, timeout=30)
    return done.stdout if done.returncode == 0 else None


def sample_per_family(problems: list[Problem]) -> list[Problem]:
    """For each family, its first train problem and its first held-out one (so both sides of the split run)."""
    chosen: dict[tuple[str, bool], Problem] = {}
    for p in problems:
        chosen.setdefault((p.metadata["family"], p.metadata["split"] == "train"), p)
    return list(chosen.values())


def passes(program: str, p: Problem, tmp_path) -> bool:
    """Whether `program` passes every test of `p`, each run in a fresh python3 (a crash counts as a failure)."""
    for test in p.tests():
        if p.harness == "call":
            out = run_program(program, json.dumps(test.input), tmp_path, p.fn_name)
            if out is None or json.loads(out) != test.output:
                return False
        else:
            out = run_program(program, test.input, tmp_path)
            if out is None or out.split() != test.output.split():
                return False
    return True


def test_reference_solutions_pass_in_a_subprocess(problems, tmp_path):
    sample = sample_per_family(problems)
    assert {p.metadata["family"] for p in sample} == {f.name for f in FAMILIES}
    for p in sample:
        assert passes(p.solutions[0].code, p, tmp_path), p.id


def test_incorrect_solutions_are_near_misses_that_fail_in_a_subprocess(problems, tmp_path):
    with_incorrect = [p for p in problems if p.incorrect_solutions]
    assert len(with_incorrect) >= 0.95 * len(problems)
    for p in with_incorrect:
        reference, wrong = p.solutions[0].code.splitlines(), p.incorrect_solutions[0].code.splitlines()
        assert len(reference) == len(wrong) and sum(a != b for a, b in zip(reference, wrong)) == 1, p.id
    for p in sample_per_family(with_incorrect):
        assert not passes(p.incorrect_solutions[0].code, p, tmp_path), p.id


HAND_CHECKED = [  # problem id, stdin, expected output worked out by hand from the statement
    ("bundled/dp/stairs_upto-2-0", "9\n", "55"),  # Fibonacci: F(10)
    ("bundled/dp/stairs_1k-3-0", "5\n", "4"),  # 1+1+1+1+1, 1+1+3, 1+3+1, 3+1+1
    ("bundled/dp/robber-0", "5\n2 7 9 3 1\n", "12"),  # 2 + 9 + 1
    ("bundled/dp/kadane-1", "9\n-2 1 -3 4 -1 2 1 -5 4\n", "6"),  # 4 -1 2 1
    ("bundled/dp/frog-2-2", "4\n10 30 40 20\n", "30"),  # 10 -> 30 -> 20: 20 + 10
    ("bundled/greedy/coins-1+5+10-0", "28\n", "6"),  # 10 10 5 1 1 1
    ("bundled/greedy/budget-1", "4 10\n6 3 8 2\n", "2"),  # 2 + 3; adding 6 would exceed 10
    ("bundled/greedy/top_k-2-2", "4\n-1 9 4 9\n", "18"),
    ("bundled/prefix_sums/range1-0", "5 2\n1 2 3 4 5\n2 4\n1 5\n", "9 15"),
    ("bundled/prefix_sums/range0-1", "5 2\n1 2 3 4 5\n2 4\n0 0\n", "12 1"),
    ("bundled/prefix_sums/window-3-0", "5\n1 2 3 4 5\n", "6 9 12"),
    ("bundled/prefix_sums/runmin-2", "4\n3 5 1 2\n", "3 3 1 1"),
    ("bundled/grid_walk/paths-hash-0", "3 3\n...\n.#.\n...\n", "2"),
    ("bundled/grid_walk/cells-nswe-1", "NSNS\n", "2"),
    ("bundled/grid_walk/back-ijkl-0", "IJKL\n", "YES"),
    ("bundled/grid_walk/pos-udlr-2", "UURL\n", "0 2"),
    ("bundled/sorting/kth_large-2-0", "5\n4 9 1 9 3\n", "9"),
    ("bundled/sorting/uniq-1", "5\n4 9 1 9 3\n", "1 3 4 9"),
    ("bundled/arith_one/div-10-0", "57\n", "5"),
    ("bundled/arith_two/scaled-3-0", "2 -5\n", "-9"),
    ("bundled/count_cond/ndiv-11-line-0", "11 22 3 15\n", "2"),
    ("bundled/letters/vowels-0", "education\n", "5"),
    ("bundled/letters/find-q-1", "aqbq\n", "1"),
    ("bundled/letters/remove-a-2", "banana\n", "bnn"),
    ("bundled/string_transform/step-3-2", "abcdefg\n", "adg"),
    ("bundled/filter_sum/div-13-line-0", "13 26 5 40\n", "39"),
    ("bundled/arith_chain/mul+mod-6-4-1", "3\n", "2"),  # y = 18, 18 mod 4
    ("bundled/string_chain/first+rev-4-2", "abcdefgh\n", "dcba"),
    ("bundled/string_chain/rev+last-5-1", "abcdefgh\n", "edcba"),
]


def test_hand_checked_answers(problems, tmp_path):
    every = by_id(problems)
    for problem_id, stdin, expected in HAND_CHECKED:
        got = run_program(every[problem_id].solutions[0].code, stdin, tmp_path)
        assert got is not None and got.split() == expected.split(), problem_id


def test_hand_checked_call(problems):
    every = by_id(problems)
    namespace: dict = {}
    exec(every["bundled/call_func/multiples-4-f-1"].solutions[0].code, namespace)  # noqa: S102  (our reference)
    assert namespace["f"]([4, 6, 8, -4, 0]) == [4, 8, -4, 0]


# ---------------------------------------------------------------------------------------------------------------
# Reference solutions through the real runner
# ---------------------------------------------------------------------------------------------------------------


def _verdicts(backend: str, chosen: list[Problem], incorrect: bool = False):
    execution = pytest.importorskip("codelhf.execution")
    from codelhf.samples import Sample

    samples = [Sample(problem_id=p.id, program=solution.code)
               for p in chosen for solution in (p.incorrect_solutions if incorrect else p.solutions)]
    with execution.Executor(backend=backend, workers=2) as ex:
        return ex.run(chosen, samples, tests="all", progress=False)


def test_held_out_solutions_judged_right_by_the_local_runner():
    """Under the real runner (host backend), every validation and test problem's reference passes all its tests
    and its known-incorrect solution fails one."""
    chosen = load_bundled("validation") + load_bundled("test")
    verdicts = _verdicts("local", chosen)
    failed = [(v.problem_id, v.status, v.first_failure) for v in verdicts if not v.all_passed]
    assert not failed, failed[:5]
    assert len(verdicts) == len(chosen)
    wrong = _verdicts("local", chosen, incorrect=True)
    assert len(wrong) >= 0.95 * len(chosen)
    assert not [v.problem_id for v in wrong if v.all_passed]


@pytest.mark.docker
def test_solutions_judged_right_in_the_docker_sandbox(problems):
    chosen = sample_per_family(problems)
    verdicts = _verdicts("docker", chosen)
    assert all(v.all_passed for v in verdicts), [(v.problem_id, v.status) for v in verdicts if not v.all_passed]
    assert not [v.problem_id for v in _verdicts("docker", chosen, incorrect=True) if v.all_passed]
