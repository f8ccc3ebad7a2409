"""codelhf's sandbox as the reward of other trainers: TRL, verl, OpenRLHF, and an HTTP service for any of them.

One scorer (`scorer.py`) turns a completion and a problem into a reward and a verdict; each adapter only speaks
its trainer's calling convention:

| trainer  | what to give it                                                      | module      |
|----------|----------------------------------------------------------------------|-------------|
| TRL      | `reward_funcs=code_reward` (or `code_reward_async`, `CodeReward(...)`) | `trl.py`    |
| verl     | `reward.custom_reward_function.path=pkg://codelhf.integrations.verl` | `verl.py`   |
| OpenRLHF | `--reward.remote_url $(codelhf integrations path openrlhf)`          | `openrlhf.py` |
| any      | `codelhf serve` (OpenRLHF's remote-reward JSON, and /score)          | `server.py` |
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from codelhf.errors import UserError

ADAPTERS = {"trl": "codelhf.integrations.trl", "verl": "codelhf.integrations.verl",
            "openrlhf": "codelhf.integrations.openrlhf"}


def adapter_path(trainer: str) -> Path:
    """The adapter's source file, for trainers that load a reward function by path (OpenRLHF, verl)."""
    if trainer not in ADAPTERS:
        raise UserError(f"no adapter for {trainer!r}", f"adapters: {', '.join(ADAPTERS)}")
    spec = importlib.util.find_spec(ADAPTERS[trainer])
    assert spec is not None and spec.origin is not None
    return Path(spec.origin)
