"""The study: SFT vs PPO vs DPO vs DPO-Iter on one problem set, with the same sampling budget, and a report.

    codelhf study                      # the tiny model on the bundled problems, on a CPU, in minutes
    codelhf study --model PATH --problems DATA --set budget=20000

Stages, each writing into the run directory and skipped when its output is already there (so a run resumes):
1. SFT: the tiny model is built by SFT on the bundled train split (cached); any other model is fine-tuned here.
2. From that one SFT checkpoint, per seed: PPO (the paper's factors on), DPO (one round of pairs labelled by
   executing the SFT model's samples, reference = SFT) and DPO-Iter (the same budget in several rounds, each
   round's reference the previous model). Every RL method gets `budget` training samples (programs generated and
   executed): PPO in steps of its rollout batch, DPO in one round, DPO-Iter split over its rounds.
3. Evaluation on the held-out test split: `eval_samples` per problem, pass@k and n@k with bootstrap intervals.
4. `results.json` (every number the report shows, read from the evaluation and metrics files) and the report.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from codelhf.errors import UserError
from codelhf.problems import Problem
from codelhf.train.dpo import DPOIterConfig, train_dpo_iter
from codelhf.train.ppo import PPOConfig, spread, train_ppo

METHODS = ("sft", "ppo", "dpo", "dpo_iter")


@dataclass
class StudyConfig:
    """Defaults: the tiny model on the bundled problems, sized to finish in minutes on a 2-core CPU."""

    model: str = "tiny"
    """Starting model: "tiny" (built by SFT on the bundled train split), or a hub name / path to fine-tune."""
    problems: str = "bundled"
    """Problem source (`codelhf.datasets.load_problems`) with train/validation/test splits."""
    only: tuple[str, ...] = METHODS
    """Methods to run and compare (SFT is the starting point of the others and is always evaluated)."""
    seeds: tuple[int, ...] = (1,)
    """One RL run per method and seed; evaluation pools the seeds' samples per problem."""
    budget: int = 512
    """Training samples (programs generated and executed) per RL method and seed."""
    backend: str = "docker"
    """Executor backend for training and evaluation: docker (sandboxed) or local (host, weaker isolation)."""
    exec_workers: int | None = None
    generation_backend: str = "auto"
    """Sampler for evaluation: hf, vllm, or auto (vllm when installed and a GPU is present, else hf)."""
    device: str | None = None
    torch_threads: int = 0
    """CPU threads for torch; 0: half the cores, since the sandbox's workers need the other half (on a loaded
    CPU, torch threads that compete with the sandbox spin and make sampling many times slower)."""
    train_split: str = "train"
    val_split: str = "validation"
    test_split: str = "test"
    val_limit: int | None = 32
    """Validation problems for learning curves and best-checkpoint choice (even strides over the split)."""
    val_samples: int = 4
    """Samples per validation problem, the same for every method so their curves compare."""
    val_temperature: float = 1.0
    test_limit: int | None = 120
    """Held-out test problems (even strides over the split; None: all)."""
    eval_samples: int = 10
    """Samples per test problem (n of pass@k)."""
    eval_temperature: float = 0.8
    top_k: int = 200
    max_new_tokens: int = 160
    ks: tuple[int, ...] = (1, 5, 10)
    n_at_k: tuple[str, ...] = ("1@10", "5@10")
    """n@k with public-test filtering (AlphaCode): of k samples, submit at most n that pass the public tests."""
    dpo_iter_rounds: int = 3
    sft_epochs: float = 2.0
    """Epochs of SFT for a non-tiny model (the tiny one is built with its own recipe)."""
    sft_lr: float = 1e-5
    ppo: PPOConfig = field(default_factory=PPOConfig)
    """PPO's own settings (budget, seed, model and problems are set by the study)."""
    dpo_iter: DPOIterConfig = field(default_factory=DPOIterConfig)
    """DPO's and DPO-Iter's settings (rounds, prompts per round, seed, model are set by the study)."""

    def __post_init__(self) -> None:
        unknown = set(self.only) - set(METHODS)
        if unknown:
            raise UserError(f"unknown method(s) {sorted(unknown)} in --only", f"choose from {', '.join(METHODS)}")
        if isinstance(self.ppo, dict):
            self.ppo = PPOConfig(**self.ppo)
        if isinstance(self.dpo_iter, dict):
            self.dpo_iter = DPOIterConfig(**self.dpo_iter)
        if self.budget < self.ppo.rollout_batch_size:
            raise UserError(f"budget {self.budget} is below one PPO rollout batch ({self.ppo.rollout_batch_size})",
                            "raise budget or lower ppo.large_batch_size")


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
    if config.model == "tiny":
        from codelhf.tiny import build_tiny

        path = build_tiny()
        build = dict(line.split(": ", 1) for line in (path / "BUILD.txt").read_text().splitlines() if ": " in line)
        info = {"samples": 0, "wall_s": float(build.get("build_seconds", 0.0)), "checkpoint": str(path),
                "note": "the tiny model, built by SFT on the bundled train split (its build time; cached since)"}
        return path, info
    out = run_dir / "sft"
    if (done := _done(out)) is not None:
        return Path(done["checkpoint"]), done
    from codelhf.policy import load_policy
    from codelhf.train.sft import SFTConfig, train_sft

    t0 = time.time()
    model, tokenizer = load_policy(config.model, device=config.device)
    sft_config = SFTConfig(epochs=config.sft_epochs, lr=config.sft_lr, executor=config.backend)
    train_sft(model, tokenizer, train, sft_config, out / "model")
    return out / "model", _mark_done(out, {"samples": 0, "wall_s": round(time.time() - t0, 1),
                                           "checkpoint": str(out / "model")})


