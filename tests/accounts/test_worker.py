from __future__ import annotations

from typing import Any

import pytest

from accounts.tasks import institution_summary
from tests.celery_worker import running_worker
from tests.conftest import make_tenant


@pytest.mark.worker
def test_it_runs_a_task_end_to_end_in_a_real_worker_over_redis(transactional_db: Any) -> None:
    tenant = make_tenant("gamma")
    with running_worker() as worker:
        result = institution_summary.delay(tenant.institution.pk)
        assert result.get(timeout=60) == {"institution": "gamma", "users": {"admin": 1, "proctor": 1, "student": 1}}
        assert worker.poll() is None  # it ran in the worker process, not eagerly here
