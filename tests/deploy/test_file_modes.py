"""Biometric files, their folders and the embedded database are owner-only (600/700)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile

from proctoring.storage import private_storage
from tests.conftest import Tenant

ROOT = Path(__file__).resolve().parents[2]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_it_creates_biometric_files_600_in_folders_700(tenant_a: Tenant) -> None:
    old_umask = os.umask(0o022)  # the usual umask, which would give 644/755
    try:
        name = private_storage.save("frames/x/y/frame.jpg", ContentFile(b"\xff\xd8 jpeg \xff\xd9"))
    finally:
        os.umask(old_umask)
    root = Path(settings.PRIVATE_MEDIA_ROOT)
    path = root / name
    assert _mode(path) == 0o600
    folder = path.parent
    while folder != root.parent:
        assert _mode(folder) == 0o700, folder
        folder = folder.parent
    for stored in (tenant_a.frame.image.path, tenant_a.face.image.path):
        assert _mode(Path(stored)) == 0o600


def _settings_in_subprocess(var_dir: Path) -> None:
    """Load the settings in a fresh process with the embedded default under ``var_dir`` and write to
    the database once (so SQLite really opens the file)."""
    env = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(VAR_DIR=str(var_dir), DJANGO_SETTINGS_MODULE="config.settings")
    code = ("import django; django.setup(); from django.db import connection; "
            "connection.cursor().execute('CREATE TABLE IF NOT EXISTS t (x int)')")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, timeout=60)


def test_it_creates_the_var_folder_700_and_the_embedded_database_600(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    _settings_in_subprocess(var_dir)
    assert _mode(var_dir) == 0o700
    assert _mode(var_dir / "openproctor.sqlite3") == 0o600


def test_it_tightens_an_existing_world_readable_var_folder_and_database(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    var_dir.mkdir(mode=0o755)
    database = var_dir / "openproctor.sqlite3"
    database.touch(mode=0o644)
    var_dir.chmod(0o755)
    database.chmod(0o644)
    _settings_in_subprocess(var_dir)
    assert _mode(var_dir) == 0o700
    assert _mode(database) == 0o600


def test_it_has_no_view_on_site_shortcut_in_the_institution_admin(settings: Any, tenant_a: Tenant,
                                                                  tenant_b: Tenant) -> None:
    from django.contrib.contenttypes.models import ContentType

    from accounts.models import User
    from tests.conftest import page_client_for

    settings.DEBUG = True  # Django's debug 404 would show the shortcut's "exists / has no URL" message
    client = page_client_for(tenant_a.admin)
    content_type = ContentType.objects.get_for_model(User)
    other_path = f"/manage/r/{content_type.pk}/{tenant_b.student.pk}/"
    missing_path = f"/manage/r/{content_type.pk}/999999/"
    other, missing = client.get(other_path), client.get(missing_path)
    assert other.status_code == missing.status_code == 404
    body = other.content.decode()
    assert "no associated URL" not in body and "doesn't exist" not in body
    assert body.replace(other_path[1:], "PATH") == missing.content.decode().replace(missing_path[1:], "PATH")
