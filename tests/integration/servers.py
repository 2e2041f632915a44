"""The real topology for tests: gunicorn with several workers, an RQ worker, a Redis of the
test's own (started and killed by the test, never the shared one), and a small HTTP client.

Every process is a real one started from the same code as `make run` and `make worker`."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Response:
    """Status, headers and the decoded JSON body (None when empty or not JSON)."""

    def __init__(self, status: int, headers: Mapping[str, str], raw: bytes) -> None:
        self.status = status
        self.headers = dict(headers)
        self.raw = raw
        try:
            self.body: Any = json.loads(raw) if raw else None
        except ValueError:
            self.body = None

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.raw[:300]!r}>"


def call(
    base: str,
    method: str,
    path: str,
    token: str | None = None,
    body: Any = None,
    *,
    headers: Mapping[str, str] | None = None,
    raw: bytes | None = None,
    timeout: float = 60,
) -> Response:
    """One request over real HTTP; any status comes back as a `Response` (no exception)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(base + path, data=data, method=method)
    if data is not None and raw is None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Response(response.status, response.headers, response.read())
    except urllib.error.HTTPError as exc:
        return Response(exc.code, exc.headers, exc.read())


class Process:
    """A child process whose output goes to a log file (read it when a test fails)."""

    def __init__(self, args: list[str], env: Mapping[str, str], log: Path) -> None:
        self.args = args
        self.env = dict(env)
        self.log = log
        self.popen: subprocess.Popen[bytes] | None = None
        self.log_offset = 0

    def start(self) -> None:
        self.log_offset = self.log.stat().st_size if self.log.exists() else 0
        handle = self.log.open("ab")
        self.popen = subprocess.Popen(
            self.args,
            cwd=ROOT,
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # kill() reaches the whole group (gunicorn's workers)
        )
        handle.close()

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)
        try:
            self.popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=15)
        self.popen = None

    def stop(self) -> None:
        self.kill(signal.SIGTERM)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def output_since_start(self) -> str:
        if not self.log.exists():
            return ""
        with self.log.open("rb") as handle:
            handle.seek(self.log_offset)
            return handle.read().decode(errors="replace")


# What gunicorn and redis-server log when the port is taken: another xdist worker's server
# got the same free port between `free_port()` and the bind (rare, and retried).
PORT_TAKEN = ("Connection in use", "Address already in use")
START_ATTEMPTS = 3


def server_env(
    database_url: str,
    data_dir: Path,
    *,
    redis_url: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SPROUT_DATA_DIR": str(data_dir),
        "SPROUT_SEED_ON_EMPTY": "0",
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("REDIS_URL", "ELASTICSEARCH_URL", "SPROUT_ADMIN_USERNAME", "SPROUT_RATE_LIMITS"):
        env.pop(name, None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.update(extra or {})
    return env


class LiveServer(Process):
    """`gunicorn app.wsgi:app` with `workers` processes, as `make run` starts it, on a free
    port (another one if that one is taken before gunicorn binds it)."""

    def __init__(
        self, env: Mapping[str, str], log: Path, *, workers: int = 3, threads: int = 4
    ) -> None:
        self.workers, self.threads = workers, threads
        super().__init__([], env, log)
        self._use_port(free_port())

    def _use_port(self, port: int) -> None:
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.api = self.base + "/api/v1"
        self.args = [
            str(BIN / "gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(self.workers),
            "--threads",
            str(self.threads),
            "app.wsgi:app",
        ]

    def start(self) -> None:
        for attempt in range(START_ATTEMPTS):
            super().start()
            if self._wait_healthy():
                return
            self.kill()
            taken = any(sign in self.output_since_start() for sign in PORT_TAKEN)
            if not taken or attempt == START_ATTEMPTS - 1:
                break
            self._use_port(free_port())
        raise RuntimeError("the server did not start:\n" + self.output()[-5000:])

    def _wait_healthy(self) -> bool:
        """Up when *this* gunicorn listens (not another worker's on the same port) and
        answers /healthz; False as soon as it has died or found the port taken."""
        deadline = time.time() + 60
        while time.time() < deadline:
            output = self.output_since_start()
            if not self.running or any(sign in output for sign in PORT_TAKEN):
                return False
            try:
                if (
                    "Listening at:" in output
                    and call(self.base, "GET", "/healthz", timeout=2).status == 200
                ):
                    return True
            except OSError:
                pass
            time.sleep(0.2)
        return False


class Worker(Process):
    """`flask worker` (RQ on every queue, with the periodic scheduler), as `make worker`."""

    def __init__(self, env: Mapping[str, str], log: Path, *args: str) -> None:
        super().__init__([str(BIN / "flask"), "--app", "app", "worker", *args], env, log)

    def wait_listening(self, timeout: float = 120.0) -> None:
        """Until this run of the worker listens on its queues. Booting the app takes seconds,
        and tens of them on a CI machine busy with other tests: a test timing a job must not
        count the boot."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "*** Listening on" in self.output_since_start():
                return
            if not self.running:
                raise AssertionError(f"the worker exited:\n{self.output_since_start()[-3000:]}")
            time.sleep(0.1)
        raise AssertionError(f"the worker never listened:\n{self.output_since_start()[-3000:]}")


class RedisServer(Process):
    """A Redis of the test's own on a free port: tests stop and kill it, never the shared one.
    A restart keeps the port (the app was told its URL); only a first start that finds the
    port taken moves to another."""

    def __init__(self, log: Path) -> None:
        self.executable = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.started_once = False
        super().__init__([], os.environ, log)
        self._use_port(free_port())

    def _use_port(self, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.args = [
            self.executable,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
        ]

    def start(self) -> None:
        for attempt in range(START_ATTEMPTS):
            super().start()
            if self._wait_ready():
                self.started_once = True
                return
            self.kill()
            taken = any(sign in self.output_since_start() for sign in PORT_TAKEN)
            if self.started_once or not taken or attempt == START_ATTEMPTS - 1:
                break
            self._use_port(free_port())
        raise RuntimeError("redis did not start:\n" + self.output())

    def _wait_ready(self) -> bool:
        """Ready when *this* redis-server says so and answers with its own pid (not another
        worker's Redis on the same port); False as soon as it has died or found it taken."""
        import redis

        assert self.popen is not None
        client = redis.Redis(port=self.port, socket_connect_timeout=1, socket_timeout=2)
        deadline = time.time() + 15
        try:
            while time.time() < deadline and self.running:
                output = self.output_since_start()
                if any(sign in output for sign in PORT_TAKEN):
                    return False
                if "Ready to accept connections" in output:
                    try:
                        return client.info("server")["process_id"] == self.popen.pid
                    except redis.RedisError:
                        pass
                time.sleep(0.05)
            return False
        finally:
            client.close()


def wait_until(predicate: Any, timeout: float, every: float = 0.25) -> Any:
    """Poll `predicate` until it returns something truthy; that value, or the last on timeout."""
    deadline = time.time() + timeout
    value = predicate()
    while not value and time.time() < deadline:
        time.sleep(every)
        value = predicate()
    return value
