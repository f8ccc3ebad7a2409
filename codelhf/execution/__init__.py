"""Running samples in the sandbox: `Executor` (codelhf/execution/executor.py) over pluggable backends."""

from codelhf.execution.executor import BatchFuture, ExecStats, Executor

__all__ = ["BatchFuture", "ExecStats", "Executor"]
