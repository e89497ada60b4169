"""The Celery app. Broker and result backend are Redis (REDIS_URL); without it tasks run eagerly."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("openproctor")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

import config.heartbeat  # noqa: E402, F401 - connects the worker's heartbeat to worker_ready


@task_prerun.connect
@task_postrun.connect
def _close_old_connections(task: Any = None, **kwargs: Any) -> None:
    """Around a task, as Django does around a request: close a database connection that is unusable (an error
    broke it) or older than CONN_MAX_AGE, keep the others. Celery's own Django fix-up would close every
    connection before and after each task (settings.CELERY_DB_REUSE_MAX turns that off): a new PostgreSQL
    connection per frame. Eager tasks (no broker, the tests) run inside the caller's transaction: left alone."""
    from django.db import close_old_connections, connections

    if task is not None and getattr(task.request, "is_eager", False):
        return
    if any(connection.in_atomic_block for connection in connections.all(initialized_only=True)):
        return
    close_old_connections()
