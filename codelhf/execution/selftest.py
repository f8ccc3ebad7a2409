"""`codelhf sandbox self-test`: a handful of real programs whose verdicts are known, run through the Executor.

One small problem (add two numbers) and one program per verdict, in Python and C++. If the sandbox judges any of
them differently, something in the image, the runner or the limits is wrong on this machine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from codelhf.execution.executor import Executor
from codelhf.problems import Problem, TestCase
from codelhf.samples import Sample
from codelhf.verdicts import Status

PROBLEM = Problem(
    id="selftest/add", prompt="Read two integers and print their sum.",
    public_tests=[TestCase("1 2\n", "3\n")], hidden_tests=[TestCase("40 2", "42\n"), TestCase("-5 5\n", "0\n")],
    time_limit_s=1.0, memory_limit_mb=256)


@dataclass(frozen=True)
class Case:
    name: str
    language: str
    program: str
    expected: Status


CASES = [
    Case("python accepted", "python", "a, b = map(int, input().split())\nprint(a + b)\n", Status.AC),
    Case("python __main__ block", "python",
         "import sys\ndef main():\n    a, b = map(int, sys.stdin.read().split())\n    sys.stdout.buffer.write(b'%d\\n' % (a + b))\n"
         "if __name__ == '__main__':\n    main()\n", Status.AC),
    Case("python wrong answer", "python", "a, b = map(int, input().split())\nprint(a - b)\n", Status.WA),
    Case("python infinite loop", "python", "while True:\n    pass\n", Status.TLE),
    Case("python runtime error", "python", "raise ValueError('boom')\n", Status.RE),
    Case("python syntax error", "python", "def broken(:\n", Status.CE),
    Case("python memory bomb", "python", "x = bytearray(2 * 1024 ** 3)\n", Status.MLE),
    Case("python output flood", "python", "while True:\n    print('y' * 1000)\n", Status.OLE),
    Case("c++ accepted", "cpp",
         "#include <iostream>\nint main() { long long a, b; std::cin >> a >> b; std::cout << a + b << '\\n'; }\n",
         Status.AC),
    Case("c++ compile error", "cpp", "int main() { return x; }\n", Status.CE),
]


@dataclass
class Outcome:
    case: Case
    status: Status
    feedback: str

    @property
    def ok(self) -> bool:
        return self.status == self.case.expected


def run_self_test(backend: str = "docker", workers: int | None = None) -> tuple[list[Outcome], float]:
    """Each case's verdict and the wall time of the whole batch (worker start-up included)."""
    samples = [Sample(PROBLEM.id, program=c.program, language=c.language, sample_index=i) for i, c in enumerate(CASES)]
    started = time.perf_counter()
    with Executor(backend=backend, workers=workers) as executor:
        verdicts = executor.run([PROBLEM], samples, progress=False)
    seconds = time.perf_counter() - started
    outcomes = []
    for case, verdict in zip(CASES, verdicts):
        failure = verdict.first_failure
        feedback = verdict.tests[failure].feedback if failure is not None else ""
        outcomes.append(Outcome(case, verdict.status, feedback))
    return outcomes, seconds
