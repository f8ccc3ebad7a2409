"""Medium and hard families: sorting, prefix sums, greedy choices, dynamic programming, grid walks.

Reference solutions keep one idiom per technique (the prefix array `p`, the `ways` table) so that the
technique, not the surface, is what a model has to pick from the statement.
"""

from __future__ import annotations

import random

from codelhf.datasets.bundled.family import (
    LIST_NOUN,
    LIST_READ,
    Knobs,
    Spec,
    family,
    grid,
    ints,
    list_input,
    list_statement,
    ordinal,
    random_list,
)

# ---------------------------------------------------------------------------------------------------------------
# Sorting
# ---------------------------------------------------------------------------------------------------------------

SORTS = {  # name: (what is asked, with {noun} and {k}; Python expression printed)
    "asc": ("the {noun} in increasing order, separated by spaces", "*sorted(a)"),
    "desc": ("the {noun} in decreasing order, separated by spaces", "*sorted(a, reverse=True)"),
    "uniq": ("the distinct {noun} in increasing order, separated by spaces", "*sorted(set(a))"),
    "kth": ("the {kth} smallest of the {noun}", "sorted(a)[{k} - 1]"),
    "kth_large": ("the {kth} largest of the {noun}", "sorted(a)[-{k}]"),
    "k_small": ("the {k} smallest {noun} in increasing order, separated by spaces", "*sorted(a)[:{k}]"),
}
SORTS_K = ("kth", "kth_large", "k_small")


@family("sorting", grid(op=[op for op in SORTS if op not in SORTS_K], w=range(3))
        + grid(op=list(SORTS_K), k=range(1, 9), w=range(3)), tags=("sorting",))
def sorting(kn: Knobs, rng: random.Random) -> Spec:
    k = kn.get("k", 0)
    what, expr = SORTS[kn["op"]]
    what = what.format(noun=LIST_NOUN[kn["w"]], k=k, kth=ordinal(k))
    n_min = max(k, 1)
    lists = [random_list(rng, -9, 30, max(n_min, 4), max(n_min, 7)), [5] * n_min, list(range(max(n_min, 3), 0, -1)),
             [3, -1, 3, 2, -1, 8, 0, 6], [10**9, -10**9] + [0] * n_min]
    lists += [random_list(rng, -100, 100, n_min, 12) for _ in range(3)]
    return Spec(statement=list_statement("n", kn["w"], what),
                code=f"{LIST_READ['n']}\nprint({expr.format(k=k)})",
                inputs=[list_input(values, "n") for values in lists],
                difficulty="easy" if k == 0 else "medium")


# ---------------------------------------------------------------------------------------------------------------
# Prefix sums
# ---------------------------------------------------------------------------------------------------------------

PREFIX_ARRAY = "p = [0]\nfor x in a:\n    p.append(p[-1] + x)\n"
PREFIX_QUERIES = {  # name: (how positions are numbered, the sum of positions l..r)
    "range1": ("Positions are numbered from 1", "p[r] - p[l - 1]"),
    "range0": ("Positions are numbered from 0", "p[r + 1] - p[l]"),
}
RUNNING = {"runmax": ("largest", "max"), "runmin": ("smallest", "min")}
QUERY_INTRO = (
    ("Read n and q, then n integers, then q lines each holding l and r. {numbering}. For each line print the sum "
    "of the integers from position l to position r, both included."),
    ("The first line holds n and q, the second n integers, and each of the next q lines a query l r "
    "(l <= r). {numbering}. Output, one per line, the sum of the values at positions l through r."),
    ("Given n integers and q queries l r ({numbering_lower}), answer each query with the sum of the elements "
    "from position l to position r inclusive. Input: n q, then the n integers, then the queries."),
)


def query_inputs(rng: random.Random, base: int) -> list[str]:
    texts = []
    for n, q in [(5, 3), (1, 1), (6, 4), (8, 5), (12, 6), (3, 3), (10, 8)]:
        a = [rng.randint(-20, 50) for _ in range(n)]
        queries = [sorted((rng.randrange(n), rng.randrange(n))) for _ in range(q)]
        lines = [f"{n} {q}", ints(a)] + [f"{lo + base} {hi + base}" for lo, hi in queries]
        texts.append("\n".join(lines) + "\n")
    return texts


@family("prefix_sums", grid(mode=["prefix", "runmax", "runmin", "range1", "range0"], w=range(3))
        + grid(mode=["window"], k=range(2, 10), w=range(3)), tags=("prefix sums",))
