"""Easy families: arithmetic on read numbers, aggregates and counts over a list, string transforms and counts.

The phrase tables here (`ARITH`, `CONDS`, `STR_OPS`) are shared with the held-out families in `composed.py`,
which combine two of these operations in one problem.
"""

from __future__ import annotations

import random
import string

from codelhf.datasets.bundled.family import (
    LIST_NOUN,
    LIST_READ,
    Knobs,
    Spec,
    capitalize,
    family,
    grid,
    list_input,
    list_statement,
    ordinal,
    random_list,
)

# ---------------------------------------------------------------------------------------------------------------
# Arithmetic on one or two read numbers
# ---------------------------------------------------------------------------------------------------------------

ARITH = {  # op: (in words, in symbols, Python expression); {v} is the variable, {k} the constant
    "add": ("{v} plus {k}", "{v} + {k}", "{v} + {k}"),
    "sub": ("{v} minus {k}", "{v} - {k}", "{v} - {k}"),
    "mul": ("{v} times {k}", "{v} * {k}", "{v} * {k}"),
    "div": ("{v} divided by {k}, rounded down", "floor({v} / {k})", "{v} // {k}"),
    "mod": ("the remainder of {v} divided by {k}", "{v} mod {k}", "{v} % {k}"),
    "rsub": ("{k} minus {v}", "{k} - {v}", "{k} - {v}"),
    "sqadd": ("{v} squared plus {k}", "{v}^2 + {k}", "{v} * {v} + {k}"),
}
ONE_INT_INTRO = (
    "Read a non-negative integer {v} and print {words}.",
    "You are given an integer {v} (0 <= {v} <= 10^9). Output {symbols}.",
    "Input: one line with an integer {v} >= 0.\nOutput: the value of {words}.",
)


def arith_phrases(op: str, v: str, k: int) -> tuple[str, str, str]:
    return tuple(part.format(v=v, k=k) for part in ARITH[op])  # type: ignore[return-value]


def one_int_inputs(rng: random.Random, k: int) -> list[str]:
    values = [rng.randint(0, 100), 0, 1, k, k - 1, 10**9, rng.randint(0, 10**6), rng.randint(k, 50 * k)]
    return [f"{x}\n" for x in values]


@family("arith_one", grid(op=list(ARITH), k=range(2, 51), w=range(3)), limit=900,
        tags=("math",))
def arith_one(kn: Knobs, rng: random.Random) -> Spec:
    words, symbols, expr = arith_phrases(kn["op"], "x", kn["k"])
    return Spec(statement=ONE_INT_INTRO[kn["w"]].format(v="x", words=words, symbols=symbols),
                code=f"x = int(input())\nprint({expr})",
                inputs=one_int_inputs(rng, kn["k"]), difficulty="easy")


ARITH_TWO = {  # op: (in words, in symbols, Python expression) over the variables {a}, {b}
    "sum": ("the sum of {a} and {b}", "{a} + {b}", "{a} + {b}"),
    "diff": ("{a} minus {b}", "{a} - {b}", "{a} - {b}"),
    "prod": ("the product of {a} and {b}", "{a} * {b}", "{a} * {b}"),
    "max": ("the larger of {a} and {b}", "max({a}, {b})", "max({a}, {b})"),
    "min": ("the smaller of {a} and {b}", "min({a}, {b})", "min({a}, {b})"),
    "absdiff": ("the absolute difference of {a} and {b}", "|{a} - {b}|", "abs({a} - {b})"),
    "lin": ("{a} times {k} plus {b}", "{a} * {k} + {b}", "{a} * {k} + {b}"),
    "scaled": ("the sum of {a} and {b}, times {k}", "({a} + {b}) * {k}", "({a} + {b}) * {k}"),
}
TWO_INT_INTRO = (
    "Read two integers {a} and {b} from one line and print {words}.",
    "You are given integers {a} and {b} (|{a}|, |{b}| <= 10^9) on one line. Output {symbols}.",
    "Input: one line with two integers {a} and {b}.\nOutput: {words}.",
)


@family("arith_two", grid(op=[op for op in ARITH_TWO if op not in ("lin", "scaled")], w=range(3))
        + grid(op=["lin", "scaled"], k=range(2, 31), w=range(3)), tags=("math",))
