"""make stack is the production profile: DEBUG=0 with a persisted secret, collected static files,
and the processes under supervisord (their restart is tested in test_supervisor.py)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_it_runs_the_stack_with_debug_off_collected_static_files_and_a_supervisor() -> None:
    # Run as a top-level make even under `make test`, which would otherwise add "Leaving directory" lines.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    commands = subprocess.run(["make", "--no-print-directory", "-n", "stack"], cwd=ROOT, env=env,
                              capture_output=True, text=True, check=True, timeout=60).stdout.splitlines()
    django = [line for line in commands
              if not line.startswith("echo") and ("manage.py" in line or "supervisord" in line)]
    assert django and all("DEBUG=0" in line for line in django)
    assert all("SECRET_KEY=$(scripts/secret_key.sh var/secret-key)" in line for line in django)
    assert any("manage.py collectstatic --noinput" in line for line in commands)
    assert "scripts/stack_nodes.py --var var --web 1 --workers 2" in commands[-2]
    assert commands[-1].endswith("supervisord -c var/nodes/supervisord.conf")
    assert not any("gunicorn" in line or "celery" in line for line in commands)  # only under supervisord


def test_it_keeps_the_generated_secret_key_private_and_stable(tmp_path: Path) -> None:
    key_file = tmp_path / "var" / "secret-key"
    first = subprocess.run([ROOT / "scripts" / "secret_key.sh", key_file], capture_output=True, text=True,
                           check=True).stdout.strip()
    again = subprocess.run([ROOT / "scripts" / "secret_key.sh", key_file], capture_output=True, text=True,
                           check=True).stdout.strip()
    assert len(first) >= 50 and first == again
    assert key_file.stat().st_mode & 0o777 == 0o600
