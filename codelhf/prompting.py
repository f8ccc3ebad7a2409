"""The one prompt format and the one code extractor, shared by SFT, sampling, PPO, DPO and evaluation.

Every prompt ends inside an opened Python code block (a chat model's assistant turn is pre-filled with it), so
the model writes code first and closes the block when done:

    <prompt ...>```python\\n   +   <code>\\n```   (the completion; generation stops at the closing fence)

`sft_target` produces exactly that completion for a reference solution, `STOP` holds the closing fence, and
`extract_code` recovers the program from whatever the model wrote: the pre-filled form above, a fresh fenced
block with or without a language, prose before or after, a missing closing fence, or no fences at all.
"""

from __future__ import annotations

import ast
import re
import threading
import warnings
from typing import Any

from codelhf.problems import Problem

OPEN_FENCE = "```python\n"
CLOSE_FENCE = "```"
STOP = ["\n```"]
"""Stop strings for generation: the fence that closes the code block."""

STDIO_INSTRUCTION = "Solve the problem in Python 3. Read the input from stdin and print the answer to stdout."
CALL_INSTRUCTION = ("Solve the problem in Python 3. Write the function `{name}`; it is called with the test "
                    "arguments and must return the answer.")
ASSERT_INSTRUCTION = "Solve the problem in Python 3. Write complete code{defining}; the tests run after it."


def build_prompt(problem: Problem, tokenizer: Any = None) -> str:
    """The text a policy continues: instructions, statement, starter code, then an opened code block.

    With a tokenizer that has a chat template, the request is the user turn and the code block opens the
    assistant turn; otherwise a plain template.
    """
    request = _request(problem)
    if getattr(tokenizer, "chat_template", None):
        messages = [{"role": "user", "content": request}]
        head = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return head + OPEN_FENCE
    return f"{request}\n\n{OPEN_FENCE}"


def _request(problem: Problem) -> str:
    statement = problem.prompt.strip()
    if problem.harness == "call" and problem.fn_name:
        instruction = CALL_INSTRUCTION.format(name=problem.fn_name)
    elif problem.harness == "assert":
        instruction = ASSERT_INSTRUCTION.format(defining=f" defining `{problem.entry_point}`"
                                                if problem.entry_point else "")
        if problem.entry_point:  # HumanEval: the statement is the function's signature and docstring
            statement = f"{OPEN_FENCE}{statement}\n{CLOSE_FENCE}"
    else:
        instruction = STDIO_INSTRUCTION
    parts = [instruction, statement]
    if problem.starter_code.strip():
        parts.append(f"Starter code:\n{OPEN_FENCE}{problem.starter_code.rstrip()}\n{CLOSE_FENCE}")
    return "\n\n".join(parts)


def encode_prompt(tokenizer: Any, prompt: str) -> list[int]:
    """Token ids of a prompt with the tokenizer's special tokens (BOS), unless a chat template already wrote them.
    The sampler, SFT and DPO all encode prompts here, so a completion always follows the same ids."""
    bos = tokenizer.bos_token
    add_special = not (bos and prompt.startswith(bos))
    return tokenizer(prompt, add_special_tokens=add_special)["input_ids"]


def sft_target(code: str) -> str:
    """What the model should write after `build_prompt` for the reference solution `code` (the trainer appends
    the end-of-sequence token). `extract_code(sft_target(c)) == c.strip("\\n")`."""
    return code.strip("\n") + "\n" + CLOSE_FENCE


# ---------------------------------------------------------------------------------------------------------------
# Extraction
# ---------------------------------------------------------------------------------------------------------------

FENCE_LINE = re.compile(r"^[ \t]*```[ \t]*([A-Za-z0-9_+#.-]*)[^\n]*$", re.MULTILINE)
PYTHON_TAGS = {"", "python", "python3", "py", "py3"}
PROSE_LINE = re.compile(r"^[A-Z][a-z']*,?(\s+\S+){2,}\s*$")


def extract_code(text: str) -> str:
    """The program in a model's output (see the module docstring for the shapes handled).

    Among several code blocks it takes the first one that is tagged as Python (or untagged) and parses as a
    Python program doing something (not just `5` or a name, which is what sample inputs look like).
    """
    fences = list(FENCE_LINE.finditer(text))
    if not fences:
        return _trim_prose(text)
    blocks: list[tuple[str, str, bool]] = []  # (language tag, body, closed)
    first = fences[0]
    prefix = text[:first.start()]
    if not first.group(1) and _looks_like_python(prefix):
        # The text began inside a block (the prompt opened it): its first fence closes that block.
        blocks.append(("python", prefix, True))
        fences = fences[1:]
    for i in range(0, len(fences), 2):
        opening = fences[i]
        closing = fences[i + 1] if i + 1 < len(fences) else None
        body = text[opening.end() + 1:closing.start() if closing else len(text)]
        blocks.append((opening.group(1).lower(), body, closing is not None))
    candidates = [(tag, body, closed) for tag, body, closed in blocks if tag in PYTHON_TAGS] or blocks
    for tag, body, closed in candidates:
        if _looks_like_python(body if closed else _trim_prose(body)):
            return body.strip("\n") if closed else _trim_prose(body)
    _, body, closed = candidates[0]
    return body.strip("\n") if closed else _trim_prose(body)


def _looks_like_python(code: str) -> bool:
    """Parses, and holds at least one statement other than a bare name or constant."""
    if not code.strip():
        return False
    try:
        tree = parse_python(code)
    except (SyntaxError, ValueError):
        return False
    return any(not (isinstance(node, ast.Expr) and isinstance(node.value, (ast.Name, ast.Constant)))
               for node in tree.body)


def _trim_prose(text: str) -> str:
    """Drop leading prose lines and then trailing lines until the rest parses; unchanged if nothing does.

    Trailing trimming costs one parse per dropped line, so it stays cheap on the long garbage a small model
    writes when it never closes its block.
    """
    lines = text.strip("\n").split("\n")
    while lines and PROSE_LINE.match(lines[0]) and not _parses(lines[0]):
        lines.pop(0)
    for end in range(len(lines), 0, -1):
        candidate = "\n".join(lines[:end]).rstrip()
        if _looks_like_python(candidate):
            return candidate
    return text.strip("\n")


def _parses(code: str) -> bool:
    try:
        parse_python(code)
        return True
    except (SyntaxError, ValueError):
        return False


_PARSING = threading.Lock()


def parse_python(code: str) -> ast.Module:
    """`ast.parse`, quietly (model output such as "1st" or "0x" makes Python warn about odd literals), one thread at
    a time: rewards are computed from many threads at once (verl's reward loop, the HTTP service), and CPython 3.11's
    parser then fails now and then with "SystemError: AST constructor recursion depth mismatch", while
    `warnings.catch_warnings` changes process-wide state that a second thread would restore wrongly."""
    with _PARSING, warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        return ast.parse(code)