def arith_two(kn: Knobs, rng: random.Random) -> Spec:
    a, b = "a", "b"
    words, symbols, expr = (part.format(a=a, b=b, k=kn.get("k", 0)) for part in ARITH_TWO[kn["op"]])
    pairs = [(rng.randint(-20, 20), rng.randint(-20, 20)), (0, 0), (5, 5), (-7, 3), (10**9, -10**9),
             (rng.randint(-1000, 1000), rng.randint(-1000, 1000)), (rng.randint(0, 99), rng.randint(-99, 0))]
    return Spec(statement=TWO_INT_INTRO[kn["w"]].format(a=a, b=b, words=words, symbols=symbols),
                code=f"{a}, {b} = map(int, input().split())\nprint({expr})",
                inputs=[f"{x} {y}\n" for x, y in pairs], difficulty="easy")


# ---------------------------------------------------------------------------------------------------------------
# Lists: aggregates and counts
# ---------------------------------------------------------------------------------------------------------------

AGGREGATES = {  # name: (what is asked, with {noun}; Python expression over the list a)
    "sum": ("the sum of the {noun}", "sum(a)"),
    "max": ("the largest of the {noun}", "max(a)"),
    "min": ("the smallest of the {noun}", "min(a)"),
    "range": ("the largest minus the smallest of the {noun}", "max(a) - min(a)"),
    "sumsq": ("the sum of the squares of the {noun}", "sum([x * x for x in a])"),
    "sumabs": ("the sum of the absolute values of the {noun}", "sum([abs(x) for x in a])"),
    "ends": ("the first plus the last of the {noun}", "a[0] + a[-1]"),
    "distinct": ("the number of distinct {noun}", "len(set(a))"),
}


def list_inputs(rng: random.Random, fmt: str, lo: int, hi: int, edges: list[list[int]]) -> list[str]:
    """A random public test, the edge cases, then random hidden lists."""
    lists = [random_list(rng, lo, hi, 3, 6), *edges] + [random_list(rng, lo, hi, 1, 12) for _ in range(3)]
    return [list_input(values, fmt) for values in lists]


@family("list_aggregate", grid(agg=list(AGGREGATES), fmt=["n", "line"], w=range(3)), tags=("lists",))
def list_aggregate(kn: Knobs, rng: random.Random) -> Spec:
    what, expr = AGGREGATES[kn["agg"]]
    edges = [[7], [-3, -3, -3], [0, 5, -5, 2], [10**6, -10**6, 3]]
    return Spec(statement=list_statement(kn["fmt"], kn["w"], what.format(noun=LIST_NOUN[kn["w"]])),
                code=f"{LIST_READ[kn['fmt']]}\nprint({expr})",
                inputs=list_inputs(rng, kn["fmt"], -50, 50, edges), difficulty="easy")


CONDS = {  # name: (phrase completing "the numbers that are ...", Python condition on x)
    "gt": ("greater than {k}", "x > {k}"),
    "lt": ("less than {k}", "x < {k}"),
    "ge": ("at least {k}", "x >= {k}"),
    "le": ("at most {k}", "x <= {k}"),
    "eq": ("equal to {k}", "x == {k}"),
    "div": ("divisible by {k}", "x % {k} == 0"),
    "ndiv": ("not divisible by {k}", "x % {k} != 0"),
}
COUNT_ASK = ("how many of the {noun} are {cond}", "the number of {noun} that are {cond}",
             "the count of {noun} that are {cond}")


def cond_inputs(rng: random.Random, fmt: str, k: int) -> list[str]:
    """Lists around the constant k, so both sides of every condition are exercised."""
    edges = [[k], [k - 1, k, k + 1], [0, 2 * k, 3 * k, k + 2], [rng.randint(0, 3 * k) for _ in range(15)]]
    return list_inputs(rng, fmt, 0, 3 * k + 3, edges)


@family("count_cond", grid(cond=list(CONDS), k=range(1, 41), fmt=["n", "line"], w=range(3)), limit=800,
        tags=("lists", "counting"))
def count_cond(kn: Knobs, rng: random.Random) -> Spec:
    phrase, cond = (part.format(k=kn["k"]) for part in CONDS[kn["cond"]])
    what = COUNT_ASK[kn["w"]].format(noun=LIST_NOUN[kn["w"]], cond=phrase)
    return Spec(statement=list_statement(kn["fmt"], kn["w"], what),
                code=f"{LIST_READ[kn['fmt']]}\nprint(len([x for x in a if {cond}]))",
                inputs=cond_inputs(rng, kn["fmt"], kn["k"]), difficulty="easy")


