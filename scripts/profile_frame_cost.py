"""The worker's per-frame cost outside the engine: queries and process CPU of ``frame_analyze``.

Runs the real task function (``services.frame_analyze`` inside the task's tenant scope) on frames of one
session of a student with a reference face, on a throw-away test database (SQLite by default, PostgreSQL with
``DATABASE_URL``), for three kinds of frame:

- ``analysed``: the engine runs (three pictures of the student in turn, each far from the last two analysed ones);
- ``carried``: the same picture captured again (a little brighter), which carries the last analysed result;
- ``carried-incident``: carried frames while an incident stays open (a laptop in view, the exam lists it):
  its streak, incident and outbox row are written on every frame;
- ``gate-carried``: frames of a student who passed the camera check (head turns and their face) and waits, still,
  for the exam to open: carried once the gate is passed, which reads the session's liveness (its frames of the last
  LIVENESS_PASS_MAX_AGE seconds: 100 frames of the check before these, as a student's minutes there leave).

Then the gate's status as the check page asks for it after each frame (``GET /api/v1/sessions/<id>/gate``, the
student's API token) on that session's frames, its exam published and open: queries and CPU ms (``--frames``
requests).

The engine's ``analyze`` runs for real once per picture and is replayed after that, so the CPU figures are
what the frame costs besides the models (the references' and collection's queries still run). Prints, per
kind, the median (and quartiles) of queries and CPU ms over ``--frames`` frames, and the queries of one
frame grouped by table and verb. ``--profile KIND`` prints cProfile's top functions for that kind.

    nice -n 10 env -u DATABASE_URL .venv/bin/python scripts/profile_frame_cost.py --frames 60
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/op_NAME nice -n 10 .venv/bin/python scripts/profile_frame_cost.py
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import hashlib
import io
import logging
import os
import pstats
import re
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.files.base import ContentFile  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import (  # noqa: E402
    CaptureQueriesContext,
    override_settings,
    setup_databases,
    setup_test_environment,
    teardown_databases,
)
from PIL import Image, ImageEnhance, ImageOps  # noqa: E402

from accounts import tenancy  # noqa: E402
from proctoring import services, stages  # noqa: E402
from proctoring.analysis import get_backend, reset_backends  # noqa: E402
from proctoring.models import Frame  # noqa: E402

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "images"


def picture(name: str, brightness: float = 1.0, *, mirrored: bool = False) -> bytes:
    data = (FIXTURES / name).read_bytes()
    if brightness == 1.0 and not mirrored:
        return data
    out = io.BytesIO()
    changed = ImageEnhance.Brightness(Image.open(io.BytesIO(data)).convert("RGB")).enhance(brightness)
    (ImageOps.mirror(changed) if mirrored else changed).save(out, "JPEG", quality=80)
    return out.getvalue()


def replay_engine() -> None:
    """The real engine once per picture (and options), its answer replayed after that."""
    engine = get_backend()
    real, answers = engine.analyze, {}

    def analyze(**kwargs: Any) -> dict[str, Any]:
        key = hashlib.sha1(kwargs["Image"]["Bytes"] + repr(sorted(
            (k, v) for k, v in kwargs.items() if k not in {"Image", "References"})).encode()).hexdigest()
        if key not in answers:
            answers[key] = real(**kwargs)
        return answers[key]

    engine.analyze = analyze


class Session:
    """One session's frames, taken ``step`` seconds apart, each analysed as the task does."""

    def __init__(self, session: Any) -> None:
        session.refresh_from_db()
        self.session, self.at = session, (session.started_at or session.created_at) + timedelta(seconds=1)

    def frame(self, image: bytes, *, step: float) -> tuple[Frame, int, float, list[dict[str, Any]], dict, float]:
        self.at += timedelta(seconds=step)
        with tenancy.tenant_scope(None):
            frame = Frame(institution_id=self.session.institution_id, session=self.session, received_at=self.at,
                          captured_at=self.at)
            frame.image.save("frame.jpg", ContentFile(image), save=False)
            frame.save()
        backend = backend_cpu_ms()
        with CaptureQueriesContext(connection) as queries:
            cpu = time.process_time()
            with tenancy.tenant_scope(None), stages.collect() as spent:
                done = services.frame_analyze(frame_id=frame.pk)
            cpu = (time.process_time() - cpu) * 1000
        backend = backend_cpu_ms() - backend  # whole clock ticks (10 ms): meaningful only summed over many frames
        assert done is not None and done.status == "done", done and done.error
        return done, len(queries), cpu, list(queries.captured_queries), spent, backend


_backend_pid: list[int] = []


def backend_cpu_ms() -> float:
    """CPU the PostgreSQL backend serving this connection has used (it runs on the same box); 0 elsewhere."""
    if connection.vendor != "postgresql":
        return 0.0
    if not _backend_pid:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            _backend_pid.append(cursor.fetchone()[0])
    fields = Path(f"/proc/{_backend_pid[0]}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")  # utime + stime, in ticks


