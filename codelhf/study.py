"""The study: SFT vs PPO vs PPO with a group baseline vs DPO (on-policy and offline) vs DPO-Iter on one problem set,
with the same training budget, paired comparisons against SFT, and a report.

    codelhf study                      # the tiny model on the bundled problems, on a CPU, in minutes
    codelhf study --model PATH --problems DATA --set budget=20000

Stages, each writing into the run directory and skipped when its output is already there (so a run resumes):
1. SFT: the bundled tiny model is already an SFT model (shipped in the package); any other model is fine-tuned
   on the train split here. It is validated once; every method starts from it and from that measurement.
2. From that one SFT checkpoint, per seed, every RL method gets `budget` training samples (programs generated and
   executed): PPO and PPO-group in steps of their rollout batch, DPO in one round of the SFT model's own samples
   labelled by the sandbox (reference = SFT), DPO-Iter the same budget in rounds (each round's reference the
   previous model). Offline DPO trains on the set's own correct vs known-incorrect solutions of as many problems
   as DPO samples (it executes nothing).
3. The same checkpoint rule for every method: validation (`validation`: all validation problems by default, the
   same sampling seed for every checkpoint) at the start and at the method's checkpoints; the best is kept, the
   start included, so a method that never beats SFT on validation is evaluated as SFT.
4. Evaluation on the held-out test split: `eval_samples` per problem with sampling seed = the training seed, the
   same for SFT and every method, so differences are paired: per problem, the method's pass rate minus SFT's,
   with a bootstrap over problems, overall and for seen and held-out problem families apart.
5. `results.json` (every number the report shows) and the report.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import torch

from codelhf.config import config_to_dict, save_config
from codelhf.datasets import load_problems
from codelhf.errors import UserError
from codelhf.evaluate import evaluate, paired_difference
from codelhf.execution import Executor
from codelhf.generation import make_generator
from codelhf.generation.base import SamplingParams
from codelhf.metrics import read_metrics
from codelhf.policy import TINY, load_policy, resolve_model_path
from codelhf.problems import Problem, spread
from codelhf.report import write_report
from codelhf.samples import save_samples
from codelhf.tiny import TinyRecipe
from codelhf.train.dpo import DPOIterConfig, train_dpo_iter
from codelhf.train.ppo import PPOConfig, train_ppo
from codelhf.train.sft import SFTConfig, train_sft
from codelhf.train.validation import (
    TEMPERATURE,
    ValidationConfig,
    pass_rates,
    sample_and_judge,
    select,
    validate,
)
from codelhf.verdicts import SampleVerdict, load_verdicts, save_verdicts

METHODS = ("sft", "ppo", "ppo_group", "dpo", "dpo_offline", "dpo_iter")
TINY_NOTE = ("The tiny model learned from a noisy corpus on purpose, as models learn from scraped human code: for"
             " {share}% of the training problems its SFT example is the set's known-incorrect near-miss solution"
             " (a flipped comparison, a constant off by one, a swapped operation) instead of the reference. It"
             " therefore makes that class of mistake on problems of every family, a mistake the tests catch: the"
             " room that learning from execution has and imitation has not. The test problems are still held out"
             " (never trained on), and the held-out families occur nowhere in training.")


def _ppo_group_defaults() -> PPOConfig:
    return PPOConfig(advantage="group")


@dataclass
class StudyConfig:
    """Defaults: the tiny model on the bundled problems, sized to finish in minutes on a 2-core CPU. Settings the
    study decides for every method (seed, budget, validation, sandbox) live here only: setting them inside `ppo`,
    `ppo_group` or `dpo_iter` is an error that names the setting to use instead."""

    model: str = TINY
    """Starting model: "tiny" (the bundled SFT model), or a hub name / path to fine-tune on the train split first."""
    problems: str = "bundled"
    """Problem source (`codelhf.datasets.load_problems`) with train/validation/test splits."""
    only: tuple[str, ...] = METHODS
    """Methods to run and compare (SFT is the starting point of the others and is always evaluated)."""
    seeds: tuple[int, ...] = (1,)
    """One run per method and seed (training seed and test sampling seed); evaluation pools the seeds per problem."""
    budget: int = 768
    """Training samples (programs generated and executed) per RL method and seed (12 PPO steps of 64)."""
    backend: str = "docker"
    """Executor backend for training and evaluation: docker (sandboxed) or local (host, weaker isolation)."""
    exec_workers: int | None = None
    generation_backend: str = "auto"
    """Sampler for evaluation: hf, vllm, or auto (vllm when installed and a GPU is present, else hf)."""
    device: str | None = None
    torch_threads: int = 0
    """CPU threads for torch while sampling; 0: half the cores, since the sandbox's workers need the other half (on
    a loaded CPU, torch threads that compete with the sandbox spin and make sampling many times slower). Updates,
    when the sandbox is idle, use every core."""
    train_split: str = "train"
    val_split: str = "validation"
    test_split: str = "test"
    validation: ValidationConfig = field(default_factory=lambda: ValidationConfig(samples=2))
    """Validation of every method's checkpoints (and of SFT, once): all validation problems, 2 samples each (352
    samples with one seed for every checkpoint: the choice between a method's start and end is paired)."""
    checkpoints: int = 1
    """Validated checkpoints of every method after the start, evenly spaced, the last included (steps for PPO,
    rounds for DPO-Iter; one-round DPO has only its end); the best on validation, the start included, is the one
    evaluated on test."""
    test_limit: int | None = None
    """Held-out test problems (even strides over the split; None: all)."""
    eval_samples: int = 5
    """Samples per test problem and seed (n of pass@k)."""
    eval_temperature: float = TEMPERATURE
    top_k: int = 200
    max_new_tokens: int = 160
    ks: tuple[int, ...] = (1, 5)
    """pass@k reported (pass@5 is the paper's APPS metric)."""
    n_at_k: tuple[str, ...] = ("1@5",)
    """n@k with public-test filtering (AlphaCode): of k samples, submit at most n that pass the public tests."""
    bootstrap: int = 2000
    """Bootstrap resamples of problems for every interval."""
    sft_epochs: float = 2.0
    """Epochs of SFT for a non-tiny model (the tiny one ships already trained)."""
    sft_lr: float = 1e-5
    ppo: PPOConfig = field(default_factory=PPOConfig)
    """PPO's own settings (the learned critic with GAE, the paper's PPO)."""
    ppo_group: PPOConfig = field(default_factory=_ppo_group_defaults)
    """The group-baseline arm's own settings (`advantage: group`, no critic; RLOO/GRPO-style)."""
    dpo_iter: DPOIterConfig = field(default_factory=DPOIterConfig)
    """DPO's settings for the three DPO arms (`dpo.*`, pairs, sampling); `rounds` is DPO-Iter's (DPO has one)."""

    def __post_init__(self) -> None:
        unknown = set(self.only) - set(METHODS)
        if unknown:
            raise UserError(f"unknown method(s) {sorted(unknown)} in --only", f"choose from {', '.join(METHODS)}")
        if isinstance(self.validation, dict):
            self.validation = ValidationConfig(**self.validation)
        for name, cls in (("ppo", PPOConfig), ("ppo_group", PPOConfig), ("dpo_iter", DPOIterConfig)):
            if isinstance(getattr(self, name), dict):
                default = StudyConfig.__dataclass_fields__[name].default_factory()
                setattr(self, name, cls(**{**config_to_dict(default, derived=False), **getattr(self, name)}))
            _check_not_overridden(name, getattr(self, name))
        for name in ("ppo", "ppo_group"):
            if self.budget < getattr(self, name).rollout_batch_size:
                raise UserError(f"budget {self.budget} is below one {name} rollout batch "
                                f"({getattr(self, name).rollout_batch_size})",
                                f"raise budget or lower {name}.large_batch_size")
        if self.ppo_group.advantage != "group" or self.ppo.advantage != "gae":
            raise UserError("ppo is the critic (gae) arm and ppo_group the group-baseline arm",
                            "leave ppo.advantage and ppo_group.advantage as they are; use --only to choose arms")