# ---------------------------------------------------------------------------------------------------------------
# Strings
# ---------------------------------------------------------------------------------------------------------------

STR_OPS = {  # name: (imperative phrase on "it", suffix applied to the string variable)
    "upper": ("convert it to upper case", ".upper()"),
    "lower": ("convert it to lower case", ".lower()"),
    "swap": ("swap the case of every letter", ".swapcase()"),
    "rev": ("reverse it", "[::-1]"),
    "first": ("keep only its first {k} characters", "[:{k}]"),
    "last": ("keep only its last {k} characters", "[-{k}:]"),
    "step": ("keep every {kth} character, starting with the first", "[::{k}]"),
    "rep": ("repeat it {k} times", " * {k}"),
}
STR_OPS_K = ("first", "last", "step", "rep")
STR_INTRO = (
    "Read a string {v}, {phrases}, and print the result.",
    "You are given a string {v} of letters. {Phrases} and output the result.",
    "Input: a line with a string {v}.\nOutput: the string you get when you {phrases}.",
)


def str_op(op: str, k: int) -> tuple[str, str]:
    """The phrase and the suffix of the string operation `op` with constant `k`."""
    phrase, suffix = STR_OPS[op]
    return phrase.format(k=k, kth=ordinal(k)), suffix.format(k=k)


def str_statement(w: int, phrases: str) -> str:
    return STR_INTRO[w].format(v="s", phrases=phrases, Phrases=capitalize(phrases))


def random_word(rng: random.Random, n_lo: int, n_hi: int, alphabet: str = string.ascii_letters) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(n_lo, n_hi)))


def word_inputs(rng: random.Random, alphabet: str = string.ascii_letters) -> list[str]:
    words = [random_word(rng, 5, 9, alphabet), "a", "Z", "abcDEF", "racecar",
             random_word(rng, 10, 30, alphabet), random_word(rng, 2, 6, alphabet)]
    return [f"{word}\n" for word in words]


@family("string_transform", grid(op=[op for op in STR_OPS if op not in STR_OPS_K], w=range(3))
        + grid(op=list(STR_OPS_K), k=range(2, 13), w=range(3)), tags=("strings",))
def string_transform(kn: Knobs, rng: random.Random) -> Spec:
    phrase, suffix = str_op(kn["op"], kn.get("k", 0))
    return Spec(statement=str_statement(kn["w"], phrase), code=f"s = input()\nprint(s{suffix})",
                inputs=word_inputs(rng), difficulty="easy")


LETTER_OPS = {  # op: (what is asked about the letter {c} of the string s, Python expression)
    "count": ("the number of occurrences of the letter '{c}' in s", "s.count('{c}')"),
    "remove": ("s with every letter '{c}' removed", "s.replace('{c}', '')"),
    "find": ("the position (from 0) of the first letter '{c}' in s, or -1 if there is none", "s.find('{c}')"),
}
CHAR_CLASSES = {  # name: (what is counted, Python expression)
    "vowels": ("the number of vowels (a, e, i, o, u) in s", "len([c for c in s if c in 'aeiou'])"),
    "digits": ("the number of digits in s", "len([c for c in s if c.isdigit()])"),
    "uppers": ("the number of upper-case letters in s", "len([c for c in s if c.isupper()])"),
}
LETTERS_INTRO = ("Read a string s and print {what}.", "You are given a string s. Output {what}.",
                 "Input: a line with a string s.\nOutput: {what}.")


@family("letters", grid(op=list(LETTER_OPS), letter=list(string.ascii_lowercase), w=range(3))
        + grid(op=list(CHAR_CLASSES), w=range(3)), tags=("strings", "counting"))
def letters(kn: Knobs, rng: random.Random) -> Spec:
    """One letter copied from the statement into the code: counted, removed or searched for."""
    letter = kn.get("letter", "e")
    what, expr = (part.format(c=letter) for part in {**LETTER_OPS, **CHAR_CLASSES}[kn["op"]])
    alphabet = string.ascii_lowercase + "AEIOUXYZ0123456789" + letter * 6
    inputs = word_inputs(rng, alphabet) + [f"{letter * 5}\n", "QWRTY1234\n"]
    return Spec(statement=LETTERS_INTRO[kn["w"]].format(what=what), code=f"s = input()\nprint({expr})",
                inputs=inputs, difficulty="easy")

