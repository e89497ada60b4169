"""``python -m tests.gated_worker <celery args>``: a Celery worker whose engine stops *inside* its
analysis until the test lets it go, so that a test can kill the worker truly mid-task.

With ANALYSIS_GATE_DIR set, every ``LocalEngine.analyze`` call first writes
``<dir>/inside-<pid>`` (the test waits for it: the worker is then inside the engine, the task
running, the message taken and not acknowledged), then waits until ``<dir>/open`` exists.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any


def _install_gate(gate: Path) -> None:
    from proctoring.analysis.local import LocalEngine

    original = LocalEngine.analyze

    def gated_analyze(self: Any, *args: Any, **kwargs: Any) -> Any:
        (gate / f"inside-{os.getpid()}").write_text(str(time.time()))
        while not (gate / "open").exists():
            time.sleep(0.05)
        return original(self, *args, **kwargs)

    LocalEngine.analyze = gated_analyze  # type: ignore[method-assign]


if __name__ == "__main__":
    if os.environ.get("ANALYSIS_GATE_DIR"):
        _install_gate(Path(os.environ["ANALYSIS_GATE_DIR"]))
    from celery.__main__ import main

    sys.argv = ["celery", *sys.argv[1:]]
    sys.exit(main())