STUDY_OWNED = {
    # nested setting: the study setting that decides it
    "model": "model", "problems": "problems", "train_split": "train_split", "val_split": "val_split",
    "train_limit": "the whole train split", "seed": "seeds", "device": "device", "torch_threads": "torch_threads",
    "update_threads": "torch_threads", "backend": "backend", "exec_workers": "exec_workers",
    "validation": "validation", "total_steps": "budget",
    "eval_every": "checkpoints", "save_every": "checkpoints", "prompts_per_round": "budget",
    "pairs_from": "the arm (dpo_offline uses the dataset's pairs)",
}
"""Settings of the nested configs that the study sets itself, and where the user sets them instead."""


def _check_not_overridden(name: str, nested: Any) -> None:
    """Every setting lives in one place: a nested setting the study decides must keep its default."""
    default = StudyConfig.__dataclass_fields__[name].default_factory()
    for key, owner in STUDY_OWNED.items():
        if hasattr(nested, key) and getattr(nested, key) != getattr(default, key):
            raise UserError(f"{name}.{key} is set, but the study decides it for every method ({owner})",
                            f"set {owner} instead" if owner in StudyConfig.__dataclass_fields__ else
                            f"drop {name}.{key}")
    if name == "dpo_iter":
        for key in ("seed", "device", "torch_threads", "update_threads"):
            if getattr(nested.dpo, key) != getattr(default.dpo, key):
                raise UserError(f"dpo_iter.dpo.{key} is set, but the study decides it for every method",
                                f"set {STUDY_OWNED[key]} instead")


