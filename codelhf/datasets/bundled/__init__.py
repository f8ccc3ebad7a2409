"""The bundled problem set: thousands of small competitive-programming problems generated from templates.

Written for this project so that the whole pipeline (SFT, sampling, the sandbox, PPO, DPO, pass@k) runs on a
laptop with nothing downloaded, and so that a model of a few million parameters can learn part of it.

Each family (`family.py`) is a grid of knobs; each knob combination is one problem. Splits:
- `train`: most combinations of the training families;
- `validation`, `test`: disjoint sets of combinations never shown in training (every single knob value of
  theirs does occur in training, only not together), plus the held-out families of `composed.py`, which
  combine two training operations and occur in no training problem at all.

Statements show no worked example: the public test stays a test (for n@k filtering) but is not printed,
because a small model copies the constants it needs from the statement and an example's numbers are likely
distractors (a 1M-parameter model trained on an earlier version with examples failed mostly by writing the
right code with the wrong constant or variable name; variable names are now fixed per family for that reason).

Expected outputs are computed at load time by running each reference solution in this process on its inputs
(trusted code, written here), so a reference solution agrees with its tests by construction; the sandbox
check (`codelhf validate --problems bundled`) confirms it under the real runner. Nearly every problem also
gets one known-incorrect solution (`mutants.py`: the reference with one small mistake that its tests catch).
"""

from __future__ import annotations

import copy
import functools
import io
import json
import random
from collections import Counter
from collections.abc import Callable
from types import CodeType
from typing import Any

from codelhf.datasets.bundled import algorithms, basics, composed, functions  # noqa: F401  (register families)
from codelhf.datasets.bundled.family import FAMILIES, Family, Knobs, Spec
from codelhf.datasets.bundled.mutants import near_miss
from codelhf.errors import UserError
from codelhf.problems import Problem, Solution, TestCase

SPLITS = ("train", "validation", "test")
HELD_OUT_FRACTION = 0.06
"""Share of a training family's combinations that goes to each of validation and test ..."""
HELD_OUT_MIN, HELD_OUT_MAX = 2, 20
"""... at least 2 and at most 20 per family and split, so that large families do not swamp the held-out sets."""
TIME_LIMIT_S = 1.0
"""Reference solutions take milliseconds; a short limit keeps sampled infinite loops cheap during RL."""
MEMORY_LIMIT_MB = 256

_CACHE: dict[str, list[Problem]] = {}


def load_bundled(split: str | None = None) -> list[Problem]:
    """The problems of one split (`train`, `validation`, `test`), or all of them for None; built once per process
    (a new list each call, but the `Problem` objects are shared: copy one before changing it)."""
    if split is not None and split not in SPLITS:
        raise UserError(f"the bundled set has no split {split!r}", f"use one of: {', '.join(SPLITS)}")
    if not _CACHE:
        for problem in build_all():
            _CACHE.setdefault(problem.metadata["split"], []).append(problem)
    if split is None:
        return [p for name in SPLITS for p in _CACHE.get(name, [])]
    return list(_CACHE.get(split, []))


def build_all() -> list[Problem]:
    """Every problem of every family, in a fixed order; deterministic (string seeds, no global randomness)."""
    problems = []
    for fam in FAMILIES:
        for knobs, split in assign_splits(fam):
            problems.append(make_problem(fam, knobs, split))
    return problems


# ---------------------------------------------------------------------------------------------------------------
# Splits
# ---------------------------------------------------------------------------------------------------------------


def assign_splits(fam: Family) -> list[tuple[Knobs, str]]:
    """(knobs, split) for each kept combination of `fam`, in the family's grid order."""
    combos = list(fam.combos)
    if fam.limit is not None and len(combos) > fam.limit:
        keep = sorted(random.Random(f"bundled-limit/{fam.name}").sample(range(len(combos)), fam.limit))
        combos = [combos[i] for i in keep]
    order = list(range(len(combos)))
    random.Random(f"bundled-split/{fam.name}").shuffle(order)
    if fam.held_out:
        half = len(order) // 2
        split_of = {i: "validation" if rank < half else "test" for rank, i in enumerate(order)}
        return [(knobs, split_of[i]) for i, knobs in enumerate(combos)]
    n_held = max(HELD_OUT_MIN, min(HELD_OUT_MAX, round(HELD_OUT_FRACTION * len(combos))))
    # How often each knob value occurs in training; a combination may leave training only if each of its
    # values still occurs there afterwards, so held-out problems never need a value the model never saw.
    in_train = Counter((name, _key(value)) for knobs in combos for name, value in knobs.items())
    split_of = dict.fromkeys(range(len(combos)), "train")
    wanted = ["validation"] * n_held + ["test"] * n_held
    for i in order:
        if not wanted:
            break
        values = [(name, _key(value)) for name, value in combos[i].items()]
        if all(in_train[v] > 1 for v in values):
            in_train.subtract(values)
            split_of[i] = wanted.pop()
    return [(knobs, split_of[i]) for i, knobs in enumerate(combos)]


