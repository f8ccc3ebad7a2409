"""Time per PPO step, split into generation, execution, training and waiting, with and without the overlap.

With the overlap, chunk i of a rollout batch is in the sandbox while chunk i+1 is generated, so the trainer only
waits for the last chunk's verdicts; without it, it waits for every chunk. Where generation and execution share
the same cores (a CPU-only machine), they slow each other down and the gain is smaller than on a GPU machine,
where generation runs on the GPU and execution on the CPUs.

    python benchmarks/ppo_step.py [--model tiny] [--problems bundled] [--steps 4] [--set key=value ...]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from codelhf.config import load_config
from codelhf.metrics import read_metrics
from codelhf.train.ppo import PPOConfig, train_ppo

PARTS = ["generation", "execution", "training", "waiting", "step"]


def time_steps(config: PPOConfig, run_dir: Path) -> dict[str, float]:
    """Median seconds per step of each part (first step excluded as warm-up when there are several)."""
    train_ppo(config, run_dir, show_progress=False)
    records = [r for r in read_metrics(run_dir) if "time/step" in r]
    records = records[1:] if len(records) > 1 else records
    return {part: statistics.median(r[f"time/{part}"] for r in records) for part in PARTS}


def main() -> None:
    parser = argparse.ArgumentParser(description="PPO step time with and without generation/execution overlap")
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--problems", default="bundled")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="PPOConfig key=value")
    args = parser.parse_args()

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for overlap in (False, True):
            config = load_config(PPOConfig, None, [*args.overrides, f"overlap={overlap}", f"total_steps={args.steps}",
                                                   "eval_every=0", f"save_every={args.steps}", "tensorboard=false"])
            config.model, config.problems = args.model, args.problems
            results[overlap] = time_steps(config, Path(tmp) / f"overlap-{overlap}")

    print(f"PPO step on {args.model} / {args.problems}: {config.rollout_batch_size} samples per step in chunks of "
          f"{config.generation_batch_size}, backend {config.backend}; median seconds per step over {args.steps} steps")
    print(f"{'part':<12}{'sequential':>12}{'overlapped':>12}")
    for part in PARTS:
        print(f"{part:<12}{results[False][part]:>12.2f}{results[True][part]:>12.2f}")
    for overlap, name in ((False, "sequential"), (True, "overlapped")):
        print(f"waiting share, {name}: {results[overlap]['waiting'] / results[overlap]['step']:.1%}")
    print(f"step time ratio sequential / overlapped: {results[False]['step'] / results[True]['step']:.2f}×")


if __name__ == "__main__":
    main()
