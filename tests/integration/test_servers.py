"""The test topology under pytest-xdist: a server whose free port was taken meanwhile (by
another worker's server) starts on another one, and never talks to the other's process."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

from tests.integration.servers import LiveServer, RedisServer, call, server_env


def _occupy(port: int) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen()
    return sock


def test_a_taken_port_moves_redis_elsewhere(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis.log")
    taken = server.port
    with _occupy(taken):
        server.start()
        try:
            assert server.port != taken and server.url.endswith(f":{server.port}/0")
        finally:
            server.kill()


def test_a_taken_port_moves_gunicorn_elsewhere(tmp_path: Path, sqlite_template: Path) -> None:
    shutil.copyfile(sqlite_template, tmp_path / "sprout.db")
    url = f"sqlite:///{tmp_path / 'sprout.db'}"
    server = LiveServer(server_env(url, tmp_path / "data"), tmp_path / "gunicorn.log", workers=1)
    taken = server.port
    with _occupy(taken):
        server.start()
        try:
            assert server.port != taken
            assert call(server.base, "GET", "/healthz").status == 200
        finally:
            server.kill()