def prefix_sums(kn: Knobs, rng: random.Random) -> Spec:
    mode, k, w = kn["mode"], kn.get("k", 0), kn["w"]
    noun = LIST_NOUN[w]
    if mode in PREFIX_QUERIES:
        numbering, answer = PREFIX_QUERIES[mode]
        statement = QUERY_INTRO[w].format(numbering=numbering, numbering_lower=numbering.lower())
        code = (f"n, q = map(int, input().split())\na = list(map(int, input().split()))\n{PREFIX_ARRAY}"
                f"for _ in range(q):\n    l, r = map(int, input().split())\n    print({answer})")
        return Spec(statement=statement, code=code, inputs=query_inputs(rng, 1 if mode == "range1" else 0),
                    difficulty="medium")
    if mode == "prefix":
        what = f"the n prefix sums (the i-th is the sum of the first i {noun}), separated by spaces"
        body = f"{PREFIX_ARRAY}print(*p[1:])"
    elif mode == "window":
        what = f"the sum of every {k} consecutive {noun}, from left to right, separated by spaces"
        body = f"{PREFIX_ARRAY}print(*[p[i + {k}] - p[i] for i in range(n - {k} + 1)])"
    else:
        word, fn = RUNNING[mode]
        what = f"for each i the {word} of the first i {noun}, separated by spaces"
        body = f"m = [a[0]]\nfor x in a[1:]:\n    m.append({fn}(m[-1], x))\nprint(*m)"
    n_min = max(k, 1)
    lists = [random_list(rng, -9, 20, max(n_min, 4), max(n_min, 7)), [4] * n_min, list(range(n_min + 3)),
             [0, -5, 7, -5, 7, 1, 9, -9, 4],
             [10**9] * (n_min + 1)] + [random_list(rng, -99, 99, n_min, 15) for _ in range(3)]
    return Spec(statement=list_statement("n", w, what), code=f"{LIST_READ['n']}\n{body}",
                inputs=[list_input(values, "n") for values in lists], difficulty="medium")


# ---------------------------------------------------------------------------------------------------------------
# Greedy
# ---------------------------------------------------------------------------------------------------------------

COIN_SETS = [(1, 2), (1, 3), (1, 5), (1, 7), (1, 2, 5), (1, 5, 10), (1, 3, 9), (1, 4, 16), (1, 5, 25),
             (1, 2, 5, 10), (1, 5, 10, 25), (1, 10, 100)]
"""Canonical coin systems: taking the largest coin first is optimal for each."""


def listing(values: list[int]) -> str:
    return ", ".join(str(v) for v in values[:-1]) + f" and {values[-1]}"


@family("greedy", grid(task=["coins"], coins=COIN_SETS, w=range(3))
        + grid(task=["budget"], w=range(3))
        + grid(task=["top_k"], k=range(1, 9), w=range(3)), tags=("greedy",))
def greedy(kn: Knobs, rng: random.Random) -> Spec:
    task, k, w = kn["task"], kn.get("k", 0), kn["w"]
    if task == "coins":
        coins = list(kn["coins"])
        shown = coins if w != 1 else coins[::-1]
        statement = (f"Coins have values {listing(shown)}, and there are as many of each as needed. "
                     + ("Read an amount n and print the smallest number of coins that add up to n.",
                        "Given an amount n, output the fewest coins whose values sum to exactly n.",
                        "Input: an amount n >= 0.\nOutput: the minimum number of coins worth n in total.")[w])
        code = (f"n = int(input())\ncount = 0\nfor c in ({', '.join(str(c) for c in coins[::-1])}):\n"
                "    count += n // c\n    n %= c\nprint(count)")
        amounts = [rng.randint(1, 60), 0, 1, coins[-1], coins[-1] - 1, rng.randint(100, 10**4), 10**9]
        return Spec(statement=statement, code=code, inputs=[f"{x}\n" for x in amounts], difficulty="medium")
    if task == "budget":
        statement = (("Read n and a budget b on the first line, then n item prices. Print the largest number of "
                     "items you can buy with total price at most b."),
                     ("The first line holds n and b, the second n prices. Output how many items at most can be "
                     "bought without spending more than b."),
                     ("Given n prices and a budget b (input: n b, then the prices), find the maximum number of "
                     "items whose total price does not exceed b."))[w]
        code = ("n, b = map(int, input().split())\na = sorted(map(int, input().split()))\ncount = 0\n"
                "for x in a:\n    if x > b:\n        break\n    b -= x\n    count += 1\nprint(count)")
        cases = [(random_list(rng, 1, 20, 4, 6), rng.randint(10, 40)), ([5], 4), ([5], 5), ([3, 3, 3], 100),
                 ([7, 1, 9, 2], 0)] + [(random_list(rng, 1, 100, 1, 12), rng.randint(0, 300)) for _ in range(3)]
        inputs = [f"{len(a)} {b}\n{ints(a)}\n" for a, b in cases]
        return Spec(statement=statement, code=code, inputs=inputs, difficulty="medium")
    what = f"the largest possible sum of exactly {k} of the {LIST_NOUN[w]}"
    lists = [random_list(rng, -20, 50, max(k, 4), max(k, 7)), [1] * k, [-5] * (k + 2), list(range(-k, k + 2))]
    lists += [random_list(rng, -100, 100, k, 12) for _ in range(3)]
    return Spec(statement=list_statement("n", w, what),
                code=f"{LIST_READ['n']}\nprint(sum(sorted(a, reverse=True)[:{k}]))",
                inputs=[list_input(values, "n") for values in lists], difficulty="medium")


