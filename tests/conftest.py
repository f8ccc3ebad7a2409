"""Shared test set-up: markers and the Docker gate.

Docker tests run for real. Outside CI they are skipped when no daemon answers (say, on a laptop without Docker);
in CI (CI=true) a missing daemon is an error, because the test command sets Docker up first.
"""

from __future__ import annotations

import os

import pytest

from codelhf.errors import SandboxUnavailable
from codelhf.execution.image import connect


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", help="also run tests marked slow (soak tests)")


def docker_reachable() -> bool:
    try:
        connect(timeout_s=5)
        return True
    except SandboxUnavailable:
        return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("--runslow"):
        skip_slow = pytest.mark.skip(reason="slow: run with --runslow")
        for item in items:
            if "slow" in item.keywords:
                item.add_marker(skip_slow)
    if any("docker" in item.keywords for item in items) and not docker_reachable():
        if os.environ.get("CI"):
            raise pytest.UsageError("CI=true but no Docker daemon answers: the test command must set Docker up")
        skip_docker = pytest.mark.skip(reason="no Docker daemon answers")
        for item in items:
            if "docker" in item.keywords:
                item.add_marker(skip_docker)
