"""The sweep behind PPO's defaults: each setting trains from the same SFT model on the same budget, and is judged
by a paired comparison on the validation split (every problem, the same sampling seed before and after).

For each setting it prints the training pass-rate trend (mean of each quarter of the steps), the validation pass
rate before and after, the paired difference with a 95% bootstrap interval over problems (all, seen families,
held-out families), the mean approx_kl and clip fraction of the updates, and the time. One JSON line per setting
is appended to --out, so a sweep can be resumed or extended and its table rebuilt (`--table`).

    python benchmarks/ppo_sweep.py --out benchmarks/results/ppo_sweep.jsonl \\
        --setting "total_steps=16" --setting "total_steps=16 advantage=group" ...
    python benchmarks/ppo_sweep.py --out benchmarks/results/ppo_sweep.jsonl --table
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from codelhf.config import load_config
from codelhf.datasets import load_problems
from codelhf.evaluate import paired_difference
from codelhf.execution import Executor
from codelhf.metrics import read_metrics
from codelhf.policy import load_policy
from codelhf.train.ppo import PPOConfig, train_ppo
from codelhf.train.validation import ValidationConfig, judge, pass_rates


def rates(model, tokenizer, problems, executor, samples: int, seed: int) -> dict[str, float]:
    return pass_rates(judge(model, tokenizer, problems, executor, ValidationConfig(samples=samples, seed=seed)))


def paired(before: dict[str, float], after: dict[str, float], ids: list[str]) -> list[float]:
    """[mean difference, low, high] in points, 95% bootstrap over problems."""
    difference = paired_difference(after, before, ids)
    return [round(100 * x, 2) for x in (difference["diff"], *difference["ci"])]


def run_setting(model_name: str, setting: str, val_samples: int) -> dict:
    model, tokenizer = load_policy(model_name, device="cpu", dtype=torch.float32)
    train = load_problems("bundled", split="train")
    val = load_problems("bundled", split="validation")
    held_out = {p.id for p in val if p.metadata.get("held_out_family")}
    config = load_config(PPOConfig, None, ["eval_every=0", "save_every=1000", "tensorboard=false",
                                           *setting.split()])
    with Executor(backend=config.backend, workers=config.exec_workers) as executor:
        before = rates(model, tokenizer, val, executor, val_samples, seed=7)
        with tempfile.TemporaryDirectory() as run:
            started = time.time()
            result = train_ppo(config, run, policy=(copy.deepcopy(model), tokenizer), train_problems=train,
                               val_problems=val[:1], show_progress=False)
            seconds = time.time() - started
            trained, _ = load_policy(str(Path(run) / "final"), device="cpu", dtype=torch.float32)
            records = [r for r in read_metrics(run) if "rewards/pass_rate" in r]
        after = rates(trained, tokenizer, val, executor, val_samples, seed=7)
    quarter = max(1, len(records) // 4)
    ids = [p.id for p in val]
    return {
        "setting": setting, "updates": result.updates,
        "train_pass_trend": [round(float(np.mean([r["rewards/pass_rate"] for r in records[i:i + quarter]])), 3)
                             for i in range(0, len(records), quarter)],
        "val_before": round(100 * float(np.mean(list(before.values()))), 2),
        "val_after": round(100 * float(np.mean(list(after.values()))), 2),
        "paired_all": paired(before, after, ids),
        "paired_seen": paired(before, after, [i for i in ids if i not in held_out]),
        "paired_held_out": paired(before, after, [i for i in ids if i in held_out]),
        "approx_kl": float(np.mean([r["policy/approxkl_avg"] for r in records])),
        "clipfrac": float(np.mean([r["policy/clipfrac_avg"] for r in records])),
        "train_s": round(seconds), "step_s": round(float(np.mean([r["time/step"] for r in records])), 1),
    }


def table(rows: list[dict]) -> str:
    lines = [("| setting | updates | train pass rate by quarter | val before → after | Δ all [95%] | Δ seen "
              "| Δ held-out | approx_kl | clipfrac | s/step |"), "|" + "---|" * 10]

    def cell(d: list[float]) -> str:
        return f"{d[0]:+.1f} [{d[1]:+.1f}, {d[2]:+.1f}]"

    for r in rows:
        lines.append(f"| {r['setting']} | {r['updates']} | {' → '.join(f'{x:.2f}' for x in r['train_pass_trend'])} "
                     f"| {r['val_before']:.1f} → {r['val_after']:.1f} | {cell(r['paired_all'])} "
                     f"| {cell(r['paired_seen'])} | {cell(r['paired_held_out'])} | {r['approx_kl']:.1e} "
                     f"| {r['clipfrac']:.4f} | {r['step_s']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="PPO settings judged by paired validation against SFT")
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--setting", action="append", default=[], help="space-separated PPOConfig key=value")
    parser.add_argument("--val-samples", type=int, default=4, help="samples per validation problem")
    parser.add_argument("--out", required=True, help="JSONL of results (appended)")
    parser.add_argument("--table", action="store_true", help="print the table of --out and stop")
    args = parser.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    for setting in args.setting:
        row = run_setting(args.model, setting, args.val_samples)
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("a") as f:
            f.write(json.dumps(row) + "\n")
        print(json.dumps(row), flush=True)
    rows = [json.loads(line) for line in out.read_text().splitlines() if line.strip()] if out.exists() else []
    print(table(rows))


if __name__ == "__main__":
    main()