# ---------------------------------------------------------------------------------------------------------------
# Dynamic programming
# ---------------------------------------------------------------------------------------------------------------

STAIRS = ("A staircase has n steps. In one move you climb {move}. ",
          "You stand below a staircase of n steps and may climb {move} per move. ",
          "Climbing n stairs, each move covers {move}. ")
STAIRS_ASK = ("Read n and print the number of different ways to reach the top.",
              "Given n, output how many distinct sequences of moves end exactly at the top.",
              "Input: n (0 <= n <= 60).\nOutput: the number of ways to reach step n.")
WAYS_TABLE = "n = int(input())\nways = [1] + [0] * n\nfor i in range(1, n + 1):\n"
DP_LIST_ASK = {  # task: (what is asked, with {noun}; the reference solution after reading the list)
    "robber": (("the largest sum of {noun} you can choose with no two chosen {noun} next to each other (the {noun} "
               "are non-negative)"),
               "take, skip = 0, 0\nfor x in a:\n    take, skip = skip + x, max(take, skip)\nprint(max(take, skip))"),
    "kadane": ("the largest sum of a non-empty block of consecutive {noun}",
               ("best = cur = a[0]\nfor x in a[1:]:\n    cur = max(x, cur + x)\n    best = max(best, cur)\n"
               "print(best)")),
    "frog": (("the smallest total cost for a frog to go from the first to the last of the {noun} (heights), "
             "jumping forward at most {k} positions at a time and paying the absolute height difference of "
             "each jump"),
             ("cost = [0] + [10**18] * (n - 1)\nfor i in range(1, n):\n    for j in range(max(0, i - {k}), i):\n"
             "        cost[i] = min(cost[i], cost[j] + abs(a[i] - a[j]))\nprint(cost[-1])")),
}


@family("dp", grid(task=["stairs_upto"], k=range(2, 7), w=range(3)) + grid(task=["stairs_1k"], k=range(2, 10),
                                                                           w=range(3))
        + grid(task=["robber", "kadane"], w=range(3)) + grid(task=["frog"], k=range(2, 6), w=range(3)),
        tags=("dynamic programming",))
def dp(kn: Knobs, rng: random.Random) -> Spec:
    task, k, w = kn["task"], kn.get("k", 0), kn["w"]
    if task.startswith("stairs"):
        if task == "stairs_upto":
            move = f"between 1 and {k} steps"
            step = f"    ways[i] = sum(ways[max(0, i - {k}):i])\n"
        else:
            move = f"either 1 step or {k} steps"
            step = f"    ways[i] = ways[i - 1]\n    if i >= {k}:\n        ways[i] += ways[i - {k}]\n"
        return Spec(statement=STAIRS[w].format(move=move) + STAIRS_ASK[w],
                    code=f"{WAYS_TABLE}{step}print(ways[n])",
                    inputs=[f"{n}\n" for n in (rng.randint(3, 9), 0, 1, k, k + 1, 60, rng.randint(10, 40))],
                    difficulty="hard")
    what, body = DP_LIST_ASK[task]
    what = what.format(noun=LIST_NOUN[w], k=k)
    lo = 0 if task == "robber" else -30
    lists = [random_list(rng, lo, 30, 4, 6), [7], [lo, lo], [5, 1, 1, 5], [3, 0, 0, 0, 9, 2, 0],
             [10**9] * 6] + [random_list(rng, lo, 100, 1, 15) for _ in range(3)]
    return Spec(statement=list_statement("n", w, what), code=f"{LIST_READ['n']}\n{body.format(k=k)}",
                inputs=[list_input(values, "n") for values in lists], difficulty="hard")


# ---------------------------------------------------------------------------------------------------------------
# Grid walks
# ---------------------------------------------------------------------------------------------------------------

