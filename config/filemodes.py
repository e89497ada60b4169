"""Owner-only modes for what holds biometric data: the ``var/`` folder and the embedded database.

Both are tightened when they already exist (an older checkout created them 755/644), but only
when this account owns them: a folder handed in through the environment is left to its owner.
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def _owned(path: Path) -> bool:
    return path.stat().st_uid == os.getuid()


def private_dir(path: Path) -> None:
    """Create ``path`` (and its parents) if missing; make it 700 when this account owns it."""
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
    if _owned(path) and path.stat().st_mode & 0o777 != PRIVATE_DIR_MODE:
        path.chmod(PRIVATE_DIR_MODE)


def private_file(path: Path) -> None:
    """Create ``path`` empty with mode 600 if missing (SQLite accepts an empty file as an empty
    database, and gives its journal files the database file's mode); make an existing one 600."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE_MODE))
    if _owned(path) and path.stat().st_mode & 0o777 != PRIVATE_FILE_MODE:
        path.chmod(PRIVATE_FILE_MODE)
