"""How a program is judged: harnesses (`stdio`, `call`, `assert`), the checkers of `stdio` output, and the
dialects that run a program the way a dataset's own harness does (import header, stdin program as a function body).

All three are registries: add your own with `@harnesses.register("name")` / `@checkers.register("name")` /
`dialects.register("name", Dialect(...))` in one file, or from another package through the entry-point groups
`codelhf.harnesses`, `codelhf.checkers` and `codelhf.dialects` (see codelhf/harness/base.py,
codelhf/harness/checkers.py and codelhf/harness/dialects.py for a one-file example of each).
"""

from codelhf.harness.base import Checker, CheckerError, CheckResult, Harness, as_check_result, checkers, harnesses
from codelhf.harness.dialects import Dialect, dialect_of, dialects

harnesses.register("stdio", "codelhf.harness.stdio:StdioHarness")
harnesses.register("call", "codelhf.harness.call:CallHarness")
harnesses.register("assert", "codelhf.harness.assert_:AssertHarness")

checkers.register("tokens", "codelhf.harness.checkers:tokens")
checkers.register("exact", "codelhf.harness.checkers:exact")
checkers.register("float", "codelhf.harness.checkers:float_")
checkers.register("unordered", "codelhf.harness.checkers:unordered")
checkers.register("program", "codelhf.harness.checkers:program")
checkers.register("apps", "codelhf.harness.checkers:apps")
checkers.register("code_contests", "codelhf.harness.checkers:code_contests")
checkers.register("livecodebench", "codelhf.harness.checkers:livecodebench")

__all__ = ["CheckResult", "Checker", "CheckerError", "Dialect", "Harness", "as_check_result", "checkers", "dialect_of",
           "dialects", "harnesses"]
