"""Call-based family: the program defines a function that the `call` harness calls with each test's arguments."""

from __future__ import annotations

import random
import string

from codelhf.datasets.bundled.family import Knobs, Spec, family, grid

FUNCTIONS = {  # op: (descriptive name, argument, what it returns (with {arg}, {k}), returned expression)
    "total": ("total", "nums", "the sum of the list {arg}", "sum(nums)"),
    "reverse": ("reverse", "s", "the string {arg} reversed", "s[::-1]"),
    "palindrome": ("is_palindrome", "s", "True if the string {arg} reads the same backwards, else False",
                   "s == s[::-1]"),
    "evens": ("evens", "nums", "the even numbers of the list {arg}, in their order", "[x for x in nums if x % 2 == 0]"),
    "words": ("count_words", "s", "the number of words in {arg} (words are separated by spaces)", "len(s.split())"),
    "spread": ("spread", "nums", "the largest minus the smallest number of the list {arg}", "max(nums) - min(nums)"),
    "scale": ("scale", "x", "the integer {arg} multiplied by {k}", "x * {k}"),
    "count_k": ("count_k", "nums", "how many times {k} occurs in the list {arg}", "nums.count({k})"),
    "multiples": ("multiples", "nums", "the numbers of the list {arg} divisible by {k}, in their order",
                  "[x for x in nums if x % {k} == 0]"),
    "add_k": ("add_k", "nums", "a new list with {k} added to every number of the list {arg}", "[x + {k} for x in nums]"),
}
WITH_K = ("scale", "count_k", "multiples", "add_k")
NAMES = ("descriptive", "solve", "f")
INTRO = ("Write a function {name}({arg}) that returns {what}.", "Implement {name}({arg}): it returns {what}.")


def arguments(rng: random.Random, arg: str, k: int) -> list[list]:
    """Argument lists for a function of one argument named `arg`: a public test, edge cases, random ones."""
    if arg == "x":
        return [[v] for v in (rng.randint(1, 20), 0, 1, -7, 10**9, rng.randint(-1000, 1000))]
    if arg == "s":
        def sentence() -> str:
            return " ".join("".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(1, 5)))
                            for _ in range(rng.randint(2, 5)))
        return [[v] for v in (sentence(), "a", "abba", "ab", "level", "x y", sentence())]
    lists = [[rng.randint(0, 3 * k + 5) for _ in range(5)], [k], [0, k, 2 * k, k + 1], [-k, -1, 5, k, k],
             [rng.randint(-20, 20) for _ in range(12)], [7, 7, 7]]
    return [[values] for values in lists]


@family("call_func", grid(op=[op for op in FUNCTIONS if op not in WITH_K], name=NAMES, w=range(2))
        + grid(op=list(WITH_K), k=range(2, 21), name=NAMES, w=range(2)), tags=("functions",))
def call_func(kn: Knobs, rng: random.Random) -> Spec:
    descriptive, arg, what, expr = FUNCTIONS[kn["op"]]
    name = descriptive if kn["name"] == "descriptive" else kn["name"]
    k = kn.get("k", 0)
    return Spec(statement=INTRO[kn["w"]].format(name=name, arg=arg, what=what.format(arg=arg, k=k)),
                code=f"def {name}({arg}):\n    return {expr.format(k=k)}", inputs=arguments(rng, arg, k),
                difficulty="easy", fn_name=name, starter_code=f"def {name}({arg}):\n")
