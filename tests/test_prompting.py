"""The prompt builder (plain and chat template) and the code extractor on the outputs models really write."""

from __future__ import annotations

import ast
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from codelhf.datasets.bundled import load_bundled
from codelhf.problems import Problem
from codelhf.problems import TestCase as Case  # (a Test* name would be collected by pytest)
from codelhf.prompting import STOP, build_prompt, extract_code, parse_python, sft_target

CHAT_TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}\n{% endfor %}"
                 "{% if add_generation_prompt %}<|assistant|>\n{% endif %}")


def tiny_tokenizer(chat_template: str | None) -> PreTrainedTokenizerFast:
    vocab = {"[UNK]": 0, "<|user|>": 1, "<|assistant|>": 2, "print": 3}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]")
    tokenizer.chat_template = chat_template
    return tokenizer


STDIO = Problem(id="p1", prompt="Read n and print n + 1.", public_tests=[Case("1\n", "2\n")])
CALL = Problem(id="p2", prompt="Write f(x) returning x * 2.", harness="call", fn_name="f", starter_code="def f(x):\n")


def test_plain_prompt_ends_in_an_open_python_block():
    prompt = build_prompt(STDIO)
    assert prompt.endswith("\n```python\n")
    assert "Read n and print n + 1." in prompt and "stdin" in prompt
    assert "Starter code" not in prompt
    assert len(prompt) < 250, "the plain template must stay short: a tiny model's context is small"


def test_plain_prompt_for_call_based_problems_names_the_function_and_shows_starter_code():
    prompt = build_prompt(CALL)
    assert "`f`" in prompt and "Starter code:\n```python\ndef f(x):\n```" in prompt
    assert prompt.endswith("```\n\n```python\n")


def test_assert_harness_prompts_ask_for_complete_code():
    humaneval = Problem(id="HumanEval/0", prompt='def add(a, b):\n    """Sum of a and b."""\n', harness="assert",
                        entry_point="add")
    prompt = build_prompt(humaneval)
    assert "defining `add`" in prompt and '```python\ndef add(a, b):\n    """Sum of a and b."""\n```' in prompt
    mbpp = Problem(id="mbpp/1", prompt="Write a function add.\nYour code should pass these tests:\n\n"
                   "assert add(1, 2) == 3\n", harness="assert")
    prompt = build_prompt(mbpp)
    assert "tests run after it" in prompt and "assert add(1, 2) == 3\n\n```python\n" in prompt
    assert "stdin" not in prompt


def test_tokenizer_without_chat_template_gets_the_plain_prompt():
    assert build_prompt(STDIO, tiny_tokenizer(None)) == build_prompt(STDIO)


def test_chat_template_wraps_the_request_and_prefills_the_code_block():
    prompt = build_prompt(CALL, tiny_tokenizer(CHAT_TEMPLATE))
    request = build_prompt(CALL).removesuffix("\n\n```python\n")
    assert prompt == f"<|user|>\n{request}\n<|assistant|>\n```python\n"


@pytest.mark.parametrize("code", ["print(1)", "x = int(input())\nprint(x)\n", "\n\ndef f(x):\n    return x\n\n"])
def test_sft_target_closes_the_block_once_and_round_trips(code):
    target = sft_target(code)
    assert target.endswith(STOP[0]) and target.count(STOP[0]) == 1
    assert extract_code(target) == code.strip("\n")
    assert extract_code(build_prompt(STDIO).split("```python\n")[-1] + target) == code.strip("\n")


def test_sft_target_round_trips_every_bundled_reference():
    for problem in load_bundled(None):
        code = problem.solutions[0].code
        target = sft_target(code)
        assert target.count(STOP[0]) == 1 and extract_code(target) == code.strip("\n"), problem.id


CODE = "n = int(input())\nprint(n * 2)"
EXTRACTION_CASES = {
    "prefilled, closed, prose after": (CODE + "\n```\nThis doubles n.", CODE),
    "prefilled, closing fence and a second block": (CODE + "\n```\n\nTest:\n```\n5\n```", CODE),
    "prefilled, no closing fence": (CODE + "\n", CODE),
    "prefilled, cut off mid-line": (CODE + "\nprint(n +", CODE),
    "prefilled, prose after without fence": (CODE + "\n\nThis program reads n and prints twice n.", CODE),
    "fresh python block with prose around": (f"Here is the solution:\n```python\n{CODE}\n```\nIt runs in O(1).", CODE),
    "fresh block without language": (f"Sure!\n```\n{CODE}\n```", CODE),
    "fresh block tagged py, indented fence": (f"Answer:\n  ```py\n{CODE}\n  ```", CODE),
    "fresh block never closed": (f"Solution:\n```python\n{CODE}\nThat is the whole program.", CODE),
    "example block first, python second": (f"Input:\n```\n5\n```\nCode:\n```python\n{CODE}\n```", CODE),
    "bash block first, untagged python second": (f"```bash\npython3 a.py\n```\n```\n{CODE}\n```", CODE),
    "two python blocks: the first wins": (f"```python\n{CODE}\n```\n```python\nprint(0)\n```", CODE),
    "no fences at all": (CODE, CODE),
    "no fences, leading prose line": (f"Here is my program for it:\n{CODE}", CODE),
    "a lone word before a bare fence is prose": (f"Solution\n```\n{CODE}\n```", CODE),
    "call-based function": ("def f(x):\n    return x * 2\n```\nDone.", "def f(x):\n    return x * 2"),
}


@pytest.mark.parametrize("name", list(EXTRACTION_CASES))
def test_extract_code(name):
    text, expected = EXTRACTION_CASES[name]
    assert extract_code(text) == expected


def test_extract_code_leaves_unparsable_text_for_the_sandbox_to_judge():
    """Nothing parses: the text comes back (stripped), so the verdict is a compile error, not an empty program."""
    assert extract_code("I do not know how to solve this.") == "I do not know how to solve this."
    assert extract_code("") == ""
    assert extract_code("```python\nprint(\n```") == "print("


def test_python_is_parsed_one_thread_at_a_time(monkeypatch):
    """Rewards run in many threads (verl's reward loop), and CPython 3.11's parser fails now and then when threads
    parse at once ("AST constructor recursion depth mismatch"): parse_python lets one in at a time."""
    inside, most = 0, 0
    count = threading.Lock()
    real_parse = ast.parse

    def slow_parse(*args: Any, **kwargs: Any) -> ast.Module:
        nonlocal inside, most
        with count:
            inside += 1
            most = max(most, inside)
        time.sleep(0.01)  # long enough that unserialised threads would overlap
        with count:
            inside -= 1
        return real_parse(*args, **kwargs)

    monkeypatch.setattr(ast, "parse", slow_parse)
    with ThreadPoolExecutor(8) as pool:
        trees = list(pool.map(parse_python, ["print(1)\n"] * 32))
    assert most == 1 and all(isinstance(t, ast.Module) for t in trees)