def combo_key(knobs: Knobs) -> str:
    """The knob values as one short, id-safe string, e.g. `gt-7-n-2`."""
    return "-".join(_key(value) for value in knobs.values())


def _key(value: Any) -> str:
    return "+".join(_key(v) for v in value) if isinstance(value, (tuple, list)) else str(value)


# ---------------------------------------------------------------------------------------------------------------
# From a spec to a problem: run the reference solution for the expected outputs
# ---------------------------------------------------------------------------------------------------------------


def make_problem(fam: Family, knobs: Knobs, split: str) -> Problem:
    problem_id = f"bundled/{fam.name}/{combo_key(knobs)}"
    spec = fam.make(knobs, random.Random(problem_id))
    outputs = run_reference(spec, problem_id)
    tests = [TestCase(input, output) for input, output in zip(spec.inputs, outputs)]
    incorrect = near_miss(spec.code, lambda program: _run_mutant(program, spec), outputs)
    return Problem(
        id=problem_id,
        prompt=spec.statement,
        harness="call" if spec.fn_name else "stdio",
        public_tests=tests[:1],
        hidden_tests=tests[1:],
        fn_name=spec.fn_name,
        starter_code=spec.starter_code,
        time_limit_s=TIME_LIMIT_S,
        memory_limit_mb=MEMORY_LIMIT_MB,
        solutions=[Solution(spec.code + "\n", "python")],
        incorrect_solutions=[Solution(incorrect + "\n", "python")] if incorrect else [],
        metadata={"source": "bundled", "family": fam.name, "difficulty": spec.difficulty, "split": split,
                  "held_out_family": fam.held_out, "knobs": {k: _key(v) for k, v in knobs.items()},
                  "tags": list(fam.tags)},
    )


def run_reference(spec: Spec, problem_id: str) -> list[Any]:
    """The reference solution's answer for each input: stdout text, or the JSON form of the returned value."""
    return run_program(spec.code, spec, problem_id)


def run_program(program: str | CodeType, spec: Spec, name: str = "<program>") -> list[Any]:
    """Run `program` on `spec`'s inputs in this process (trusted code only: ours or a mutant of ours).

    Programs read with `input()` and write with `print()`, so those two are given in the program's globals
    (faster than swapping `sys.stdin`/`sys.stdout` some 50,000 times); the sandbox runs them for real."""
    code = compile(program, name, "exec") if isinstance(program, str) else program
    if spec.fn_name:
        namespace: dict[str, Any] = {"__name__": "solution"}
        exec(code, namespace)  # noqa: S102  (trusted, see above)
        fn = namespace[spec.fn_name]
        return [json.loads(json.dumps(fn(*copy.deepcopy(args)))) for args in spec.inputs]
    outputs = []
    for stdin in spec.inputs:
        out = io.StringIO()
        io_globals = {"input": _reader(stdin), "print": functools.partial(print, file=out)}
        exec(code, {"__name__": "__main__", **io_globals})  # noqa: S102  (trusted, see above)
        outputs.append(out.getvalue())
    return outputs


def _reader(stdin: str) -> Callable[[], str]:
    """`input()` over the text `stdin`: one line per call, without its newline; EOFError at the end."""
    lines = io.StringIO(stdin)

    def read() -> str:
        line = lines.readline()
        if not line:
            raise EOFError("EOF when reading a line")
        return line.removesuffix("\n")
    return read


def _run_mutant(program: CodeType, spec: Spec) -> list[Any] | None:
    try:
        return run_program(program, spec)
    except Exception:  # noqa: BLE001  (a mutant that raises is one the tests reject: a runtime error)
        return None


def stats(problems: list[Problem]) -> dict[str, Any]:
    """Counts per split and family, and the mean reference solution length (characters)."""
    by = Counter((p.metadata["split"], p.metadata["family"]) for p in problems)
    lengths = [len(p.solutions[0].code) for p in problems]
    return {
        "problems": len(problems),
        "per_split": dict(Counter(p.metadata["split"] for p in problems)),
        "per_family": {f"{fam}/{split}": n for (split, fam), n in sorted(by.items(), key=lambda kv: kv[0][::-1])},
        "mean_solution_chars": sum(lengths) / max(1, len(lengths)),
        "with_incorrect_solution": sum(bool(p.incorrect_solutions) for p in problems),
        "max_solution_chars": max(lengths, default=0),
    }
