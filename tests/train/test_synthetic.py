"""The paper's synthetic case: with a fixed seed, DPO moves probability onto responses no pair covers; PPO does not."""

from __future__ import annotations

import pytest
import torch

from codelhf.train.synthetic import SyntheticConfig, format_table, main, run_synthetic


@pytest.fixture(scope="module")
def result():
    torch.set_num_threads(1)
    return run_synthetic(SyntheticConfig(seed=0))


def test_reference_matches_the_data_distribution(result):
    assert result.uncovered_mass(result.reference) == pytest.approx(0.2, abs=0.01)
    assert result.reference.sum(-1).tolist() == pytest.approx([1.0] * 8)


def test_dpo_raises_uncovered_responses_and_ppo_does_not(result):
    reference = result.uncovered_mass(result.reference)
    assert result.uncovered_mass(result.dpo) > reference + 0.15
    assert result.uncovered_mass(result.ppo) <= reference
    # the same in single cells: some response that no pair covers for its prompt gains under DPO, none under PPO
    uncovered = ~result.covered
    assert (result.dpo - result.reference)[uncovered].max() > 0.2
    assert (result.ppo - result.reference)[uncovered].max() <= 0.0


def test_ppo_prefers_the_chosen_response_of_every_pair(result):
    """PPO's optimum is π ∝ π_ref·exp(r/β): on every prompt the chosen response beats the rejected one."""
    for x, chosen, rejected in [(i, i % 4, (i + 1) % 4) for i in range(8)]:
        assert result.ppo[x, chosen] > result.ppo[x, rejected]


def test_command_prints_both_tables(capsys):
    main(["--seed", "0"])
    out = capsys.readouterr().out
    assert "DPO: π(y | x)" in out and "PPO: π(y | x)" in out and "REFERENCE" in out
    assert out.count("mean uncovered mass per prompt") == 3


def test_format_table_marks_covered_cells(result):
    text = format_table("T", result.reference, result.covered)
    row = next(line for line in text.splitlines() if line.strip().startswith("x0"))
    assert row.count("*") == 2
