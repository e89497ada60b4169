"""A real S3-compatible server (moto's server mode, pinned in requirements-stack.txt) on a loopback port."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from tests.dynalite import ROOT, _listening, free_port, stop


@contextmanager
def s3_server(port: int | None = None) -> Iterator[str]:
    """Run the server until the block ends; yields its endpoint URL. Fails loudly if it can't start."""
    port = port or free_port()
    # Its request log goes to a file: a pipe nobody reads would fill and stall the server.
    log_path = ROOT / "var" / f"test-s3-{os.getpid()}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                   stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not _listening(port):
            if process.poll() is not None:
                raise RuntimeError(f"The S3 server (moto) exited: {log_path.read_text()[-800:]}"
                                   "(is requirements-stack.txt installed? make dev-deps)")
            if time.monotonic() > deadline:
                raise RuntimeError("The S3 server (moto) did not start listening within 30 s")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)
        log_path.unlink(missing_ok=True)
