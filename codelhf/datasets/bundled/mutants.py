"""Near-miss incorrect solutions: the reference with one small change that the tests catch.

They give the bundled set what CodeContests has: known-incorrect programs, so `codelhf validate` can show that
the tests reject wrong answers (not only accept right ones), and DPO can pair a correct with an incorrect
solution of the same problem (`codelhf.train.pairs.pairs_from_solutions`). The changes are the mistakes a
model makes: a boundary (`>` for `>=`), an off-by-one constant, a swapped operation.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from types import CodeType
from typing import Any

MUTATIONS: list[tuple[str, Callable[[re.Match], str]]] = [  # (pattern, replacement), tried in this order
    (r" (>=|<=|>|<|==|!=) ", lambda m: {">=": " > ", "<=": " < ", ">": " >= ", "<": " <= ", "==": " != ",
                                       "!=": " == "}[m.group(1)]),
    (r"\b(max|min)\(", lambda m: "min(" if m.group(1) == "max" else "max("),
    (r"\.(upper|lower|swapcase)\(\)", lambda m: ".lower()" if m.group(1) == "upper" else ".upper()"),
    (r"\.is(digit|upper)\(\)", lambda m: ".isalpha()" if m.group(1) == "digit" else ".islower()"),
    (r"\('([a-z])'", lambda m: f"('{chr((ord(m.group(1)) - 96) % 26 + 97)}'"),
    (r" in '", lambda m: " not in '"),
    (r"\[::-1\]", lambda m: ""),
    (r"reverse=True", lambda m: "reverse=False"),
    (r"\*sorted\(a\)", lambda m: "*a"),
    (r"\b(set|abs)\((\w+)\)", lambda m: m.group(2)),
    (r"\bsum\((\w+)\)", lambda m: f"sum({m.group(1)}[1:])"),
    (r"\b(\w+)\.split\(\)", lambda m: m.group(1)),
    (r"(?<![\w.])([2-9]|[1-9]\d+)\b", lambda m: str(int(m.group(1)) + 1)),
    (r" ([+\-*]) ", lambda m: {"+": " - ", "-": " + ", "*": " + "}[m.group(1)]),
]
"""Each applies at one place of the program after the lines that read the input."""


def mutants(code: str) -> list[str]:
    """Every program that differs from `code` by one mutation at one place, in the order of `MUTATIONS`."""
    lines = code.split("\n")
    body_start = max((i + 1 for i, line in enumerate(lines) if "input()" in line and "=" in line), default=0)
    found = []
    for pattern, replace in MUTATIONS:
        for i in range(len(lines) - 1, body_start - 1, -1):  # later lines first: that is where the answer is made
            for match in re.finditer(pattern, lines[i]):
                mutated = lines[i][:match.start()] + replace(match) + lines[i][match.end():]
                if mutated != lines[i]:
                    found.append("\n".join(lines[:i] + [mutated] + lines[i + 1:]))
    return found


def near_miss(code: str, run: Callable[[CodeType], list[Any] | None], outputs: list[Any]) -> str | None:
    """The first mutant of `code` that fails at least one test (`run(compiled)` gives its outputs, or None when
    it raises); None if every mutant passes all tests or none applies."""
    for program in mutants(code):
        try:
            compiled = compile(program, "<mutant>", "exec")
        except SyntaxError:
            continue
        got = run(compiled)
        if got is None or [_tokens(g) for g in got] != [_tokens(o) for o in outputs]:
            return program
    return None


def _tokens(value: Any) -> Any:
    """Outputs as the default checker sees them: stdout by whitespace-separated tokens, return values as is."""
    return value.split() if isinstance(value, str) else value
