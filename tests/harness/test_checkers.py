"""The stdio checkers, on hand-written outputs (pure: no sandbox)."""

from __future__ import annotations

import stat
import textwrap

import pytest

from codelhf.errors import UserError
from codelhf.harness import CheckerError, CheckResult, as_check_result, checkers


def check(name: str, output: str, expected: str, **context) -> CheckResult:
    return as_check_result(checkers.get(name)(output, expected, **context))


def test_tokens_ignores_spacing_but_not_content():
    assert check("tokens", "1  2\n3\n", "1 2 3").ok
    assert check("tokens", "1 2 3", "1 2 3\n\n").ok
    wrong = check("tokens", "1 2 4", "1 2 3")
    assert not wrong.ok and "token 3" in wrong.feedback
    short = check("tokens", "1 2", "1 2 3")
    assert not short.ok and "2 tokens, expected 3" in short.feedback
    assert not check("tokens", "", "0").ok
    assert not check("tokens", "1.0", "1").ok


def test_exact_is_byte_for_byte():
    assert check("exact", "a b\n", "a b\n").ok
    missing_newline = check("exact", "a b", "a b\n")
    assert not missing_newline.ok and "character 3" in missing_newline.feedback
    assert not check("exact", "a  b\n", "a b\n").ok


def test_float_tolerances_from_checker_args():
    assert check("float", "0.3333333", "0.333333333").ok  # within the default 1e-6
    assert not check("float", "0.3334", "0.333333333").ok
    assert check("float", "0.3334", "0.333333333", abs_tol=1e-3).ok
    assert check("float", "1000001", "1000000", rel_tol=1e-5, abs_tol=0).ok
    assert not check("float", "1000011", "1000000", rel_tol=1e-5, abs_tol=0).ok
    assert check("float", "YES 2.0000000001", "YES 2").ok
    word = check("float", "yes 2", "YES 2")
    assert not word.ok and "token 1" in word.feedback  # non-numeric tokens compared exactly
    assert check("float", "inf", "inf").ok and not check("float", "nan", "1").ok


def test_unordered_is_a_multiset_of_lines():
    assert check("unordered", "b\na  1\n\n", "a 1\nb\n").ok
    duplicate = check("unordered", "a\na\n", "a\nb\n")
    assert not duplicate.ok and "missing" in duplicate.feedback and "unexpected" in duplicate.feedback
    assert not check("unordered", "a\n", "a\na\n").ok


CHECKER_SOURCE = textwrap.dedent("""\
    import sys
    inp, expected, actual = (open(p).read() for p in sys.argv[1:4])
    n = int(inp)
    got = [int(x) for x in actual.split()]
    # any two numbers summing to n are accepted
    if len(got) == 2 and sum(got) == n:
        sys.exit(0)
    print(f"{got} does not sum to {n} (one answer: {expected.strip()})")
    sys.exit(1)
""")


def test_apps_keeps_its_float_tolerance_but_not_its_set_comparisons():
    """numpy.allclose defaults: |got - want| <= 1e-8 + 1e-5 * |want|, here 3.7e-5. 3.6666667 is 3.3e-8 off and
    3.6667 3.3e-5: both pass; 3.667 is 3.3e-4 off and fails."""
    assert check("apps", "1\n7\n3.6666667\n", "1 7 3.6666666666666665").ok
    assert check("apps", "3.6667", "3.6666666666666665").ok
    assert not check("apps", "3.667", "3.6666666666666665").ok
    assert check("apps", "4.0000000000", "4.0").ok and check("apps", "4.0", "4").ok and check("apps", "007", "7").ok
    # APPS's harness accepts these through its set-based fallbacks; they are wrong answers
    assert not check("apps", "7\n1\n3.6666666666666665", "1\n7\n3.6666666666666665").ok  # lines reordered
    assert not check("apps", "1 2", "1 2 2").ok  # a duplicate missing
    assert not check("apps", "3.6669", "3.6666666666666665").ok  # equal only rounded to 3 decimals
    # allclose would take 1000000005 for 1000000000 (5e-9 relative): integers compare exactly
    assert not check("apps", "1000000005", "1000000000").ok
    assert not check("apps", "YES", "yes").ok


def test_code_contests_is_case_insensitive_with_an_absolute_tolerance():
    assert check("code_contests", "yes\nNo\n", "YES\nNO").ok
    assert check("code_contests", "0.1234561", "0.123456").ok and not check("code_contests", "0.12347", "0.12345").ok
    assert check("code_contests", "1000000.000001", "1000000").ok  # absolute, not relative
    # DeepMind's tester reads integers as doubles, so these two would match there; here integers are exact
    assert not check("code_contests", "10000000000000000001", "10000000000000000000").ok
    assert check("code_contests", "9" * 5000, "9" * 5000).ok  # no int() length limit on the way


def test_livecodebench_compares_lines_then_exact_decimals():
    assert check("livecodebench", "  3\n7 \n\n", "3\n7").ok
    assert check("livecodebench", "1.50 2", "1.5 2").ok and check("livecodebench", "1e2", "100").ok
    assert not check("livecodebench", "3 7", "3\n7").ok  # the same tokens on other lines
    assert not check("livecodebench", "0.3333333", "0.333333333").ok  # no tolerance: exact decimals
    wrong = check("livecodebench", "1\n2\n3", "1\n2\n4")
    assert not wrong.ok and "line 3 differs" in wrong.feedback
    assert not check("livecodebench", "sNaN", "0").ok  # a signalling NaN must not crash the judge


def test_program_checker_from_source_accepts_any_valid_answer():
    assert check("program", "2 5\n", "3 4", input="7", program=CHECKER_SOURCE).ok
    assert check("program", "7 0", "3 4", input="7", program=CHECKER_SOURCE).ok
    wrong = check("program", "3 3", "3 4", input="7", program=CHECKER_SOURCE)
    assert not wrong.ok and "does not sum to 7" in wrong.feedback


def test_program_checker_from_paths(tmp_path):
    script = tmp_path / "check.py"
    script.write_text(CHECKER_SOURCE)
    assert check("program", "1 6", "3 4", input="7", program=str(script)).ok
    executable = tmp_path / "check.sh"  # any executable works: here a shell script comparing files
    executable.write_text('#!/bin/sh\ncmp -s "$2" "$3" || { echo "files differ"; exit 1; }\n')
    executable.chmod(executable.stat().st_mode | stat.S_IXUSR)
    assert check("program", "same", "same", input="", program=str(executable)).ok
    differ = check("program", "other", "same", input="", program=str(executable))
    assert not differ.ok and differ.feedback == "files differ"


def test_program_checker_that_hangs_is_a_checker_error_not_a_wrong_answer():
    with pytest.raises(CheckerError, match="did not finish"):
        check("program", "1", "1", input="", program="import time\ntime.sleep(30)\n", timeout_s=0.5)
    with pytest.raises(UserError, match="checker_args"):
        check("program", "1", "1", input="")


def test_registry_suggests_on_typo_and_accepts_user_checkers():
    with pytest.raises(UserError, match="tokens"):
        checkers.get("tokenz")

    @checkers.register("test_yes_no")
    def yes_no(output: str, expected: str, **context) -> bool:
        return output.strip().lower() == expected.strip().lower()

    assert check("test_yes_no", "Yes\n", "YES").ok
    assert not check("test_yes_no", "no", "YES").ok