def _curve(metrics_dir: Path, samples_of: Any) -> list[dict[str, float]]:
    """Validation pass rate over training: (samples seen, wall time, pass rate) from a trainer's metrics.jsonl."""
    from codelhf.metrics import read_metrics

    points = []
    for record in read_metrics(metrics_dir):
        if "eval/pass_rate" in record:
            points.append({"samples": samples_of(record), "time_s": record["time_s"],
                           "pass_rate": record["eval/pass_rate"]})
    return points


def run_ppo(config: StudyConfig, sft_path: Path, seed: int, out: Path, train: Sequence[Problem],
            val: Sequence[Problem]) -> dict[str, Any]:
    if (done := _done(out)) is not None:
        return done
    from codelhf.policy import load_policy

    steps = max(1, config.budget // config.ppo.rollout_batch_size)
    ppo = replace(config.ppo, model=str(sft_path), seed=seed, backend=config.backend, exec_workers=config.exec_workers,
                  total_steps=steps, eval_every=max(1, steps // 2), save_every=steps, val_samples=config.val_samples,
                  val_temperature=config.val_temperature)
    t0 = time.time()
    result = train_ppo(ppo, out, policy=load_policy(str(sft_path), device=config.device), train_problems=train,
                       val_problems=val)
    final = out / "best" if (out / "best").exists() else out / "final"
    batch = ppo.rollout_batch_size
    note = (f"evaluated at its best validation checkpoint, step {result.best_step} of {steps}"
            + (" (the SFT model itself: no step beat it on validation)" if result.best_step == 0 else ""))
    return _mark_done(out, {
        "checkpoint": str(final), "samples": ppo.total_steps * batch, "wall_s": round(time.time() - t0, 1),
        "best_step": result.best_step, "note": note, "curve": _curve(out, lambda r: r["step"] * batch)})


def run_dpo_iter(config: StudyConfig, sft_path: Path, seed: int, out: Path, train: Sequence[Problem],
                 val: Sequence[Problem], rounds: int) -> dict[str, Any]:
    """DPO is one round (all the budget labelled from the SFT model's samples); DPO-Iter splits it into rounds."""
    if (done := _done(out)) is not None:
        return done
    from codelhf.policy import load_policy

    per_round = max(1, config.budget // (config.dpo_iter.samples_per_prompt * rounds))
    dpo_iter = replace(config.dpo_iter, model=str(sft_path), seed=seed, rounds=rounds, prompts_per_round=per_round,
                       backend=config.backend, exec_workers=config.exec_workers, val_samples=config.val_samples,
                       val_temperature=config.val_temperature, dpo=replace(config.dpo_iter.dpo, seed=seed))
    t0 = time.time()
    result = train_dpo_iter(dpo_iter, out, policy=load_policy(str(sft_path), device=config.device),
                            train_problems=train, val_problems=val)
    per_round_samples = per_round * dpo_iter.samples_per_prompt
    return _mark_done(out, {
        "checkpoint": str(out / "final"), "samples": rounds * per_round_samples, "wall_s": round(time.time() - t0, 1),
        "rounds": result.rounds,
        "curve": _curve(out, lambda r: int(r.get("dpo_iter/round", 0)) * per_round_samples)})


def evaluate_checkpoint(config: StudyConfig, checkpoint: Path, problems: Sequence[Problem], executor: Any,
                        out: Path, seed: int) -> tuple[list[Any], Any]:
    """Verdicts of one checkpoint's samples on the test problems (samples and verdicts cached in `out`), and the
    execution stats (None when read back from the cache)."""
    from codelhf.samples import save_samples
    from codelhf.verdicts import load_verdicts, save_verdicts

    if (out / "verdicts.jsonl").exists():
        return load_verdicts(out / "verdicts.jsonl"), None
    from codelhf.generation import make_generator
    from codelhf.generation.base import SamplingParams
    from codelhf.generation.sampling import sample_problems

    generator = make_generator(str(checkpoint), backend=_generation_backend(config), device=config.device)
    params = SamplingParams(n=config.eval_samples, temperature=config.eval_temperature, top_k=config.top_k,
                            max_new_tokens=config.max_new_tokens, seed=seed)
    samples = sample_problems(generator, problems, params)
    future = executor.submit(problems, samples)
    verdicts = executor.wait(future)
    save_samples(out / "samples.jsonl", samples)
    save_verdicts(out / "verdicts.jsonl", verdicts)
    return verdicts, future.stats


def _generation_backend(config: StudyConfig) -> str:
    if config.generation_backend != "auto":
        return config.generation_backend
    import importlib.util

    import torch

    return "vllm" if torch.cuda.is_available() and importlib.util.find_spec("vllm") is not None else "hf"


def summarize(problems: Sequence[Problem], verdicts_by_seed: list[list[Any]], config: StudyConfig) -> dict[str, Any]:
    """pass@k and n@k of one method, pooling the seeds' samples of each problem (n = eval_samples × seeds)."""
    from codelhf.evaluate import evaluate

    pooled = []
    for s, verdicts in enumerate(verdicts_by_seed):
        pooled += [replace(v, sample_index=s * config.eval_samples + v.sample_index) for v in verdicts]
    result = evaluate(problems, pooled, ks=list(config.ks), n_at_k=list(config.n_at_k), seed=0)
    summary: dict[str, Any] = {"n_problems": result["n_problems"],
                               "n_samples_per_problem": config.eval_samples * len(verdicts_by_seed),
                               "verdicts": result["statuses"]}
    for key, value in result.items():
        if "@" in key and value is not None:
            summary[key] = value
            if key in result["ci"]:
                summary[f"{key}_ci"] = result["ci"][key]
    return summary


# ---------------------------------------------------------------------------------------------------------------
# The whole study
# ---------------------------------------------------------------------------------------------------------------


def run_study(config: StudyConfig, run_dir: str | Path) -> Path:
    """Run (or resume) the study into `run_dir`, write results.json and the report; returns the report's path."""
    import torch

    from codelhf.config import save_config
    from codelhf.datasets import load_problems
    from codelhf.execution import Executor
    from codelhf.report import write_report

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(config, run_dir / "config.yaml")
    torch.set_num_threads(config.torch_threads or max(1, (os.cpu_count() or 2) // 2))
    start = time.time()
    train = load_problems(config.problems, split=config.train_split)
    val = spread(load_problems(config.problems, split=config.val_split), config.val_limit)
    test = spread(load_problems(config.problems, split=config.test_split), config.test_limit)

    sft_path, sft_info = run_sft(config, run_dir, train)
    trained: dict[str, list[dict[str, Any]]] = {"sft": [{**sft_info, "checkpoint": str(sft_path)}]}
    for seed in config.seeds:
        if "ppo" in config.only:
            trained.setdefault("ppo", []).append(run_ppo(config, sft_path, seed, run_dir / f"seed{seed}" / "ppo",
                                                         train, val))
        if "dpo" in config.only:
            trained.setdefault("dpo", []).append(run_dpo_iter(config, sft_path, seed, run_dir / f"seed{seed}" / "dpo",
                                                              train, val, rounds=1))
        if "dpo_iter" in config.only:
            trained.setdefault("dpo_iter", []).append(run_dpo_iter(
                config, sft_path, seed, run_dir / f"seed{seed}" / "dpo_iter", train, val, config.dpo_iter_rounds))

    methods: dict[str, Any] = {}
    exec_programs = exec_tests = 0
    exec_seconds = 0.0
    with Executor(backend=config.backend, workers=config.exec_workers) as executor:
        for method, runs in trained.items():
            verdicts_by_seed = []
            # SFT has one checkpoint; it is sampled once per seed so every method pools the same number of samples
            for seed, info in zip(config.seeds, runs * len(config.seeds) if method == "sft" else runs):
                verdicts, stats = evaluate_checkpoint(config, Path(info["checkpoint"]), test, executor,
                                                      run_dir / "eval" / method / f"seed{seed}", seed)
                if stats is not None:  # executed now, not read back from an earlier run
                    exec_programs += stats.programs
                    exec_tests += stats.tests
                    exec_seconds += stats.seconds
                verdicts_by_seed.append(verdicts)
            summary = summarize(test, verdicts_by_seed, config)
            (run_dir / "eval" / method / "summary.json").write_text(json.dumps(summary, indent=2))
            methods[method] = {
                "eval": summary,
                "train": {"samples": sum(r["samples"] for r in runs) // len(runs),
                          "wall_s": round(sum(r["wall_s"] for r in runs) / len(runs), 1),
                          "notes": [r["note"] for r in runs if r.get("note")]},
                "curve": runs[0].get("curve", []),
            }
        workers = executor.n_workers
    results = {
        "info": {"model": config.model, "problems": config.problems, "n_test_problems": len(test),
                 "seeds": list(config.seeds), "budget": config.budget,
                 "date": datetime.now().isoformat(" ", "seconds")},
        "methods": methods,
        "timing": {"total_s": round(time.time() - start, 1), "machine": _machine(),
                   "backend": config.backend, "workers": workers,
                   "exec_programs": exec_programs, "exec_tests": exec_tests,
                   "exec_programs_per_s": exec_programs / max(exec_seconds, 1e-9),
                   "exec_tests_per_s": exec_tests / max(exec_seconds, 1e-9)},
    }
    (run_dir / "results.json").write_text(json.dumps(results, indent=2))
    return write_report(run_dir)


def _machine() -> str:
    import platform

    import torch

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{os.cpu_count()} CPU cores, {device}, {platform.machine()}"


def default_run_dir() -> Path:
    return Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S")
