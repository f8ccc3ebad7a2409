"""`codelhf serve`: the sandbox as an HTTP reward service (FastAPI on uvicorn), for trainers on other machines.

Endpoints (JSON; every one but /health needs `Authorization: Bearer <token>`, or `?token=<token>` in the URL for
clients that cannot send headers, such as OpenRLHF's):
- `POST /get_reward`: OpenRLHF's remote-reward form (`--reward.remote_url http://HOST:PORT/get_reward`):
  `{"query": [...], "prompts": [...], "labels": [...]}` → `{"rewards", "scores", "extra_logs"}`. `query` is prompt +
  response; `labels` holds each sample's problem (codelhf/integrations/scorer.py lists the forms).
- `POST /score`: a batch with full verdicts: `{"items": [{"completion": "...", "problem": ...}, ...]}` →
  `{"results": [{"reward", "pass_rate", "verdict", "verdicts": <SampleVerdict record>}, ...]}`, in order.
- `GET /health`: `{"status": "ok", "in_flight": n}`.

What keeps it safe to expose: a bearer token (CODELHF_SERVE_TOKEN or a token file; without one it refuses to start
unless told `--insecure-no-auth`, and even then only on a loopback address), 127.0.0.1 by default, a cap on the
request body (413), on samples per request and on requests in flight (429, with Retry-After). A request it cannot
read gets a 4xx that says why. Every admitted sample gets its result: the executor retries a dead worker, and a
sample the sandbox still failed on (SE) is reported as such, in /score as a verdict with a null reward and in
/get_reward as a 503 (OpenRLHF retries it), never as a reward of 0.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from codelhf.errors import UserError
from codelhf.integrations.openrlhf import SandboxError, openrlhf_result, responses
from codelhf.integrations.scorer import Scorer, ScorerConfig

log = logging.getLogger(__name__)

TOKEN_ENV = "CODELHF_SERVE_TOKEN"


@dataclass
class ServeConfig:
    host: str = "127.0.0.1"
    """Interface to listen on; anything but loopback needs a token."""
    port: int = 8000
    token: str | None = None
    """Bearer token clients must send (default: $CODELHF_SERVE_TOKEN, or the token file)."""
    insecure_no_auth: bool = False
    """Serve without a token; allowed on loopback addresses only."""
    max_body_bytes: int = 16 * 2**20
    max_items: int = 4096
    """Samples in one request."""
    max_in_flight: int = 256
    """Requests admitted at once; the executor runs their samples on its workers, the rest get 429."""


class RequestError(Exception):
    """A request the service refuses, with its HTTP status and the reason."""

    def __init__(self, status: int, reason: str, headers: dict[str, str] | None = None):
        super().__init__(reason)
        self.status, self.reason, self.headers = status, reason, headers or {}


def read_token(token: str | None = None, token_file: str | None = None) -> str | None:
    """The token from the argument, the file, or CODELHF_SERVE_TOKEN, in that order; blank counts as none."""
    if token_file:
        path = Path(token_file)
        if not path.is_file():
            raise UserError(f"{token_file}: token file not found")
        token = path.read_text().strip()
    token = token or os.environ.get(TOKEN_ENV, "")
    return token.strip() or None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(config: ServeConfig) -> None:
    """Refuse to serve untrusted code execution without a token, or on a non-loopback address without one."""
    if config.token:
        return
    if not config.insecure_no_auth:
        raise UserError("no token for the reward service",
                        f"set {TOKEN_ENV} or --token-file; --insecure-no-auth serves without one on localhost")
    if not is_loopback(config.host):
        raise UserError(f"--insecure-no-auth on {config.host}: anyone who reaches it could run code here",
                        "serve on 127.0.0.1, or set a token to listen on other interfaces")


# ---------------------------------------------------------------------------------------------------------------
# Requests
# ---------------------------------------------------------------------------------------------------------------


def _list(body: dict[str, Any], key: str, required: bool = True) -> list[Any] | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, list):
        raise RequestError(422, f"field {key!r} must be a list" + ("" if key in body else ", and it is missing"))
    return value


def parse_get_reward(body: dict[str, Any], max_items: int) -> tuple[list[str], list[Any]]:
    """(responses, problems) from OpenRLHF's JSON."""
    queries = _list(body, "query")
    labels = _list(body, "labels")
    prompts = _list(body, "prompts", required=False) or [""] * len(queries)  # type: ignore[arg-type]
    assert queries is not None and labels is not None
    if not len(queries) == len(labels) == len(prompts):
        raise RequestError(422, f"'query', 'prompts' and 'labels' differ in length ({len(queries)}, "
                                f"{len(prompts)}, {len(labels)})")
    if not all(isinstance(q, str) for q in queries) or not all(isinstance(p, str) for p in prompts):
        raise RequestError(422, "'query' and 'prompts' must be lists of strings")
    _check_count(len(queries), max_items)
    return responses(queries, prompts), labels