# ---------------------------------------------------------------------------------------------------------------
# Stages
# ---------------------------------------------------------------------------------------------------------------


def _done(path: Path) -> dict[str, Any] | None:
    marker = path / "done.json"
    return json.loads(marker.read_text()) if marker.exists() else None


def _mark_done(path: Path, info: dict[str, Any]) -> dict[str, Any]:
    path.mkdir(parents=True, exist_ok=True)
    (path / "done.json").write_text(json.dumps(info, indent=2))
    return info


def run_sft(config: StudyConfig, run_dir: Path, train: Sequence[Problem]) -> tuple[Path, dict[str, Any]]:
    """The SFT checkpoint every RL method starts from, and how it was made."""
    if config.model == TINY:
        return Path(resolve_model_path(TINY)), {"samples": 0, "wall_s": 0.0,
                                                "note": "the bundled tiny model, SFT on the bundled train split "
                                                        "(shipped with the package; see codelhf/tiny.py)"}
    out = run_dir / "sft"
    if (done := _done(out)) is not None:
        return Path(done["checkpoint"]), done
    t0 = time.time()
    model, tokenizer = load_policy(config.model, device=config.device, dtype=torch.float32)
    sft_config = SFTConfig(epochs=config.sft_epochs, lr=config.sft_lr, backend=config.backend)
    train_sft(model, tokenizer, train, sft_config, out / "model")
    return out / "model", _mark_done(out, {"samples": 0, "wall_s": round(time.time() - t0, 1),
                                           "checkpoint": str(out / "model")})


def validate_sft(config: StudyConfig, sft_path: Path, val: Sequence[Problem], run_dir: Path) -> dict[str, float]:
    """The starting point's validation, measured once and shared by every method (same problems, same seed)."""
    out = run_dir / "sft"
    if (done := _done(out / "validation")) is not None:
        return done
    model, tokenizer = load_policy(str(sft_path), device=config.device, dtype=torch.float32)
    with Executor(backend=config.backend, workers=config.exec_workers) as executor:
        metrics = validate(model, tokenizer, val, executor, config.validation)
    return _mark_done(out / "validation", metrics)


def _curve(run: Path, samples_of: Any) -> list[dict[str, float]]:
    """Validation pass rate over training: (samples seen, wall time, pass rate) from a trainer's metrics.jsonl."""
    return [{"samples": samples_of(r), "time_s": r["time_s"], "pass_rate": r["eval/pass_rate"]}
            for r in read_metrics(run) if "eval/pass_rate" in r]


