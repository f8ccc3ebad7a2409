"""What a problem family is: a grid of knobs and a function that turns one knob combination into a problem.

A family's knobs are the discrete choices that fix its statement and reference solution: the operation, its
constant, the input format, the wording variant. One combination of knob values is one problem. The splits
are cut along these combinations (see `codelhf/datasets/bundled/__init__.py`), so "held-out parameter
combination" means: a combination of knob values that training never shows together.

Statements are written so that a small model can learn them: the phrase for an operation maps to one code
pattern, and the constants in the code are copied from the statement.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

Knobs = dict[str, Any]


@dataclass
class Spec:
    """One problem before its expected outputs are computed (by running `code` on `inputs`)."""

    statement: str
    code: str
    inputs: list[Any]
    """stdin texts (`stdio`) or argument lists (`call`); the first is the public test, the rest are hidden."""
    difficulty: str
    fn_name: str | None = None
    starter_code: str = ""


@dataclass(frozen=True)
class Family:
    name: str
    combos: list[Knobs]
    make: Callable[[Knobs, random.Random], Spec]
    held_out: bool = False
    """True for families that appear only in validation and test."""
    limit: int | None = None
    """Keep a deterministic sample of this many combinations (families whose grid is much larger)."""
    tags: tuple[str, ...] = field(default_factory=tuple)


FAMILIES: list[Family] = []


def family(name: str, combos: list[Knobs], *, held_out: bool = False, limit: int | None = None,
           tags: Sequence[str] = ()) -> Callable[[Callable[[Knobs, random.Random], Spec]], Callable]:
    """Register `make(knobs, rng) -> Spec` as the family `name` over `combos`."""
    def register(make: Callable[[Knobs, random.Random], Spec]) -> Callable[[Knobs, random.Random], Spec]:
        if any(f.name == name for f in FAMILIES):
            raise ValueError(f"bundled family {name!r} is defined twice")
        FAMILIES.append(Family(name, combos, make, held_out, limit, tuple(tags)))
        return make
    return register


def grid(**axes: Iterable[Any]) -> list[Knobs]:
    """Every combination of the given knob values, as dicts in axis order."""
    names = list(axes)
    return [dict(zip(names, values)) for values in itertools.product(*(list(v) for v in axes.values()))]


# ---------------------------------------------------------------------------------------------------------------
# Input helpers shared by the families
# ---------------------------------------------------------------------------------------------------------------


def ints(values: Iterable[int]) -> str:
    return " ".join(str(v) for v in values)


def list_input(values: Sequence[int], fmt: str) -> str:
    """A list as stdin: `n` on its own line first (fmt "n") or the values alone on one line (fmt "line")."""
    if fmt == "n":
        return f"{len(values)}\n{ints(values)}\n"
    return f"{ints(values)}\n"


def random_list(rng: random.Random, lo: int, hi: int, n_lo: int = 3, n_hi: int = 8) -> list[int]:
    return [rng.randint(lo, hi) for _ in range(rng.randint(n_lo, n_hi))]


def ordinal(k: int) -> str:
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix}"


def capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]


LIST_INTRO = {  # how a list of integers is given, by input format and wording variant
    ("n", 0): "Read an integer n and then n integers.",
    ("n", 1): "The first line holds n, the second line holds n integers.",
    ("n", 2): "Given a list of n integers (n on the first line, the list on the second),",
    ("line", 0): "Read a line of integers.",
    ("line", 1): "One line holds some integers.",
    ("line", 2): "Given a list of integers on one line,",
}
LIST_NOUN = ("integers", "values", "elements")
"""What the list's items are called in each wording variant."""
ASK = ("Print {what}.", "Output {what}.", "find {what}.")
"""The request, by wording variant (variant 2 continues the `LIST_INTRO` sentence)."""

LIST_READ = {
    "n": "n = int(input())\na = list(map(int, input().split()))",
    "line": "a = list(map(int, input().split()))",
}
"""The reference solution's first lines for each list input format."""


def list_statement(fmt: str, w: int, what: str) -> str:
    return f"{LIST_INTRO[fmt, w]} {ASK[w].format(what=what)}"
