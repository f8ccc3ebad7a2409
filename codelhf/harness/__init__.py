"""How a program is judged: harnesses (`stdio`, `call`, `assert`) and the checkers of `stdio` output.

Both are registries: add your own with `@harnesses.register("name")` / `@checkers.register("name")` in one
file, or from another package through the entry-point groups `codelhf.harnesses` and `codelhf.checkers`
(see codelhf/harness/base.py and codelhf/harness/checkers.py for a one-file example of each).
"""

from codelhf.harness.base import Checker, CheckerError, CheckResult, Harness, as_check_result, checkers, harnesses

harnesses.register("stdio", "codelhf.harness.stdio:StdioHarness")
harnesses.register("call", "codelhf.harness.call:CallHarness")
harnesses.register("assert", "codelhf.harness.assert_:AssertHarness")

checkers.register("tokens", "codelhf.harness.checkers:tokens")
checkers.register("exact", "codelhf.harness.checkers:exact")
checkers.register("float", "codelhf.harness.checkers:float_")
checkers.register("unordered", "codelhf.harness.checkers:unordered")
checkers.register("program", "codelhf.harness.checkers:program")

__all__ = ["CheckResult", "Checker", "CheckerError", "Harness", "as_check_result", "checkers", "harnesses"]
