"""Web and worker nodes share nothing but the services: frames stored through one web process (this
one) are analysed by either of two Celery worker processes, each in a working directory of its own,
which read them from the S3-compatible server, never from a disk they share."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from proctoring.models import Frame, FrameStatus
from tests.celery_worker import running_workers
from tests.conftest import Tenant
from tests.proctoring.conftest import Bucket, image, s3_environment, start_session
from tests.proctoring.test_faults import _wait_for, post


def _files(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file() and path.suffix == ".jpg"]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_it_analyses_frames_from_one_web_process_on_either_of_two_workers_sharing_no_disk(
    s3: Bucket, tenant_a: Tenant, settings: Any, tmp_path: Path
) -> None:
    session = start_session(tenant_a, debounce_frames=1)
    nodes = [tmp_path / "worker-a", tmp_path / "worker-b"]
    # The gate is the test's own signal to the workers (tests/gated_worker.py), not a place for data.
    gate = tmp_path / "gate"
    gate.mkdir()
    envs = [{**s3_environment(s3.endpoint, s3.name), "VAR_DIR": str(node / "var"),
             "PRIVATE_MEDIA_ROOT": str(node / "var" / "media"), "ANALYSIS_GATE_DIR": str(gate)} for node in nodes]

    with running_workers(envs, folders=nodes, gated=True) as workers:
        sent = [post(tenant_a, image(name), session=session) for name in ("signer1_b.jpg", "empty_room.jpg")]
        assert [response.status_code for response in sent] == [202, 202]
        # A solo worker holds one unacknowledged message at a time: each takes one frame, reads it
        # from the bucket and waits inside the engine until the gate opens.
        _wait_for(lambda: {path.name for path in gate.glob("inside-*")} == {f"inside-{w.pid}" for w in workers})
        (gate / "open").write_text("")
        ids = [response.json()["frame"] for response in sent]
        _wait_for(lambda: set(Frame.unscoped.filter(pk__in=ids).values_list("status", flat=True))
                  == {FrameStatus.DONE}, timeout=120)

    assert list(Frame.unscoped.filter(pk__in=ids).values_list("attempts", flat=True)) == [1, 1]  # each once
    # Each worker took one of the frames from the queue. (On SQLite, one writer at a time, the second to
    # write may meet "database is locked" and retry; the retry can land on the other worker: still once.)
    first_taken = [int(re.findall(r"Analysing frame (\d+) ", (node / "worker.log").read_text())[0]) for node in nodes]
    assert sorted(first_taken) == sorted(ids)
    assert s3.keys() >= {frame.image.name for frame in Frame.unscoped.filter(pk__in=ids)}
    assert _files(Path(settings.PRIVATE_MEDIA_ROOT)) == [] and all(_files(node) == [] for node in nodes)
