"""The paper's PPO ablation, on any policy and problem set: plain PPO, then advantage normalisation, a large batch
and the reference EMA switched on one after the other (Xu et al. 2024, the PPO-factors table).

Every variant gets the same budget of *training samples* (generated and executed programs), so "+ large batch"
takes fewer, larger steps rather than more compute: the table reports each variant's number of optimizer updates
beside its score, because a fixed sample budget in 4× larger batches also means 4× fewer updates. "PPO, plain" has
both normalisations off (advantages and value targets); "+ advantage norm" turns both on. The best checkpoint of
each variant (chosen on the validation split by the rule every trainer uses, `codelhf.train.validation`) is then
scored on the test split with the same sampling settings.

    codelhf ablation --out runs/ablation --samples 1024 [--config FILE] [--set key=value ...]
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from codelhf.config import load_config
from codelhf.datasets import load_problems
from codelhf.execution import Executor
from codelhf.policy import load_policy
from codelhf.problems import Problem
from codelhf.train.ppo import PPOConfig, train_ppo
from codelhf.train.validation import select, validate

VARIANTS: dict[str, list[str]] = {
    "PPO, plain": ["whiten_advantages=false", "value_norm=false", "large_batch=false", "ref_ema=false"],
    "+ advantage norm": ["whiten_advantages=true", "value_norm=true", "large_batch=false", "ref_ema=false"],
    "+ large batch": ["whiten_advantages=true", "value_norm=true", "large_batch=true", "ref_ema=false"],
    "+ reference EMA": ["whiten_advantages=true", "value_norm=true", "large_batch=true", "ref_ema=true"],
}
"""Cumulative, as in the paper's table; each list is `key=value` overrides of `PPOConfig`."""

PAPER_TABLE = """| variant (paper, CodeLlama-34B) | APPS intro pass@5 | inter | comp | CC pass@10 | @100 | @1k |
|---|---|---|---|---|---|---|
| SFT | 38.6 | 10.1 | 3.9 | 0.9 | 4.3 | 12.0 |
| PPO, plain | 18.0 | 2.4 | 1.1 | 4.3 | 6.0 | 7.7 |
| + advantage norm | 38.1 | 11.4 | 4.6 | 6.8 | 9.4 | 15.4 |
| + large batch | 42.3 | 14.6 | 7.5 | 5.1 | 12.8 | 19.6 |
| + reference EMA | 44.4 | 18.0 | 9.1 | 6.8 | 13.7 | 21.4 |"""


@dataclass
class AblationRow:
    variant: str
    steps: int
    rollout_batch_size: int
    updates: int
    """Optimizer updates: steps × minibatches × epochs."""
    val_start: float
    """Validation metric before training (the SFT model)."""
    val_best: float
    best_step: int
    val_final: float
    test_best: float
    """Test-split metric of the variant's best (validation-chosen) checkpoint."""
    minutes: float


def run_ablation(out_dir: str | Path, samples: int, config_file: str | None = None, overrides: Sequence[str] = (),
                 show_progress: bool = True) -> list[AblationRow]:
    """Train the four variants into `out_dir/<n>-<variant>/` and write `ablation.md` and `ablation.json`."""
    out = Path(out_dir)
    rows: list[AblationRow] = []
    test_problems: list[Problem] | None = None
    sft_test: float | None = None
    for n, (name, switches) in enumerate(VARIANTS.items()):
        config = load_config(PPOConfig, config_file, [*overrides, *switches])
        config.total_steps = max(1, samples // config.rollout_batch_size)
        config.eval_every = max(1, config.total_steps // 4)
        config.save_every = config.total_steps
        run_dir = out / f"{n}-{name.strip('+ ').replace(' ', '-').replace(',', '')}"
        started = time.perf_counter()
        result = train_ppo(config, run_dir, show_progress=show_progress)
        minutes = (time.perf_counter() - started) / 60

        # the variant's best checkpoint (and, once, the SFT model) on the test split, as the paper reports
        if test_problems is None:
            test_problems = select(load_problems(config.problems, split="test"), config.validation)
        with Executor(backend=config.backend, workers=config.exec_workers) as executor:
            if sft_test is None:
                sft_test = test_score(config.model, config, executor, test_problems)
            test_best = test_score(str(run_dir / "best"), config, executor, test_problems)
        rows.append(AblationRow(variant=name, steps=config.total_steps, rollout_batch_size=config.rollout_batch_size,
                                updates=result.updates, val_start=result.initial["eval/pass_rate"],
                                val_best=result.best, best_step=result.best_step,
                                val_final=result.history[-1][1]["eval/pass_rate"], test_best=test_best,
                                minutes=round(minutes, 1)))
        write_table(out, rows, samples, sft_test)
    return rows


def test_score(model_name: str, config: PPOConfig, executor: Executor, problems: Sequence[Problem]) -> float:
    """Pass rate of a saved policy on `problems`, sampled as validation samples them."""
    model, tokenizer = load_policy(model_name, device=config.device, dtype=torch.float32)
    return validate(model, tokenizer, problems, executor, config.validation)["eval/pass_rate"]


def write_table(out: Path, rows: Sequence[AblationRow], samples: int, sft_test: float | None) -> str:
    """`ablation.md` (our table above the paper's) and `ablation.json`; returns the markdown."""
    lines = [(f"PPO factor ablation: {samples} training samples per variant; validation and test pass rate "
              "(best checkpoint chosen on validation, the start included)."), "",
             ("| variant | steps × batch | optimizer updates | val start | val best (step) | val final "
             "| test (best ckpt) | min |"),
             "|---|---|---|---|---|---|---|---|"]
    if sft_test is not None and rows:
        lines.append(f"| SFT | – | 0 | {rows[0].val_start:.3f} | – | – | {sft_test:.3f} | – |")
    for r in rows:
        lines.append(f"| {r.variant} | {r.steps} × {r.rollout_batch_size} | {r.updates} | {r.val_start:.3f} "
                     f"| {r.val_best:.3f} ({r.best_step}) | {r.val_final:.3f} | {r.test_best:.3f} | {r.minutes} |")
    text = "\n".join(lines) + "\n\nThe paper's table (Xu et al. 2024):\n\n" + PAPER_TABLE + "\n"
    out.mkdir(parents=True, exist_ok=True)
    (out / "ablation.md").write_text(text)
    (out / "ablation.json").write_text(json.dumps({"samples": samples, "metric": "pass_rate", "sft_test": sft_test,
                                                   "rows": [r.__dict__ for r in rows]}, indent=2))
    return text