def parse_score(body: dict[str, Any], max_items: int) -> tuple[list[str], list[Any]]:
    items = _list(body, "items")
    assert items is not None
    _check_count(len(items), max_items)
    completions, problems = [], []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("completion"), str) or "problem" not in item:
            raise RequestError(422, f"items[{i}] must be {{\"completion\": string, \"problem\": ...}}")
        completions.append(item["completion"])
        problems.append(item["problem"])
    return completions, problems


def _check_count(n: int, max_items: int) -> None:
    if n > max_items:
        raise RequestError(413, f"{n} samples in one request; the limit is {max_items}")


# ---------------------------------------------------------------------------------------------------------------
# The app
# ---------------------------------------------------------------------------------------------------------------


def create_app(config: ServeConfig, scorer: Scorer | None = None) -> FastAPI:
    """The FastAPI app; the scorer's executor starts with the app and closes with it."""
    state = {"in_flight": 0}
    scorer = scorer or Scorer(ScorerConfig.from_env())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        scorer.executor  # noqa: B018  (start the pool now, not on the first request)
        yield
        scorer.close()

    app = FastAPI(title="codelhf reward service", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)

    @app.exception_handler(RequestError)
    async def refused(request: Request, e: RequestError) -> JSONResponse:
        return JSONResponse({"detail": e.reason}, status_code=e.status, headers=e.headers)

    def authorise(request: Request) -> None:
        """The bearer token, from the Authorization header or, for clients that cannot set headers (OpenRLHF's
        remote-reward client), the `token` query parameter; compared in constant time."""
        if config.token is None:
            return
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        given = given.strip() if scheme.lower() == "bearer" else request.query_params.get("token", "")
        if not hmac.compare_digest(given.encode(), config.token.encode()):
            raise RequestError(401, "missing or wrong bearer token", {"WWW-Authenticate": "Bearer"})

    async def read_json(request: Request) -> dict[str, Any]:
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > config.max_body_bytes):
            raise RequestError(413, f"request body over {config.max_body_bytes} bytes")
        body = bytearray()
        async for chunk in request.stream():  # chunked bodies carry no length: count as they come
            body += chunk
            if len(body) > config.max_body_bytes:
                raise RequestError(413, f"request body over {config.max_body_bytes} bytes")
        try:
            value = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise RequestError(400, f"body is not JSON: {e}")
        if not isinstance(value, dict):
            raise RequestError(422, f"body must be a JSON object, got {type(value).__name__}")
        return value

    async def admitted(request: Request, parse: Any) -> Any:
        """Authorise, read, parse and score one request, within the in-flight limit."""
        authorise(request)
        if state["in_flight"] >= config.max_in_flight:
            raise RequestError(429, f"{config.max_in_flight} requests already in flight; retry",
                               {"Retry-After": "1"})
        state["in_flight"] += 1
        try:
            completions, problems = parse(await read_json(request), config.max_items)
            try:
                return await scorer.score_batch_async(completions, problems)
            except UserError as e:
                raise RequestError(422, str(e))
        finally:
            state["in_flight"] -= 1

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "in_flight": state["in_flight"]}

    @app.post("/get_reward")
    async def get_reward(request: Request) -> dict[str, Any]:
        scores = await admitted(request, parse_get_reward)
        try:
            return openrlhf_result(scores)
        except SandboxError as e:
            raise RequestError(503, str(e), {"Retry-After": "1"})

    @app.post("/score")
    async def score(request: Request) -> dict[str, Any]:
        scores = await admitted(request, parse_score)
        return {"results": [{**s.summary(), "verdicts": s.verdict.to_dict()} for s in scores]}

    return app


def serve(config: ServeConfig, scorer_config: ScorerConfig) -> None:
    """Run the service in the foreground until interrupted."""
    import uvicorn

    check_exposure(config)
    app = create_app(config, Scorer(scorer_config))
    log.warning("codelhf reward service on http://%s:%d (%s)", config.host, config.port,
                "bearer token required" if config.token else "NO AUTHENTICATION, loopback only")
    uvicorn.run(app, host=config.host, port=config.port, log_level="warning", access_log=False)


class ServiceProcess:
    """`codelhf serve ARGS` in a child process, on a free loopback port, returned once /health answers; for
    scripts and tests that need a service beside them. `stop()` (or leaving the `with` block) sends SIGTERM:
    uvicorn shuts down gracefully and the app closes its executor."""

    def __init__(self, *args: str, token: str | None = None, ready_timeout_s: float = 120.0):
        env = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}
        if token:
            env[TOKEN_ENV] = token
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen([sys.executable, "-m", "codelhf.cli", "serve", "--port", str(self.port),
                                         *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        text=True)
        deadline = time.monotonic() + ready_timeout_s
        while not self._healthy():
            if self.process.poll() is not None:
                raise RuntimeError(f"codelhf serve exited {self.process.returncode}: {self.process.stderr.read()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"codelhf serve did not answer /health within {ready_timeout_s} s")
            time.sleep(0.2)

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=2) as answer:
                return answer.status == 200
        except OSError:
            return False

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, timeout_s: float = 60.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stderr is not None:
            self.process.stderr.close()
        return self.process.returncode

    def __enter__(self) -> ServiceProcess:  # noqa: PYI034
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