class PerQuery:
    """Process CPU of each ORM query, its SQL's compilation included (``SQLCompiler.execute_sql``), by shape."""

    def __init__(self) -> None:
        from django.db.models.sql import compiler

        self.spent: dict[str, list[float]] = collections.defaultdict(list)
        self.depth = 0
        real = compiler.SQLCompiler.execute_sql

        def execute_sql(this: Any, *args: Any, **kwargs: Any) -> Any:
            self.depth += 1
            before, cpu = len(connection.queries_log), time.process_time()
            try:
                return real(this, *args, **kwargs)
            finally:
                self.depth -= 1
                if self.depth == 0 and self.on:
                    done = list(connection.queries_log)[before:]
                    name = shape(done[0]["sql"]) if done else "(none)"
                    self.spent[name].append((time.process_time() - cpu) * 1000)

        self.on = False
        compiler.SQLCompiler.execute_sql = execute_sql

    def report(self, frames: int) -> None:
        print("  CPU ms per frame by query (compilation and execution; building the objects not included):")
        for name, values in sorted(self.spent.items(), key=lambda item: -sum(item[1])):
            print(f"    {sum(values) / frames:6.2f}  {len(values) / frames:4.1f} x {name}")
        self.spent.clear()


def shape(sql: str) -> str:
    verb = sql.split()[0].upper()
    if verb in {"SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT"}:
        return verb
    outer, subqueries = sql, 0
    while True:  # the outer query's table, not a subquery's
        inner = re.sub(r"\([^()]*\)", "", outer)
        if inner == outer:
            break
        subqueries += len(re.findall(r"\(SELECT", outer))
        outer = inner
    table = re.search(r'(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', outer)
    joins = outer.upper().count(" JOIN ")
    extra = "".join([" FOR UPDATE" if "FOR UPDATE" in outer.upper() else "", f" +{joins} joins" if joins else "",
                     f" +{subqueries} subqueries" if subqueries else ""])
    return f"{verb} {table.group(1) if table else '?'}{extra}"


