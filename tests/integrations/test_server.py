"""`codelhf serve` as a trainer meets it: a real server process, a real HTTP client (httpx), real programs in the
Docker sandbox. Authentication, limits, malformed requests, and 1,000 requests from 32 concurrent clients."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time

import httpx
import pytest

from codelhf.integrations.server import ServiceProcess

pytestmark = pytest.mark.docker

TOKEN = "s3cret-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def containers_of(pid: int) -> list[str]:
    import docker

    from codelhf.execution.docker import LABEL, OWNER_LABEL

    found = docker.from_env().containers.list(all=True, filters={"label": f"{LABEL}=1"}, ignore_removed=True)
    return [c.name for c in found if c.labels.get(OWNER_LABEL, "").split(":")[0] == str(pid)]


@pytest.fixture(scope="module")
def server():
    service = ServiceProcess("--backend", "docker", "--workers", "2", "--max-body-mb", "0.25", "--max-items", "64",
                             "--max-in-flight", "40", token=TOKEN)
    yield service.url
    assert service.stop() in (0, -signal.SIGTERM)  # uvicorn re-raises the signal after its graceful shutdown
    assert containers_of(service.pid) == []  # the sandbox went with the service


def openrlhf_body(cases, indices: list[int], prompt: str = "PROMPT: ") -> dict:
    rows = [cases.CASES[i] for i in indices]
    return {"query": [prompt + r[0] for r in rows], "prompts": [prompt] * len(rows),
            "labels": [r[1] if isinstance(r[1], str) else json.dumps(r[1]) for r in rows]}


def test_requests_without_the_right_token_are_refused(server, cases):
    body = openrlhf_body(cases, [0])
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}, {"Authorization": "Basic x"}):
        answer = httpx.post(f"{server}/get_reward", json=body, headers=headers, timeout=60)
        assert answer.status_code == 401 and "token" in answer.json()["detail"]
        assert answer.headers["www-authenticate"] == "Bearer"
    assert httpx.post(f"{server}/get_reward", json=body, headers=AUTH, timeout=60).json()["rewards"] == [1.0]
    # OpenRLHF's client sends no headers but the URL it is given: the token may ride in the query
    assert httpx.post(f"{server}/get_reward?token={TOKEN}", json=body, timeout=60).json()["rewards"] == [1.0]
    assert httpx.post(f"{server}/get_reward?token=wrong", json=body, timeout=60).status_code == 401


def test_openrlhf_json_and_the_batch_endpoint_with_full_verdicts(server, cases):
    indices = list(range(len(cases.CASES)))
    answer = httpx.post(f"{server}/get_reward", json=openrlhf_body(cases, indices), headers=AUTH, timeout=120)
    assert answer.status_code == 200
    result = answer.json()
    assert result["rewards"] == result["scores"] == [c[2] for c in cases.CASES]
    assert result["extra_logs"]["pass_rate"] == [c[3] for c in cases.CASES]
    items = [{"completion": c[0], "problem": c[1]} for c in cases.CASES]
    answer = httpx.post(f"{server}/score", json={"items": items}, headers=AUTH, timeout=120)
    results = answer.json()["results"]
    assert [(r["reward"], r["pass_rate"], r["verdict"]) for r in results] == [c[2:] for c in cases.CASES]
    crash = results[2]["verdicts"]
    assert crash["status"] == "RE" and "ValueError" in crash["tests"][0]["stderr"]
    assert [t["status"] for t in results[1]["verdicts"]["tests"]] == ["AC", "WA"]


def test_a_sandbox_failure_is_never_a_reward_of_zero(server, cases):
    label = json.dumps(cases.SYSTEM_ERROR_PROBLEM)
    answer = httpx.post(f"{server}/get_reward", json={"query": ["print(1)"], "labels": [label]}, headers=AUTH,
                        timeout=120)
    assert answer.status_code == 503 and "system error" in answer.json()["detail"]  # OpenRLHF retries a 503
    assert answer.headers["retry-after"] == "1"
    answer = httpx.post(f"{server}/score", json={"items": [{"completion": "print(1)", "problem": label}]},
                        headers=AUTH, timeout=120)
    (result,) = answer.json()["results"]
    assert answer.status_code == 200 and result["reward"] is None and result["verdict"] == "SE"


@pytest.mark.parametrize("body, status, reason", [
    (b"{not json", 400, "not JSON"),
    (b"[1, 2]", 422, "JSON object"),
    (b'{"query": "x", "labels": []}', 422, "'query' must be a list"),
    (b'{"query": ["a"], "labels": []}', 422, "differ in length"),
    (b'{"query": [1], "labels": ["{}"]}', 422, "lists of strings"),
    (b'{"query": ["print(1)"], "labels": ["{\\"inputs\\": [1]}"]}', 422, "cannot tell the problem"),
    (b'{"query": ["print(1)"], "labels": ["no-such-id"]}', 422, "no problem file"),
    (json.dumps({"query": ["print(1)"] * 65, "labels": ["{}"] * 65}).encode(), 413, "limit is 64"),
    (b'{"pad": "' + b"x" * 300_000 + b'"}', 413, "request body over"),
])
def test_bad_requests_get_a_4xx_with_the_reason(server, body, status, reason):
    answer = httpx.post(f"{server}/get_reward", content=body, headers={**AUTH, "content-type": "application/json"},
                        timeout=60)
    assert answer.status_code == status, answer.text
    assert reason in answer.json()["detail"]


def test_an_oversized_chunked_body_is_refused_too(server):
    def chunks():  # no Content-Length: the server must count what arrives
        for _ in range(40):
            yield b"x" * 10_000

    answer = httpx.post(f"{server}/score", content=chunks(), headers=AUTH, timeout=60)
    assert answer.status_code == 413
    bad_item = httpx.post(f"{server}/score", json={"items": [{"completion": 3}]}, headers=AUTH, timeout=60)
    assert bad_item.status_code == 422 and "items[0]" in bad_item.json()["detail"]


def test_requests_over_the_in_flight_limit_get_429_and_the_rest_are_right(server, cases):
    slow = "import time\ntime.sleep(0.4)\na, b = map(int, input().split())\nprint(a + b)\n"
    body = {"items": [{"completion": slow, "problem": json.dumps({"inputs": ["1 2\n"], "outputs": ["3\n"]})}]}

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(headers=AUTH, timeout=300, limits=httpx.Limits(max_connections=60)) as client:
            return await asyncio.gather(*[client.post(f"{server}/score", json=body) for _ in range(50)])

    answers = asyncio.run(burst())
    codes = sorted(a.status_code for a in answers)
    assert set(codes) == {200, 429} and codes.count(200) >= 40, codes
    assert all(a.json()["results"][0]["verdict"] == "AC" for a in answers if a.status_code == 200)
    assert all(a.headers["retry-after"] == "1" for a in answers if a.status_code == 429)


def test_a_thousand_requests_from_32_concurrent_clients_are_all_right(server, cases):
    rng = random.Random(0)
    plan = [[rng.randrange(len(cases.CASES)) for _ in range(rng.randint(1, 3))] for _ in range(1000)]

    async def client(requests: list[list[int]]) -> list[tuple]:
        out = []
        async with httpx.AsyncClient(headers=AUTH, timeout=300) as http:
            for n, indices in enumerate(requests):
                if n % 2:
                    answer = await http.post(f"{server}/get_reward", json=openrlhf_body(cases, indices))
                    out.append((indices, answer.status_code, answer.json()["rewards"]))
                else:
                    items = [{"completion": cases.CASES[i][0], "problem": cases.CASES[i][1]} for i in indices]
                    answer = await http.post(f"{server}/score", json={"items": items})
                    out.append((indices, answer.status_code, [r["reward"] for r in answer.json()["results"]]))
        return out

    async def all_clients() -> list[tuple]:
        shards = [plan[i::32] for i in range(32)]
        return [row for rows in await asyncio.gather(*[client(s) for s in shards]) for row in rows]

    started = time.monotonic()
    results = asyncio.run(all_clients())
    assert len(results) == 1000
    wrong = [r for r in results if r[1] != 200 or r[2] != [cases.CASES[i][2] for i in r[0]]]
    assert wrong == [], wrong[:3]
    print(f"1000 requests ({sum(len(p) for p in plan)} programs) in {time.monotonic() - started:.1f} s")


def test_the_server_refuses_to_start_exposed_without_a_token():
    env = {k: v for k, v in os.environ.items() if k != "CODELHF_SERVE_TOKEN"}
    for args, message in [((), "no token"), (("--insecure-no-auth", "--host", "0.0.0.0"), "anyone who reaches")]:
        done = subprocess.run([sys.executable, "-m", "codelhf.cli", "serve", "--backend", "local", *args], env=env,
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


def test_insecure_no_auth_serves_on_loopback_only():
    with ServiceProcess("--insecure-no-auth", "--backend", "local", "--workers", "1") as service:
        body = {"items": [{"completion": "print(2)", "problem": {"inputs": [""], "outputs": ["2"]}}]}
        assert httpx.post(f"{service.url}/score", json=body, timeout=60).json()["results"][0]["verdict"] == "AC"
