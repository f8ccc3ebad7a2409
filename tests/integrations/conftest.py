"""Problems in the forms trainers' datasets carry them, with programs whose verdicts are known."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

STDIO_GT = json.dumps({"inputs": ["1 2\n", "10 -3\n"], "outputs": ["3\n", "7\n"]})
"""verl/PRIME-style ground truth of a stdin/stdout problem: add two numbers."""
STDIO_RIGHT = "Here is my solution:\n```python\na, b = map(int, input().split())\nprint(a + b)\n```\nDone."
STDIO_HALF = "```python\nprint(3)\n```"  # passes the first test only
STDIO_CRASH = "```python\nraise ValueError('no')\n```"

CALL_GT = json.dumps({"fn_name": "scale", "inputs": ["[1, 2]\n3", "[]\n5"], "outputs": ["[3, 6]", "[]"]})
"""A call-based ground truth as PRIME/verl write APPS ones: arguments as JSON lines, the value as JSON text."""
CALL_RIGHT = "def scale(xs, k):\n    return [x * k for x in xs]\n"
CALL_WRONG = "def scale(xs, k):\n    return xs\n"

HUMANEVAL_GT = {"prompt": "def add(a, b):\n    \"\"\"Sum of a and b.\"\"\"\n",
                "test": "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n",
                "entry_point": "add"}
HUMANEVAL_BODY = "    return a + b\n"  # human-eval style: continues the prompt
HUMANEVAL_WRONG = "```python\ndef add(a, b):\n    return a * b\n```"

SYSTEM_ERROR_PROBLEM = {
    "id": "hung-checker", "prompt": "", "hidden_tests": [{"input": "", "output": "1"}], "checker": "program",
    "checker_args": {"program": "import time\ntime.sleep(60)\n", "timeout_s": 0.5}}
"""A codelhf record whose checker program hangs: its test is a system error (SE), whatever the program does."""

CASES = [  # (completion, problem, reward, pass_rate, verdict) with the default binary reward scaled to 1
    (STDIO_RIGHT, STDIO_GT, 1.0, 1.0, "AC"),
    (STDIO_HALF, STDIO_GT, 0.0, 0.5, "WA"),
    (STDIO_CRASH, STDIO_GT, 0.0, 0.0, "RE"),
    (CALL_RIGHT, CALL_GT, 1.0, 1.0, "AC"),
    (CALL_WRONG, CALL_GT, 0.0, 0.5, "WA"),
    (HUMANEVAL_BODY, HUMANEVAL_GT, 1.0, 1.0, "AC"),
    (HUMANEVAL_WRONG, HUMANEVAL_GT, 0.0, 0.0, "WA"),
]


@pytest.fixture(scope="session")
def cases():
    """This module's problems and programs (test files cannot import a conftest under --import-mode=importlib)."""
    return sys.modules[__name__]


@pytest.fixture
def default_scorer(monkeypatch, request):
    """The process's default scorer (what code_reward, compute_score and reward_func use), made afresh from
    CODELHF_* variables: the Docker sandbox with two workers unless the test is parametrized with a backend."""
    from codelhf.integrations import scorer as scorer_module

    monkeypatch.setenv("CODELHF_BACKEND", getattr(request, "param", "docker"))
    monkeypatch.setenv("CODELHF_WORKERS", "2")
    scorer_module._default = None
    yield scorer_module.default_scorer()
    scorer_module.default_scorer().close()
    scorer_module._default = None


@pytest.fixture(scope="session")
def readme_snippet():
    """`readme_snippet(language, index)`: a code block of the README's section on TRL / verl / OpenRLHF, as the
    user copies it."""
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = text.split("## Use codelhf as the reward in TRL / verl / OpenRLHF", 1)[1].split("\n## ", 1)[0]
    return lambda language, index=0: re.findall(rf"```{language}\n(.*?)```", section, re.DOTALL)[index]
