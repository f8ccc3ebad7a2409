"""Held-out families: each combines two operations that training shows only separately.

They appear only in the validation and test splits. Their statements reuse the phrases of the training
families (`basics.py`), so a model that learned "phrase -> code" per operation can compose the two; a model
that memorised whole problems cannot. This is where supervised fine-tuning stays imperfect and RL has room.
"""

from __future__ import annotations

import random

from codelhf.datasets.bundled.basics import (
    ARITH,
    CONDS,
    STR_OPS,
    STR_OPS_K,
    arith_phrases,
    cond_inputs,
    one_int_inputs,
    str_op,
    str_statement,
    word_inputs,
)
from codelhf.datasets.bundled.family import LIST_NOUN, LIST_READ, Knobs, Spec, family, grid, list_statement

FILTER_SUM_ASK = "the sum of the {noun} that are {cond}"
"""count_cond's "the number of values that are ..." meets list_aggregate's "the sum of the values"."""


@family("filter_sum", grid(cond=list(CONDS), k=range(1, 41), fmt=["n", "line"], w=range(3)), held_out=True,
        limit=40, tags=("lists", "composed"))
def filter_sum(kn: Knobs, rng: random.Random) -> Spec:
    phrase, cond = (part.format(k=kn["k"]) for part in CONDS[kn["cond"]])
    what = FILTER_SUM_ASK.format(noun=LIST_NOUN[kn["w"]], cond=phrase)
    return Spec(statement=list_statement(kn["fmt"], kn["w"], what),
                code=f"{LIST_READ[kn['fmt']]}\nprint(sum([x for x in a if {cond}]))",
                inputs=cond_inputs(rng, kn["fmt"], kn["k"]), difficulty="medium")


CHAINABLE = [op for op in STR_OPS if op != "rep"]
"""Operations written as a suffix of the string expression; `rep` (` * k`) can only come last."""
CASE_OPS = {"upper", "lower", "swap"}


def chain_pairs(uses_k: bool) -> list[tuple[str, str]]:
    """Ordered pairs of different string operations, with or without a constant k; two case changes in a row
    would hide the first."""
    return [(a, b) for a in CHAINABLE for b in STR_OPS if a != b and not (a in CASE_OPS and b in CASE_OPS)
            and (a in STR_OPS_K or b in STR_OPS_K) == uses_k]


@family("string_chain", grid(ops=chain_pairs(uses_k=False), w=range(3))
        + grid(ops=chain_pairs(uses_k=True), k=range(2, 6), w=range(3)), held_out=True, limit=40,
        tags=("strings", "composed"))
def string_chain(kn: Knobs, rng: random.Random) -> Spec:
    first, then = kn["ops"]
    k = kn.get("k", 0)
    (phrase1, suffix1), (phrase2, suffix2) = str_op(first, k), str_op(then, k)
    return Spec(statement=str_statement(kn["w"], f"{phrase1}, then {phrase2}"),
                code=f"s = input()\nprint(s{suffix1}{suffix2})", inputs=word_inputs(rng),
                difficulty="medium" if first not in STR_OPS_K and then not in STR_OPS_K else "hard")


NON_NEGATIVE = ("add", "mul", "div", "mod", "sqadd")
"""Operations that keep a non-negative number non-negative: only these may feed `div` and `mod`, whose
statements speak of non-negative numbers."""
ARITH_CHAIN_INTRO = (
    "Read a non-negative integer x. Let y be {words1}. Print {words2}.",
    "You are given an integer x (0 <= x <= 10^9). Let y = {symbols1}. Output {symbols2}.",
    "Input: one line with an integer x >= 0.\nOutput: the value of {words2}, where y is {words1}.",
)


def arith_chain_ops() -> list[tuple[str, str]]:
    return [(a, b) for a in ARITH for b in ARITH if b not in ("div", "mod") or a in NON_NEGATIVE]


@family("arith_chain", grid(ops=arith_chain_ops(), k1=range(2, 10), k2=range(2, 10), w=range(3)), held_out=True,
        limit=40, tags=("math", "composed"))
def arith_chain(kn: Knobs, rng: random.Random) -> Spec:
    (op1, op2), k1, k2 = kn["ops"], kn["k1"], kn["k2"]
    words1, symbols1, expr1 = arith_phrases(op1, "x", k1)
    words2, symbols2, expr2 = arith_phrases(op2, "y", k2)
    statement = ARITH_CHAIN_INTRO[kn["w"]].format(words1=words1, words2=words2, symbols1=symbols1,
                                                  symbols2=symbols2)
    return Spec(statement=statement, code=f"x = int(input())\ny = {expr1}\nprint({expr2})",
                inputs=one_int_inputs(rng, k1), difficulty="medium")
