"""Metrics: TensorBoard by default, wandb when asked, and always a `metrics.jsonl` the report reads back.

Names follow TRL's where TRL has one (`loss`, `grad_norm`, `objective/kl`, `policy/approxkl_avg`), and are otherwise
slash-namespaced (`rewards/pass_rate`, `exec/programs_per_s`, `eval/pass@1`). The JSONL copy
is the source of truth for reports and tests: every number in a report can be traced to a line of it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any


class MetricsLogger:
    def __init__(self, run_dir: str | Path, *, tensorboard: bool = True, wandb_project: str | None = None,
                 config: Mapping[str, Any] | None = None):
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._jsonl = open(self.run_dir / "metrics.jsonl", "a", encoding="utf-8")  # noqa: SIM115 (closed by close())
        self._start = time.time()
        self._tb = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(log_dir=str(self.run_dir / "tensorboard"))
        self._wandb = None
        if wandb_project:
            import wandb  # optional extra: pip install codelhf[wandb]

            self._wandb = wandb.init(project=wandb_project, dir=str(self.run_dir), config=dict(config or {}))
        if config is not None:
            self.log_config(config)

    def log_config(self, config: Mapping[str, Any]) -> None:
        """Log the full config once per run, as a table in TensorBoard (STYLE rule 11)."""
        (self.run_dir / "config.json").write_text(json.dumps(config, indent=2, default=str))
        if self._tb is not None:
            rows = "\n".join(f"|{k}|{v}|" for k, v in _flatten(config).items())
            self._tb.add_text("config", "|key|value|\n|-|-|\n" + rows)

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        record = {"step": step, "time_s": round(time.time() - self._start, 3)}
        record.update({k: float(v) for k, v in metrics.items()})
        self._jsonl.write(json.dumps(record) + "\n")
        self._jsonl.flush()
        if self._tb is not None:
            for k, v in metrics.items():
                self._tb.add_scalar(k, float(v), step)
        if self._wandb is not None:
            self._wandb.log(dict(metrics), step=step)

    def close(self) -> None:
        self._jsonl.close()
        if self._tb is not None:
            self._tb.close()
        if self._wandb is not None:
            self._wandb.finish()

    def __enter__(self) -> MetricsLogger:  # noqa: PYI034 (typing.Self needs Python 3.11)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_metrics(path: str | Path) -> list[dict[str, float]]:
    """The records of a `metrics.jsonl` (a run directory or the file itself)."""
    path = Path(path)
    if path.is_dir():
        path = path / "metrics.jsonl"
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, Mapping):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out
