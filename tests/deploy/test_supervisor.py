"""make stack's supervisord (the config scripts/stack_nodes.py generates) restarts a Celery worker killed with SIGKILL,
and /healthz, served by the same supervisor's gunicorn at DEBUG=0, is healthy again from the new
worker's heartbeat. (That /healthz turns 503 when the worker is silent: tests/deploy/test_healthz.py.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from scripts import stack_nodes
from tests.celery_worker import WORKER_REDIS_URL, database_url
from tests.dynalite import free_port

ROOT = Path(__file__).resolve().parents[2]
PORT = free_port()  # its own: the SQLite and PostgreSQL halves of make test run side by side
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.django_db(transaction=True)


def _health() -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/healthz", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except (OSError, ValueError):
            pass  # the server is not up yet
        time.sleep(0.5)
    raise AssertionError(f"Timed out waiting for: {what}")


def test_it_restarts_a_killed_worker_and_healthz_follows(tmp_path: Path) -> None:
    import redis

    redis.Redis.from_url(WORKER_REDIS_URL).flushdb()
    var = tmp_path / "var"
    config = stack_nodes.prepare(stack_nodes.nodes(web=1, workers=1, host="127.0.0.1", port=PORT), var=var)
    env = {**os.environ,
           "DATABASE_URL": database_url(), "REDIS_URL": WORKER_REDIS_URL, "DEBUG": "0",
           "SECRET_KEY": "test-only-secret-key-" + "x" * 40, "ALLOWED_HOSTS": "127.0.0.1",
           "SECURE_SSL_REDIRECT": "0", "WORKER_HEARTBEAT_INTERVAL": "1", "HEALTH_WORKER_MAX_SILENCE": "4"}
    env.pop("DYNAMODB_ENDPOINT_URL", None)
    supervisor = subprocess.Popen([str(BIN / "supervisord"), "-c", str(config)], cwd=ROOT, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

    def ctl(*args: str) -> str:
        return subprocess.run([str(BIN / "supervisorctl"), "-c", str(config), *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=30).stdout.strip()

    try:
        _until(lambda: _health()[0] == 200, 90, "/healthz 200 with the supervised worker's heartbeat")
        # supervisord says RUNNING only once a process has stayed up its startsecs, which can be after /healthz
        # already answers: wait for it rather than read the status once.
        _until(lambda: ctl("status").count("RUNNING") == 3, 60, "supervisord to report all three RUNNING")
        status = ctl("status")
        assert all(f"{name}" in status for name in ("web-1", "worker-1", "beat")) and status.count("RUNNING") == 3
        first = int(ctl("pid", "worker-1"))

        os.kill(first, signal.SIGKILL)
        killed_at = time.time()
        _until(lambda: ctl("pid", "worker-1").isdigit() and int(ctl("pid", "worker-1")) not in {0, first},
               30, "supervisord to start a new worker")
        # Healthy again only from a heartbeat written after the kill, i.e. by the new worker.
        def healthy_since_kill() -> bool:
            status, body = _health()  # one answer: a second request may find the heartbeat stale again
            age = body["checks"]["worker"].get("heartbeat_age_s") if status == 200 else None
            return age is not None and age < time.time() - killed_at

        _until(healthy_since_kill, 60, "/healthz 200 with the new worker's heartbeat")
        assert "exited: worker-1 (terminated by SIGKILL" in (var / "nodes" / "supervisord.log").read_text()
    finally:
        supervisor.send_signal(signal.SIGTERM)
        try:
            supervisor.wait(timeout=60)
        except subprocess.TimeoutExpired:
            supervisor.kill()
