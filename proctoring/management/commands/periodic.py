"""Run the periodic jobs (``settings.CELERY_BEAT_SCHEDULE``) in this process, for the embedded default (``make run``).

Celery beat sends each job to a broker, and the embedded default has none (tasks run in the calling process): nothing
ran them there. An audit found no exam reminder mailed, and the retention purge of frames and reference faces that
the settings page promises ("deleted automatically") never ran. Written here rather than taken from a library: the
schedulers that run without a broker (APScheduler, django-q, huey) would each keep a second copy of the schedule and
a dependency; this loop reads Celery's own and runs each job as a worker would (``task.apply()``). With a broker
(``make stack``), ``celery beat`` does it, and this command refuses unless ``--once``.

    python manage.py periodic            # each job at its interval, the first ones a minute after start
    python manage.py periodic --once     # each job once, now
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

logger = logging.getLogger(__name__)
FIRST_AFTER_SECONDS = 60.0  # the first run of each job: after the server started (and the demo's set-up)


class Command(BaseCommand):
    help = "Run the periodic jobs of CELERY_BEAT_SCHEDULE in this process (the embedded default has no celery beat)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--once", action="store_true", help="run every job once, now, and stop")

    def handle(self, *args: Any, once: bool = False, **options: Any) -> None:
        from config.celery import app

        if not once and not settings.CELERY_TASK_ALWAYS_EAGER:
            raise CommandError("A broker is configured (REDIS_URL): run celery beat instead (make stack does).")
        app.loader.import_default_modules()  # the tasks' modules, as a worker imports them
        # Celery logs each eager task's success: the relay's every 30 s filled the terminal of make run (a re-audit).
        # A failure is still logged, below.
        logging.getLogger("celery.app.trace").setLevel(logging.WARNING)
        jobs = {name: (entry["task"], float(entry["schedule"]))
                for name, entry in settings.CELERY_BEAT_SCHEDULE.items()}
        start = time.monotonic()
        due = {name: start if once else start + min(FIRST_AFTER_SECONDS, every) for name, (_, every) in jobs.items()}
        while True:
            for name, (task, every) in jobs.items():
                if time.monotonic() < due[name]:
                    continue
                due[name] = time.monotonic() + every
                try:
                    result = app.tasks[task].apply()
                    result.get(propagate=True)
                except Exception:  # one job's failure must not stop the others; it is logged, as a worker's is
                    logger.exception("Periodic job %s (%s) failed.", name, task)
                else:
                    logger.debug("Periodic job %s (%s) ran.", name, task)
            if once:
                return
            time.sleep(max(0.5, min(due.values()) - time.monotonic()))
