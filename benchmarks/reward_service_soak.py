"""Soak test of `codelhf serve`: many executions through the HTTP service, every result checked, against
`codelhf execute` on the same batch.

    .venv/bin/python benchmarks/reward_service_soak.py                          # 10,000 executions, 32 clients
    .venv/bin/python benchmarks/reward_service_soak.py --executions 500 --backend local

The batch: programs for small problems given as ground truths (stdin/stdout and call-based), correct, wrong by one
(WA) or crashing (RE), each with its own numbers, so every expected reward is known in advance. `--clients`
concurrent HTTP clients (httpx) send `/score` requests of `--per-request` samples each; a 429 (in-flight limit) is
retried after a pause, as a trainer's client would. Reported: lost results (never answered), wrong results (a
reward or verdict other than expected), throughput, the service's resident memory after warm-up and at the end,
and the load average. Then the same samples, as files, through `codelhf execute` with the same workers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from codelhf.execution.base import default_workers
from codelhf.integrations.scorer import program_for, to_problem
from codelhf.integrations.server import ServiceProcess
from codelhf.problems import save_problems_jsonl

TOKEN = "soak-benchmark-token"


def make_batch(n: int) -> list[dict]:
    """`n` items: {completion, problem, reward, verdict}, every fourth kind of program in turn."""
    items = []
    for i in range(n):
        a, b = i % 97, i // 97
        stdio = json.dumps({"inputs": [f"{a} {b}\n", f"{b} {a + 1}\n"], "outputs": [f"{a + b}\n", f"{a + b + 1}\n"]})
        call = json.dumps({"fn_name": "mul", "inputs": [f"{a}\n{b}"], "outputs": [str(a * b)]})
        kind = i % 4
        if kind == 0:
            item = {"completion": "```python\nx, y = map(int, input().split())\nprint(x + y)\n```",
                    "problem": stdio, "reward": 1.0, "verdict": "AC"}
        elif kind == 1:
            item = {"completion": "x, y = map(int, input().split())\nprint(x + y + 1)\n", "problem": stdio,
                    "reward": 0.0, "verdict": "WA"}
        elif kind == 2:
            item = {"completion": "import sys\nsys.exit(3)\n", "problem": stdio, "reward": 0.0, "verdict": "RE"}
        else:
            item = {"completion": "def mul(x, y):\n    return x * y\n", "problem": call, "reward": 1.0,
                    "verdict": "AC"}
        items.append(item)
    return items


def rss_mb(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", text).group(1)) / 1024


async def soak(url: str, items: list[dict], clients: int, per_request: int) -> dict:
    requests = [list(range(i, min(i + per_request, len(items)))) for i in range(0, len(items), per_request)]
    answers: dict[int, dict] = {}
    retries = 0

    async def client(shard: list[list[int]]) -> None:
        nonlocal retries
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=600) as http:
            for indices in shard:
                body = {"items": [{"completion": items[i]["completion"], "problem": items[i]["problem"]}
                                  for i in indices]}
                for _ in range(100):
                    response = await http.post(f"{url}/score", json=body)
                    if response.status_code not in (429, 503):
                        break
                    retries += 1
                    await asyncio.sleep(float(response.headers.get("retry-after", "1")))
                if response.status_code == 200:
                    for i, result in zip(indices, response.json()["results"]):
                        answers[i] = result

    await asyncio.gather(*[client(requests[k::clients]) for k in range(clients)])
    wrong = [i for i, r in answers.items() if (r["reward"], r["verdict"]) != (items[i]["reward"], items[i]["verdict"])]
    return {"answered": len(answers), "lost": len(items) - len(answers), "wrong": len(wrong), "retries": retries,
            "requests": len(requests), "first_wrong": [answers[i] for i in wrong[:2]]}


def run_execute(items: list[dict], backend: str, workers: int, folder: Path) -> tuple[float, float | None, dict]:
    """The same samples through `codelhf execute`: (wall s of the command, its own programs/s, its summary)."""
    problems = {}
    samples = []
    for i, item in enumerate(items):
        problem = to_problem(item["problem"])
        problems.setdefault(problem.id, problem)
        samples.append({"problem_id": problem.id, "program": program_for(problem, item["completion"]),
                        "sample_index": i})
    save_problems_jsonl(folder / "problems.jsonl", problems.values())
    (folder / "samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in samples))
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "codelhf.cli", "execute", "--problems", str(folder / "problems.jsonl"),
                           "--samples", str(folder / "samples.jsonl"), "--backend", backend, "--workers", str(workers),
                           "--out", str(folder / "verdicts.jsonl")], capture_output=True, text=True, check=False,
                          env={**os.environ, "COLUMNS": "300"})
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"codelhf execute failed: {done.stderr[-2000:]}")
    rate = re.search(r"\(([\d.]+) programs/s\)", done.stderr)
    verdicts = [json.loads(line) for line in (folder / "verdicts.jsonl").read_text().splitlines()]
    wrong = sum(v["status"] != item["verdict"] for v, item in zip(verdicts, items))
    return wall, float(rate.group(1)) if rate else None, {"samples": len(verdicts), "wrong": wrong}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--executions", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--per-request", type=int, default=8)
    parser.add_argument("--backend", default="docker")
    parser.add_argument("--workers", type=int, default=default_workers())
    args = parser.parse_args()

    items = make_batch(args.executions)
    print(f"load average at start: {os.getloadavg()}")
    with ServiceProcess("--backend", args.backend, "--workers", str(args.workers), "--max-items",
                        str(args.per_request), token=TOKEN) as service:
        asyncio.run(soak(service.url, items[:args.workers * 2], 4, args.per_request))  # warm the pool
        memory_start = rss_mb(service.pid)
        started = time.perf_counter()
        result = asyncio.run(soak(service.url, items, args.clients, args.per_request))
        seconds = time.perf_counter() - started
        memory_end = rss_mb(service.pid)
    load_after_service = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="codelhf-soak-") as tmp:
        execute_wall, execute_rate, execute_check = run_execute(items, args.backend, args.workers, Path(tmp))

    service_rate = args.executions / seconds
    print(f"service: {args.executions} executions in {seconds:.1f} s = {service_rate:.1f} programs/s "
          f"({result['requests']} requests from {args.clients} clients, {args.per_request} samples each, "
          f"{args.workers} {args.backend} workers); answered {result['answered']}, lost {result['lost']}, "
          f"wrong {result['wrong']}, 429/503 retried {result['retries']}")
    print(f"service memory (RSS): {memory_start:.0f} MB after warm-up, {memory_end:.0f} MB at the end")
    print(f"load average after the service run: {load_after_service}")
    print(f"codelhf execute: {execute_wall:.1f} s for the command = {args.executions / execute_wall:.1f} programs/s "
          f"(its executor alone: {execute_rate} programs/s); wrong verdicts {execute_check['wrong']}")
    print(f"ratio service / execute (whole command): {service_rate / (args.executions / execute_wall):.2f}; "
          f"vs its executor alone: {service_rate / execute_rate:.2f}" if execute_rate else "")
    print(f"load average at the end: {os.getloadavg()}")
    if result["lost"] or result["wrong"]:
        print(f"FAILED: first wrong results: {result['first_wrong']}")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
