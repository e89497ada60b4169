"""The Celery app. Broker and result backend are Redis (REDIS_URL); without it tasks run eagerly."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("openproctor")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

import config.heartbeat  # noqa: E402, F401 - connects the worker's heartbeat to worker_ready