MOVE_LETTERS = {  # name: letters for up, down, left, right
    "udlr": ("U", "D", "L", "R"),
    "nswe": ("N", "S", "W", "E"),
    "ijkl": ("I", "K", "J", "L"),
}
WALK_ASK = {  # op: (what is asked, what the reference prints after the walk)
    "pos": ("its final position as two numbers x y", "print(x, y)"),
    "dist": ("the Manhattan distance |x| + |y| of its final position from the start", "print(abs(x) + abs(y))"),
    "back": ("YES if it ends where it started and NO otherwise", "print('YES' if x == 0 and y == 0 else 'NO')"),
    "cells": ("the number of different cells it visits, the start included", "print(len(seen))"),
}
WALK_INTRO = (
    ("A robot starts at (0, 0). Read a string of moves: {u} is up (y + 1), {d} down (y - 1), {l} left (x - 1), "
    "{r} right (x + 1). Print {what}."),
    ("You are given a string of moves for a robot at (0, 0): '{u}' adds 1 to y, '{d}' subtracts 1 from y, '{l}' "
    "subtracts 1 from x, '{r}' adds 1 to x. Output {what}."),
    ("Input: a string over {u}, {d}, {l}, {r} (up, down, left, right) moving a robot from (0, 0) one cell at a "
    "time.\nOutput: {what}."),
)
BLOCKED = {"hash": "#", "star": "*", "x": "X"}
PATHS_INTRO = (
    ("Read n and m, then n lines of m characters: '.' is a free cell and '{b}' a blocked one. Moving only right "
    "or down through free cells, print the number of paths from the top-left to the bottom-right cell."),
    ("A grid has n rows and m columns (first line n m, then the rows); '{b}' marks a wall, '.' a free cell. "
    "Output how many right/down paths over free cells join the top-left and bottom-right corners."),
    ("Input: n m, then n rows of '.' (free) and '{b}' (blocked).\nOutput: the number of paths from the top-left "
    "to the bottom-right cell that step only right or down and avoid blocked cells."),
)


def walk_code(letters: tuple[str, str, str, str], op: str) -> str:
    u, d, l, _ = letters  # right is the `else` branch
    track = op == "cells"
    lines = ["s = input()", "x = y = 0"] + (["seen = {(0, 0)}"] if track else []) + [
        "for c in s:", f"    if c == '{u}':", "        y += 1", f"    elif c == '{d}':", "        y -= 1",
        f"    elif c == '{l}':", "        x -= 1", "    else:", "        x += 1"]
    lines += (["    seen.add((x, y))"] if track else []) + [WALK_ASK[op][1]]
    return "\n".join(lines)


def grid_inputs(rng: random.Random, blocked: str) -> list[str]:
    shapes = [(3, 3, 0.2), (1, 1, 0.0), (1, 5, 0.0), (4, 1, 0.0), (2, 2, 1.0), (6, 7, 0.25), (10, 10, 0.1),
              (5, 4, 0.3)]
    texts = []
    for n, m, density in shapes:
        rows = ["".join(blocked if rng.random() < density else "." for _ in range(m)) for _ in range(n)]
        texts.append(f"{n} {m}\n" + "\n".join(rows) + "\n")
    return texts


@family("grid_walk", grid(task=list(WALK_ASK), letters=list(MOVE_LETTERS), w=range(3))
        + grid(task=["paths"], letters=list(BLOCKED), w=range(3)), tags=("grids", "simulation"))
def grid_walk(kn: Knobs, rng: random.Random) -> Spec:
    task, w = kn["task"], kn["w"]
    if task == "paths":
        b = BLOCKED[kn["letters"]]
        code = ("n, m = map(int, input().split())\ng = [input() for _ in range(n)]\nways = [[0] * m for _ in "
                f"range(n)]\nfor i in range(n):\n    for j in range(m):\n        if g[i][j] == '{b}':\n"
                "            continue\n        if i == 0 and j == 0:\n            ways[i][j] = 1\n        else:\n"
                "            ways[i][j] = (ways[i - 1][j] if i else 0) + (ways[i][j - 1] if j else 0)\n"
                "print(ways[n - 1][m - 1])")
        return Spec(statement=PATHS_INTRO[w].format(b=b), code=code, inputs=grid_inputs(rng, b), difficulty="hard")
    letters = MOVE_LETTERS[kn["letters"]]
    u, d, l, r = letters
    walks = ["".join(rng.choice(letters) for _ in range(rng.randint(4, 8))), u, f"{u}{d}{l}{r}", r * 7,
             f"{u}{u}{l}{d}{d}{r}", "".join(rng.choice(letters) for _ in range(60)),
             "".join(rng.choice(letters) for _ in range(rng.randint(1, 20)))]
    return Spec(statement=WALK_INTRO[w].format(u=u, d=d, l=l, r=r, what=WALK_ASK[task][0]),
                code=walk_code(letters, task), inputs=[f"{walk}\n" for walk in walks],
                difficulty="medium" if task != "pos" else "easy")