def summary(kind: str, rows: list[tuple[int, float]], example: list[dict[str, Any]], spent: list[dict],
            backend: float | None) -> None:
    counts, cpus = [r[0] for r in rows], [r[1] for r in rows]
    q = statistics.quantiles(cpus, n=4) if len(cpus) >= 4 else [min(cpus), statistics.median(cpus), max(cpus)]
    print(f"\n{kind}: {len(rows)} frames; queries median {statistics.median(counts):g} (min {min(counts)}, "
          f"max {max(counts)}); CPU ms median {statistics.median(cpus):.2f} (quartiles {q[0]:.2f} / {q[2]:.2f})"
          + (f"; PostgreSQL backend CPU ms per frame (mean) {backend:.2f}" if backend is not None else ""))
    stage_names = sorted({name for s in spent for name in s})
    print("  stage CPU ms, median: " + ", ".join(
        f"{name} {statistics.median(s.get(name, [0.0])[0] for s in spent):.2f}" for name in stage_names))
    print("  queries of one frame:")
    for line, n in collections.Counter(shape(q["sql"]) for q in example).items():
        print(f"    {n} x {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=60, help="frames measured of each kind")
    parser.add_argument("--profile", choices=["analysed", "carried", "carried-incident", "gate-carried"])
    parser.add_argument("--sort", default="cumulative", help="cProfile's order (cumulative, tottime)")
    parser.add_argument("--top", type=int, default=45, help="functions cProfile prints")
    parser.add_argument("--per-query", action="store_true", help="CPU by query (adds a little to the CPU figures)")
    parser.add_argument("--show-sql", choices=["analysed", "carried", "carried-incident", "gate-carried"])
    args = parser.parse_args()

    from exams.models import Exam
    from exams.statuses import SessionStatus
    from tests.conftest import make_tenant
    from tests.proctoring.conftest import start_session, turned_head

    logging.getLogger("proctoring").setLevel(logging.WARNING)
    setup_test_environment()
    old = setup_databases(verbosity=0, interactive=False)
    media = tempfile.mkdtemp(prefix="profile-frame-cost-")
    try:
        with override_settings(PRIVATE_MEDIA_ROOT=Path(media) / "private",
                               PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
            reset_backends()
            replay_engine()
            tenant = make_tenant("alpha")
            with tenancy.tenant_scope(tenant.institution):
                services.face_register(institution=tenant.institution, actor=tenant.admin, student=tenant.student,
                                       full_name="Sam Signer", image=picture("signer1_a.jpg"))
            print(f"database: {connection.vendor} {settings.DATABASES['default']['NAME']}; "
                  f"skip threshold {settings.FRAME_SKIP_THRESHOLD}")
            kinds: dict[str, Any] = {}
            per_query = PerQuery() if args.per_query else None

            # Analysed: three pictures of the student in turn (each differs from the last two analysed ones, which
            # a frame may be carried from).
            quiet = Session(start_session(tenant))
            pictures = [picture("signer1_a.jpg"), picture("signer1_b.jpg"), picture("signer1_a.jpg", mirrored=True)]
            for i in range(6):  # warm-up: the engine's first runs, the pose baseline
                quiet.frame(pictures[i % 3], step=5)
            kinds["analysed"] = lambda i: quiet.frame(pictures[i % 3], step=5)
            # Carried: the last analysed picture captured again, within the maximum age.
            carried = Session(start_session(tenant))
            carried.frame(picture("signer1_a.jpg"), step=5)
            for _ in range(3):  # the pose baseline (a second apart: the first frame stays within the age limit)
                carried.frame(picture("signer1_b.jpg"), step=1)
                carried.frame(picture("signer1_a.jpg"), step=1)
            variants = [picture("signer1_a.jpg", 1 + (i % 5 - 2) / 100) for i in range(5)]
            kinds["carried"] = lambda i: carried.frame(variants[i % 5], step=0.1)
            # Carried while an incident stays open: a laptop on the desk, which the exam lists.
            busy_session = start_session(tenant, debounce_frames=2)
            with tenancy.tenant_scope(None):
                Exam.objects.filter(pk=busy_session.exam_id).update(objects_of_interest=["Laptop"])
            busy = Session(busy_session)
            busy.frame(picture("desk_laptop.jpg"), step=5)
            laptops = [picture("desk_laptop.jpg", 1 + (i % 5 - 2) / 100) for i in range(5)]
            for i in range(3):
                busy.frame(laptops[i], step=0.1)
            kinds["carried-incident"] = lambda i: busy.frame(laptops[i % 5], step=0.1)

            # Carried at the gate: the head turns done (frames as the pipeline stores them, before the others), then
            # the student's face, still, at the check's pace for 100 frames (full analyses every
            # FRAME_SKIP_MAX_AGE_SECONDS, carried between), then the measured frames.
            gate_session = start_session(tenant, until=SessionStatus.CHECKING)
            turned_head(gate_session)
            waiting = Session(gate_session)
            for i in range(100):
                waiting.frame(variants[i % 5], step=2)
            kinds["gate-carried"] = lambda i: waiting.frame(variants[i % 5], step=0.1)

            for kind, take in kinds.items():
                rows, spent, example = [], [], []
                profiler = cProfile.Profile(time.process_time) if args.profile == kind else None
                backend = 0.0
                if per_query:
                    per_query.on = True
                for i in range(args.frames):
                    if profiler:
                        profiler.enable()
                    frame, count, cpu, queries, stage, backend_ms = take(i)
                    backend += backend_ms
                    if profiler:
                        profiler.disable()
                    assert (frame.carried_from is None) == (kind == "analysed"), (kind, frame.pk)
                    rows.append((count, cpu))
                    spent.append(stage)
                    example = queries
                pg = connection.vendor == "postgresql"
                summary(kind, rows, example, spent, backend / args.frames if pg else None)
                if per_query:
                    per_query.report(args.frames)
                    per_query.on = False
                if args.show_sql == kind:
                    for q in example:
                        print("     ", q["sql"][:400])
                if profiler:
                    out = io.StringIO()
                    stats = pstats.Stats(profiler, stream=out).sort_stats(args.sort)
                    stats.print_stats(args.top)
                    stats.print_callees("frame_analyze|apply_frame")
                    print(out.getvalue())
            gate_status_cost(tenant, gate_session, args.frames)
    finally:
        teardown_databases(old, verbosity=0)


def gate_status_cost(tenant: Any, session: Any, requests: int) -> None:
    """The check page's gate poll on ``session``: queries and CPU of the whole request (DRF, auth, gate_status), its
    exam published and the student's consent given (the start rule then reads the identity and the head turns)."""
    from exams.models import Exam, ExamSession
    from tests.conftest import api_client_for

    Exam.unscoped.filter(pk=session.exam_id).update(status="published")
    ExamSession.unscoped.filter(pk=session.pk).update(consent_at=session.created_at,
                                                      consent_version=tenant.institution.consent_version)
    client, url = api_client_for(tenant.student), f"/api/v1/sessions/{session.pk}/gate"
    for _ in range(3):
        client.get(url)
    cpus, count = [], 0
    for _ in range(requests):
        with CaptureQueriesContext(connection) as queries:
            cpu = time.process_time()
            response = client.get(url)
            cpus.append((time.process_time() - cpu) * 1000)
        assert response.status_code == 200, response.content
        count = len(queries)
    frames = Frame.unscoped.filter(session=session).count()
    print(f"\ngate status (GET {url}, {frames} frames in the session, can start: {response.json()['can_start']}): "
          f"{requests} requests; queries {count}; CPU ms median {statistics.median(cpus):.2f}")


if __name__ == "__main__":
    main()
