"""The paper's synthetic case: with a fixed seed, DPO moves probability onto responses no pair covers; PPO does not."""

from __future__ import annotations

import pytest
import torch

from codelhf.train.synthetic import SyntheticConfig, format_table, report, run_synthetic


@pytest.fixture(scope="module")
def result():
    torch.set_num_threads(1)
    return run_synthetic(SyntheticConfig(seed=0))


def test_reference_puts_almost_no_mass_on_uncovered_responses(result):
    assert result.uncovered_mass(result.reference) == pytest.approx(0.02, abs=0.005)
    assert result.reference.sum(-1).tolist() == pytest.approx([1.0] * 8)


def test_dpo_raises_uncovered_responses_and_sampled_ppo_does_not(result):
    """Measured: DPO moves most of the mass of some prompts onto responses no pair mentions; PPO, trained on its
    own samples, almost never samples them and ends with no more mass there than the reference had."""
    reference = result.uncovered_mass(result.reference)
    assert result.uncovered_mass(result.dpo) > reference + 0.2
    assert result.uncovered_mass(result.ppo) <= reference
    assert result.ppo_uncovered_samples < 0.01
    # the same in single cells: some response that no pair covers for its prompt gains under DPO, none under PPO
    uncovered = ~result.covered
    assert (result.dpo - result.reference)[uncovered].max() > 0.2
    assert (result.ppo - result.reference)[uncovered].max() <= 0.0


def test_ppo_prefers_the_chosen_response_of_every_pair(result):
    """PPO's optimum is π ∝ π_ref·exp(r/β): on every prompt the chosen response beats the rejected one."""
    for x, chosen, rejected in [(i, i % 4, (i + 1) % 4) for i in range(8)]:
        assert result.ppo[x, chosen] > result.ppo[x, rejected]


def test_command_prints_the_three_tables():
    from typer.testing import CliRunner

    from codelhf.cli import app

    done = CliRunner().invoke(app, ["synthetic", "--seed", "0"])
    assert done.exit_code == 0, done.output
    assert "DPO: π(y | x)" in done.output and "PPO: π(y | x)" in done.output and "REFERENCE" in done.output
    assert done.output.count("mean uncovered mass per prompt") == 3


def test_report_matches_the_result(result):
    text = report(result)
    assert f"{result.uncovered_mass(result.dpo):.3f}" in text


def test_format_table_marks_covered_cells(result):
    text = format_table("T", result.reference, result.covered)
    row = next(line for line in text.splitlines() if line.strip().startswith("x0"))
    assert row.count("*") == 2
