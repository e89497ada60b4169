"""A real DynamoDB-compatible server (dynalite, pinned in package.json) on a loopback port."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DYNALITE = ROOT / "node_modules" / ".bin" / "dynalite"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def dynalite(port: int | None = None) -> Iterator[str]:
    """Run dynalite until the block ends; yields its endpoint URL. Fails loudly if it can't start."""
    if not DYNALITE.exists() or shutil.which("node") is None:
        raise RuntimeError("dynalite is not installed: run `npm ci` (make test does it).")
    port = port or free_port()
    process = subprocess.Popen([str(DYNALITE), "--port", str(port), "--host", "127.0.0.1"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while not _listening(port):
            if process.poll() is not None:
                raise RuntimeError(f"dynalite exited: {process.stderr.read().decode()[-500:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("dynalite did not start listening within 30 s")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    """Ask a process to end; kill it if it has not within ``timeout`` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