def run_ppo(config: StudyConfig, arm: str, sft_path: Path, seed: int, out: Path, train: Sequence[Problem],
            val: Sequence[Problem], initial: dict[str, float]) -> dict[str, Any]:
    """PPO (`arm` "ppo") or PPO with the group baseline ("ppo_group") from the SFT model, `budget` samples."""
    if (done := _done(out)) is not None:
        return done
    base: PPOConfig = getattr(config, arm)
    steps = max(1, config.budget // base.rollout_batch_size)
    ppo = replace(base, model=str(sft_path), seed=seed, backend=config.backend, exec_workers=config.exec_workers,
                  total_steps=steps, eval_every=max(1, steps // config.checkpoints), save_every=steps,
                  validation=config.validation, device=config.device, update_threads=os.cpu_count())
    t0 = time.time()
    result = train_ppo(ppo, out, policy=load_policy(str(sft_path), device=config.device, dtype=torch.float32),
                       train_problems=train, val_problems=val, initial_validation=initial)
    batch = ppo.rollout_batch_size
    return _mark_done(out, {
        "checkpoint": str(sft_path) if result.best_step == 0 else str(out / "best"),
        "samples": steps * batch, "wall_s": round(time.time() - t0, 1), "best_step": result.best_step,
        "updates": result.updates, "note": _choice_note(result.best_step, steps, "step"),
        "curve": _curve(out, lambda r: r["step"] * batch)})


def run_dpo(config: StudyConfig, arm: str, sft_path: Path, seed: int, out: Path, train: Sequence[Problem],
            val: Sequence[Problem], initial: dict[str, float]) -> dict[str, Any]:
    """DPO (one round of the SFT model's samples), offline DPO (the dataset's pairs) or DPO-Iter (rounds)."""
    if (done := _done(out)) is not None:
        return done
    base = config.dpo_iter
    rounds = base.rounds if arm == "dpo_iter" else 1
    per_round = max(1, config.budget // (base.samples_per_prompt * rounds))
    dpo_iter = replace(base, model=str(sft_path), seed=seed, rounds=rounds, prompts_per_round=per_round,
                       eval_every=max(1, rounds // config.checkpoints),
                       pairs_from="dataset" if arm == "dpo_offline" else "samples", backend=config.backend,
                       exec_workers=config.exec_workers, validation=config.validation, device=config.device,
                       dpo=replace(base.dpo, seed=seed, update_threads=os.cpu_count() or 0))
    t0 = time.time()
    result = train_dpo_iter(dpo_iter, out, policy=load_policy(str(sft_path), device=config.device,
                                                              dtype=torch.float32),
                            train_problems=train, val_problems=val, initial_validation=initial)
    samples = 0 if arm == "dpo_offline" else rounds * per_round * base.samples_per_prompt
    return _mark_done(out, {
        "checkpoint": str(sft_path) if result.best_round == 0 else str(out / "best"),
        "samples": samples, "wall_s": round(time.time() - t0, 1), "best_step": result.best_round,
        "rounds": result.rounds, "note": _choice_note(result.best_round, rounds, "round"),
        "curve": _curve(out, lambda r: int(r.get("dpo_iter/round", 0)) * samples // rounds)})


def _choice_note(best: int, last: int, unit: str) -> str:
    if best == 0:
        return f"no {unit} beat SFT on validation: the SFT model is evaluated (the same rule for every method)"
    return f"evaluated at its best validated {unit}, {best} of {last}"


def evaluate_checkpoint(config: StudyConfig, checkpoint: Path, problems: Sequence[Problem], executor: Any,
                        out: Path, seed: int, cache: dict) -> tuple[list[SampleVerdict], list[Any]]:
    """Verdicts of one checkpoint's samples on the test problems (kept in `out`), and the executor's stats of
    the batches run now (none when read back). A program another checkpoint already wrote for the same problem
    takes its verdict from `cache` (the same program on the same tests gets the same verdict)."""
    if (out / "verdicts.jsonl").exists():
        return load_verdicts(out / "verdicts.jsonl"), []
    backend = _generation_backend(config)
    generator = make_generator(str(checkpoint), backend=backend, device=config.device,
                               **({"batch_size": 64} if backend == "hf" else {}))
    params = SamplingParams(n=config.eval_samples, temperature=config.eval_temperature, top_k=config.top_k,
                            max_new_tokens=config.max_new_tokens, seed=seed)
    samples, verdicts, stats = sample_and_judge(generator, problems, params, executor,
                                                max(1, 64 // config.eval_samples), cache=cache)
    save_samples(out / "samples.jsonl", samples)
    save_verdicts(out / "verdicts.jsonl", verdicts)
    return verdicts, stats


def _generation_backend(config: StudyConfig) -> str:
    if config.generation_backend != "auto":
        return config.generation_backend
    return "vllm" if torch.cuda.is_available() and importlib.util.find_spec("vllm") is not None else "hf"


# ---------------------------------------------------------------------------------------------------------------
# Numbers: pass@k per method, and paired differences against SFT
# ---------------------------------------------------------------------------------------------------------------


def pool(verdicts_by_seed: Sequence[Sequence[SampleVerdict]], eval_samples: int) -> list[SampleVerdict]:
    """One list of verdicts with the seeds' samples of each problem numbered apart (n = eval_samples × seeds)."""
    return [replace(v, sample_index=s * eval_samples + v.sample_index)
            for s, verdicts in enumerate(verdicts_by_seed) for v in verdicts]


def summarize(problems: Sequence[Problem], verdicts: Sequence[SampleVerdict], config: StudyConfig) -> dict[str, Any]:
    """pass@k and n@k of one method over its pooled samples, with bootstrap intervals over problems."""
    result = evaluate(problems, verdicts, ks=list(config.ks), n_at_k=list(config.n_at_k), seed=0,
                      bootstrap=config.bootstrap)
    summary: dict[str, Any] = {"n_problems": result["n_problems"],
                               "n_samples_per_problem": result["n_samples"] // max(1, result["n_problems"]),
                               "verdicts": result["statuses"]}
    for key, value in result.items():
        if "@" in key and value is not None:
            summary[key] = value
            if key in result["ci"]:
                summary[f"{key}_ci"] = result["ci"][key]
    return summary


def family_groups(problems: Sequence[Problem], train: Sequence[Problem]) -> dict[str, list[str]]:
    """Problem ids by whether their family occurs in the train split ("seen") or not ("held_out"); empty when the
    problems carry no `family` metadata."""
    train_families = {p.metadata.get("family") for p in train} - {None}
    if not train_families or any("family" not in p.metadata for p in problems):
        return {}
    groups: dict[str, list[str]] = {"seen": [], "held_out": []}
    for p in problems:
        groups["seen" if p.metadata["family"] in train_families else "held_out"].append(p.id)
    return {name: ids for name, ids in groups.items() if ids}


# ---------------------------------------------------------------------------------------------------------------
# The whole study
# ---------------------------------------------------------------------------------------------------------------


def run_study(config: StudyConfig, run_dir: str | Path) -> Path:
    """Run (or resume) the study into `run_dir`, write results.json and the report; returns the report's path."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(config, run_dir / "config.yaml")
    torch.set_num_threads(config.torch_threads or max(1, (os.cpu_count() or 2) // 2))
    start = time.time()
    train = load_problems(config.problems, split=config.train_split)
    val = select(load_problems(config.problems, split=config.val_split), config.validation)
    test = spread(load_problems(config.problems, split=config.test_split), config.test_limit)

    resumed = (run_dir / "sft" / "validation" / "done.json").exists()  # earlier stages' time is not counted below
    sft_path, sft_info = run_sft(config, run_dir, train)
    initial = validate_sft(config, sft_path, val, run_dir)
    trained: dict[str, list[dict[str, Any]]] = {"sft": [{**sft_info, "checkpoint": str(sft_path), "curve": []}]}
    for seed in config.seeds:
        for arm in METHODS[1:]:
            if arm in config.only:
                run = run_ppo if arm.startswith("ppo") else run_dpo
                trained.setdefault(arm, []).append(run(config, arm, sft_path, seed, run_dir / f"seed{seed}" / arm,
                                                       train, val, initial))

    verdicts: dict[str, list[list[SampleVerdict]]] = {}
    exec_programs = exec_tests = 0
    eval_start = time.time()
    cache: dict = {}  # (problem, program) → verdict, shared by every checkpoint's evaluation
    with Executor(backend=config.backend, workers=config.exec_workers) as executor:
        for method, runs in trained.items():
            # SFT has one checkpoint, sampled once per seed with that seed: every method pairs with it sample by
            # sample. A method whose chosen checkpoint is SFT itself shares SFT's samples.
            for seed, info in zip(config.seeds, runs * len(config.seeds) if method == "sft" else runs):
                same_as_sft = method != "sft" and info["checkpoint"] == str(sft_path)
                out = run_dir / "eval" / ("sft" if same_as_sft else method) / f"seed{seed}"
                seed_verdicts, stats = evaluate_checkpoint(config, Path(info["checkpoint"]), test, executor, out, seed,
                                                           cache)
                exec_programs += sum(s.programs for s in stats)
                exec_tests += sum(s.tests for s in stats)
                verdicts.setdefault(method, []).append(seed_verdicts)
        workers = executor.n_workers
    eval_s = time.time() - eval_start

    groups = family_groups(test, train)
    sft_rates = pass_rates(pool(verdicts["sft"], config.eval_samples))
    methods: dict[str, Any] = {}
    for method, runs in trained.items():
        pooled = pool(verdicts[method], config.eval_samples)
        entry: dict[str, Any] = {
            "eval": summarize(test, pooled, config),
            "train": {"samples": sum(r["samples"] for r in runs) // len(runs),
                      "wall_s": round(sum(r["wall_s"] for r in runs) / len(runs), 1),
                      "best_steps": [r.get("best_step", 0) for r in runs],
                      "updates": [r["updates"] for r in runs if "updates" in r],
                      "notes": [r["note"] for r in runs if r.get("note")]},
            "curve": runs[0].get("curve", []),
            "groups": {name: summarize([p for p in test if p.id in ids], [v for v in pooled if v.problem_id in ids],
                                       config)["pass@1"] for name, ids in groups.items()},
        }
        if method != "sft":
            rates = pass_rates(pooled)
            entry["paired"] = {name: paired_difference(rates, sft_rates, ids, config.bootstrap)
                               for name, ids in {"all": [p.id for p in test], **groups}.items()}
        methods[method] = entry
        (run_dir / "eval" / method).mkdir(parents=True, exist_ok=True)
        (run_dir / "eval" / method / "summary.json").write_text(json.dumps(entry["eval"], indent=2))
    results = {
        "info": {"model": config.model, "problems": config.problems, "n_test_problems": len(test),
                 "n_val_problems": len(val), "val_samples": config.validation.samples,
                 "groups": {name: len(ids) for name, ids in groups.items()}, "seeds": list(config.seeds),
                 "budget": config.budget, "eval_temperature": config.eval_temperature,
                 "model_note": TINY_NOTE.format(share=round(100 * TinyRecipe().noisy_fraction))
                 if config.model == TINY else "",
                 "date": datetime.now().isoformat(" ", "seconds")},
        "sft_validation": initial,
        "methods": methods,
        "timing": {"total_s": round(time.time() - start, 1), "resumed": resumed, "machine": _machine(),
                   "load_average": round(os.getloadavg()[0], 1), "backend": config.backend, "workers": workers,
                   "exec_programs": exec_programs, "exec_tests": exec_tests, "eval_s": round(eval_s, 1)},
    }
    (run_dir / "results.json").write_text(json.dumps(results, indent=2))
    return write_report(run_dir)


def _machine() -> str:
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{os.cpu_count()} CPU cores, {device}, {platform.machine()}"


def default_run_dir() -> Path:
    return Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S")
