"""OpenRLHF's reward-function file: found by `codelhf integrations path openrlhf`, loaded by its path as OpenRLHF
loads it, and called per sample with queries (prompt + response), prompts and labels."""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.docker


def load_reward_func(command: str):
    """As OpenRLHF does with `--reward.remote_url "$(COMMAND)"`: run the README's command for the path, import
    the file by path, take reward_func."""
    args = shlex.split(re.search(r'--reward\.remote_url "\$\((.*?)\)"', command).group(1))
    assert args[0] == "codelhf"
    path = subprocess.run([str(Path(sys.executable).with_name("codelhf")), *args[1:]], capture_output=True,
                          text=True, check=True).stdout.strip()
    assert path.endswith("openrlhf.py")
    spec = importlib.util.spec_from_file_location("reward_func_module", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.reward_func


def test_the_readme_reward_file_per_sample_and_batched(default_scorer, readme_snippet, cases):
    reward_func = load_reward_func(readme_snippet("bash", 1))
    prompt = "<|user|>Add two numbers.<|assistant|>"
    expected = []
    for completion, problem, reward, rate, _ in cases.CASES:
        label = problem if isinstance(problem, str) else json.dumps(problem)
        one = reward_func([prompt + completion], [prompt], [label])  # per sample, as the vLLM actors call it
        assert set(one) == {"rewards", "scores", "extra_logs"}
        assert isinstance(one["rewards"], torch.Tensor) and one["rewards"].tolist() == [reward]
        assert one["scores"].tolist() == [reward] and one["extra_logs"]["pass_rate"].tolist() == [rate]
        expected.append(reward)
    queries = [prompt + c[0] for c in cases.CASES]
    labels = [c[1] if isinstance(c[1], str) else json.dumps(c[1]) for c in cases.CASES]
    assert reward_func(queries, [prompt] * len(queries), labels)["rewards"].tolist() == expected


def test_a_sandbox_error_raises_so_openrlhf_leaves_no_reward(default_scorer, cases):
    from codelhf.integrations.openrlhf import SandboxError, reward_func

    with pytest.raises(SandboxError, match="system error on sample"):
        reward_func(["print(1)"], [""], [json.dumps(cases.SYSTEM_ERROR_PROBLEM)])
