"""The PPO factor ablation: its variants are cumulative, plain PPO has both normalisations off, and the table
reports the optimizer updates each variant made on the same sample budget."""

from __future__ import annotations

import json

import pytest

from codelhf.ablation import VARIANTS
from codelhf.config import load_config
from codelhf.train.ppo import PPOConfig


def test_plain_ppo_has_every_factor_off_and_each_row_adds_one() -> None:
    configs = [load_config(PPOConfig, None, switches) for switches in VARIANTS.values()]
    factors = [(c.whiten_advantages, c.value_norm, c.large_batch, c.ref_ema) for c in configs]
    assert factors == [(False, False, False, False), (True, True, False, False), (True, True, True, False),
                       (True, True, True, True)]


@pytest.mark.docker
@pytest.mark.timeout(900)
def test_ablation_command_reports_optimizer_updates_per_variant(tmp_path) -> None:
    """A very small budget on a few bundled problems: 32 samples are 4 steps of 8 (2 minibatches each: 8 updates)
    without the large batch, and 2 steps of 16 (4 updates) with it."""
    from typer.testing import CliRunner

    from codelhf.cli import app

    settings = ["train_limit=4", "validation.limit=3", "validation.samples=1", "validation.max_new_tokens=48",
                "batch_size=8", "large_batch_size=16", "samples_per_prompt=2", "num_minibatches=2",
                "max_new_tokens=48", "tensorboard=false", "exec_workers=2", "torch_threads=1"]
    done = CliRunner().invoke(app, ["ablation", "--out", str(tmp_path), "--samples", "32",
                                    *[a for s in settings for a in ("--set", s)]])
    assert done.exit_code == 0, done.output
    rows = json.loads((tmp_path / "ablation.json").read_text())["rows"]
    assert [r["variant"] for r in rows] == list(VARIANTS)
    assert [(r["steps"], r["rollout_batch_size"], r["updates"]) for r in rows] == [(4, 8, 8), (4, 8, 8), (2, 16, 4),
                                                                                   (2, 16, 4)]
    table = (tmp_path / "ablation.md").read_text()
    assert "optimizer updates" in table and "| PPO, plain | 4 × 8 | 8 |" in table
