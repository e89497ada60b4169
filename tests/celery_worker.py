"""A real Celery worker process on the Redis broker, for tests that need the worker path."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.db import connection

from config.celery import app as celery_app
from tests.dynalite import stop

ROOT = Path(__file__).resolve().parent.parent
WORKER_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")


def database_url() -> str:
    """The URL of the database the tests are using right now (the test database)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _redis_or_fail(url: str) -> None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        raise RuntimeError(
            f"Redis is not reachable at {url} ({exc}). Start it with scripts/services.sh redis."
        ) from exc


@contextmanager
def running_worker(extra_env: dict[str, str] | None = None, *, redis_url: str = "", flush: bool = True,
                   gated: bool = False, log_name: str = "") -> Iterator[subprocess.Popen[bytes]]:
    """Start ``celery worker`` against the test database and Redis; point this process's app at it.

    ``redis_url``: another Redis than TEST_REDIS_URL (a test's own, see ``own_redis``); ``flush``:
    empty it first; ``gated``: the engine waits inside its analysis (tests/gated_worker.py).
    """
    url = redis_url or WORKER_REDIS_URL
    _redis_or_fail(url)
    import redis

    if flush:
        redis.Redis.from_url(url).flushdb()  # no stale messages from an earlier run
    env = {**os.environ, "DATABASE_URL": database_url(), "REDIS_URL": url, **(extra_env or {})}
    log_path = ROOT / "var" / (log_name or f"test-worker-{os.getpid()}.log")  # one per pytest process
    log = open(log_path, "wb")  # noqa: SIM115 - closed below
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.gated_worker" if gated else "celery", "-A", "config", "worker",
         "--pool=solo", "--loglevel=INFO",
         "--without-heartbeat", "--without-gossip", "--without-mingle", "-n", f"test-{os.getpid()}@%h"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        with using_broker(url):
            _wait_until_ready(worker, log_path)
            yield worker
    finally:
        stop(worker)
        log.close()


@contextmanager
def running_workers(envs: list[dict[str, str]], *, folders: list[Path], gated: bool = False,
                    ) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Start one worker per ``envs`` item at once, as separate nodes: each runs in its own working
    directory (``folders``, where it also writes its log, worker.log) and shares only the services
    (the test database, TEST_REDIS_URL and what its environment names) with the others."""
    _redis_or_fail(WORKER_REDIS_URL)
    import redis

    redis.Redis.from_url(WORKER_REDIS_URL).flushdb()
    started: list[tuple[subprocess.Popen[bytes], Any]] = []
    names = [f"node{number}-{os.getpid()}@%h" for number in range(len(envs))]
    try:
        for name, folder, extra in zip(names, folders, envs, strict=True):
            folder.mkdir(parents=True, exist_ok=True)
            env = {**os.environ, "DATABASE_URL": database_url(), "REDIS_URL": WORKER_REDIS_URL,
                   "PYTHONPATH": str(ROOT), **extra}
            log = open(folder / "worker.log", "wb")  # noqa: SIM115 - closed below
            started.append((subprocess.Popen(
                [sys.executable, "-m", "tests.gated_worker" if gated else "celery", "-A", "config", "worker",
                 "--pool=solo", "--loglevel=INFO", "--without-heartbeat", "--without-gossip", "--without-mingle",
                 "-n", name], cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT), log))
        with using_broker(WORKER_REDIS_URL):
            for (worker, _log), name, folder in zip(started, names, folders, strict=True):
                _wait_until_ready(worker, folder / "worker.log", destination=name.replace("%h", socket.gethostname()))
            yield [worker for worker, _log in started]
    finally:
        for worker, log in started:
            stop(worker)
            log.close()


@contextmanager
def using_broker(url: str) -> Iterator[None]:
    """Send this process's tasks to ``url`` (not run them eagerly) until the block ends."""
    saved = {key: celery_app.conf[key] for key in ("task_always_eager", "broker_url", "result_backend")}
    celery_app.conf.update(task_always_eager=False, broker_url=url, result_backend=url)
    _forget_pools()
    try:
        yield
    finally:
        celery_app.conf.update(saved)
        _forget_pools()


def _forget_pools() -> None:
    # kombu keeps pools in a global registry per URL: forget ours rather than close a shared one.
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    celery_app._backend_cache = None
    celery_app._local.__dict__.pop("backend", None)


def _wait_until_ready(worker: subprocess.Popen[Any], log_path: Path, timeout: float = 60,
                     destination: str | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise RuntimeError(f"The Celery worker exited early; see {log_path}.")
        if celery_app.control.ping(timeout=0.5, destination=[destination] if destination else None):
            return
    raise RuntimeError("The Celery worker did not answer a ping within a minute.")


@contextmanager
def own_redis() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A redis-server of this test alone, on a free loopback port, without persistence: yields its
    URL and process, so that a test may kill, stop (SIGSTOP) or restart it without touching others."""
    from tests.dynalite import free_port

    port = free_port()
    process = _start_redis(port)
    try:
        yield f"redis://127.0.0.1:{port}/0", process
    finally:
        process.kill()
        process.wait(timeout=10)


def _start_redis(port: int) -> subprocess.Popen[bytes]:
    import redis

    process = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis(port=port, socket_connect_timeout=0.2).ping()
            return process
        except redis.ConnectionError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError(f"redis-server did not start on port {port}") from None
            time.sleep(0.05)


def restart_redis(url: str) -> subprocess.Popen[bytes]:
    """Start a redis-server again on the port of ``url`` (after the test killed the first one)."""
    return _start_redis(int(url.rsplit(":", 1)[1].split("/")[0]))
