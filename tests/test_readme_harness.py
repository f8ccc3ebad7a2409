"""The README's "Add a harness in one file" example, taken from the README itself and run in the sandbox."""

from __future__ import annotations

import re
from pathlib import Path

from codelhf.execution import Executor
from codelhf.harness import harnesses
from codelhf.problems import Problem
from codelhf.problems import TestCase as Case  # aliased: pytest would try to collect Test*
from codelhf.samples import Sample

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_regex_harness_judges_real_programs() -> None:
    section = README.read_text().split("## Add a harness in one file", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)
    if "regex" not in harnesses:
        exec(compile(code, "README.md", "exec"), {})  # noqa: S102 (the README's own example, run as written)
    problem = Problem("dice", "Print any roll of a die.", harness="regex", hidden_tests=[Case("", r"[1-6]")])
    samples = [Sample("dice", program="print(4)\n", sample_index=0),
               Sample("dice", program="print(7)\n", sample_index=1)]
    with Executor(backend="local", workers=1) as ex:
        right, wrong = ex.run([problem], samples, progress=False)
    assert right.all_passed
    assert not wrong.all_passed and "does not match" in wrong.tests[0].feedback
