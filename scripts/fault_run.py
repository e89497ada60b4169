"""A fault run: frames from several students flow through the real path while the worker, Redis and
DynamoDB are killed; at the end, what was sent, stored, analysed and mirrored, and what was lost or
duplicated.

    .venv/bin/python scripts/fault_run.py [--students 4] [--seconds 90] [--database-url postgres://...]

Processes (all on loopback, ports 8140-8149 by default): a gunicorn web server, a Celery worker
(prefork, 2 processes), Celery beat, a redis-server *without persistence* (a kill loses its queue:
the harshest case) and dynalite on LevelDB (a kill loses no table). The script plays the
supervisor: it starts a killed worker again after two seconds, as `make stack`'s supervisor does;
nothing else is touched by hand. Timeouts are shortened so that recovery fits in minutes:
visibility timeout 30 s, sweeper every 10 s for frames pending 20 s, relay every 10 s.

Faults, while frames flow:
- the worker is SIGKILLed while it is inside an analysis (its log says "Analysing frame"),
- redis-server is SIGKILLed and started again, empty, 5 s later,
- dynalite is SIGKILLed and started again 10 s later.

"Lost": a frame answered 202 that is not stored, or not analysed after the drain; an incident
whose latest version is not in DynamoDB. "Duplicated": a frame whose result was applied twice
(attempts > 1), two DynamoDB items for one incident, or an incident counted twice. Frames whose
analysis *started* twice are reported apart: a worker killed mid-analysis starts it again, by design.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "images"
VENV_BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=90, help="how long frames are sent")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between a student's frames")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/op_faults_run")
    parser.add_argument("--web-port", type=int, default=8140)
    parser.add_argument("--redis-port", type=int, default=6395)
    parser.add_argument("--dynamo-port", type=int, default=8145)
    parser.add_argument("--drain", type=float, default=300, help="seconds to wait for recovery at the end")
    args = parser.parse_args()
    run = FaultRun(args)
    try:
        return run.run()
    finally:
        run.stop_all()


class FaultRun:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="fault-run-"))
        self.redis_url = f"redis://127.0.0.1:{args.redis_port}/0"
        self.dynamo_url = f"http://127.0.0.1:{args.dynamo_port}"
        self.env = {
            **os.environ, "DATABASE_URL": args.database_url, "REDIS_URL": self.redis_url,
            "DYNAMODB_ENDPOINT_URL": self.dynamo_url, "DYNAMODB_TABLE_PREFIX": "faultrun-",
            "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_REGION": "us-east-1",
            "VAR_DIR": str(self.tmp), "PRIVATE_MEDIA_ROOT": str(self.tmp / "media"), "DEBUG": "1",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "CELERY_BROKER_VISIBILITY_TIMEOUT": "30", "BROKER_UNACKED_RESTORE_INTERVAL": "2",
            "BROKER_UNACKED_RESTORE_THROTTLE": "1", "FRAME_REQUEUE_AFTER_SECONDS": "20", "FRAME_REQUEUE_EVERY": "10",
            "OUTBOX_RELAY_EVERY": "10", "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "config.settings",
        }
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.worker_logs: list[Path] = []
        self.events: list[str] = []
        self.sent: list[int] = []  # frame ids answered 202
        self.refused: collections.Counter[str] = collections.Counter()
        self.latencies: list[tuple[float, float]] = []  # (when sent, seconds) of each POST /process
        self.redis_down: tuple[float, float] = (0.0, 0.0)
        self.lock = threading.Lock()
        self.t0 = time.monotonic()

    # --- processes ---------------------------------------------------------------------------
    def note(self, text: str) -> None:
        line = f"[{time.monotonic() - self.t0:6.1f}s] {text}"
        self.events.append(line)
        print(line, flush=True)

    def start(self, name: str, argv: list[str], log: Path | None = None) -> subprocess.Popen[bytes]:
        out = open(log or self.tmp / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the process
        process = subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        self.procs[name] = process
        return process

    def kill(self, name: str) -> None:
        process = self.procs[name]
        try:
            os.killpg(process.pid, signal.SIGKILL)  # the whole group: a prefork worker's children too
        except ProcessLookupError:
            pass
        process.wait(timeout=30)

    def stop_all(self) -> None:
        for name in list(self.procs):
            process = self.procs[name]
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                    process.wait(timeout=15)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    os.killpg(process.pid, signal.SIGKILL)
        print(f"logs: {self.tmp}")

    def start_redis(self) -> None:
        self.start("redis", ["redis-server", "--port", str(self.args.redis_port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no"])
        self.wait_port(self.args.redis_port)

    def start_dynalite(self) -> None:
        self.start("dynalite", [str(ROOT / "node_modules" / ".bin" / "dynalite"), "--host", "127.0.0.1",
                                "--port", str(self.args.dynamo_port), "--path", str(self.tmp / "dynamo")])
        self.wait_port(self.args.dynamo_port)

    def start_worker(self) -> None:
        log = self.tmp / f"worker-{len(self.worker_logs)}.log"
        self.worker_logs.append(log)
        self.start("worker", [str(VENV_BIN / "celery"), "-A", "config", "worker", "--loglevel=INFO",
                              "--concurrency=2", "-n", f"faultrun-{len(self.worker_logs)}@%h"], log)

    def start_web(self) -> None:
        self.start("web", [str(VENV_BIN / "gunicorn"), "config.wsgi", "-b", f"127.0.0.1:{self.args.web_port}",
                           "-w", "2", "--threads", "4", "--timeout", "60",
                           # Longer than a student's interval: an idle keep-alive closed just as the
                           # next frame goes out would read as a refused frame.
                           "--keep-alive", "10"])
        self.wait_port(self.args.web_port, timeout=60)

    @staticmethod
    def wait_port(port: int, timeout: float = 30) -> None:
        import socket

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"nothing listens on port {port}")

    # --- set-up -----------------------------------------------------------------------------
    def prepare_database(self) -> None:
        import psycopg

        url = self.args.database_url
        if url.startswith("postgres"):
            base, _, name = url.rpartition("/")
            with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{name}"')
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=self.env, check=True)

    def prepare_tenant(self) -> list[tuple[int, str]]:
        """An institution, its exam and one running session per student: (session id, token)."""
        os.environ.update(self.env)
        import django

        django.setup()
        from django.utils import timezone

        from accounts import services as accounts
        from accounts import tenancy
        from exams.models import Exam, ExamSession
        from exams.statuses import SessionStatus
        from proctoring.stores import dynamodb

        dynamodb.setup_tables()
        institution, _admin = accounts.institution_create(slug="faultrun", name="Fault run",
                                                          admin_email="admin@faultrun.test",
                                                          admin_password="fault-run-password-1")
        sessions = []
        with tenancy.tenant_scope(institution):
            exam = Exam.objects.create(institution=institution, title="Fault run", debounce_frames=1)
            for n in range(self.args.students):
                student = accounts.user_create(institution=institution, email=f"s{n}@faultrun.test", role="student")
                # Made running directly: the run is about the frame path, not the rules to start.
                session = ExamSession.objects.create(institution=institution, exam=exam, student=student,
                                                     status=SessionStatus.IN_PROGRESS, started_at=timezone.now())
                sessions.append((session.pk, accounts.user_api_token(user=student)))
        return sessions

    # --- traffic ----------------------------------------------------------------------------
    def student(self, session_id: int, token: str, index: int, until: float) -> None:
        import base64

        import requests

        pictures = [base64.b64encode((FIXTURES / n).read_bytes()).decode()
                    for n in ("signer1_b.jpg", "empty_room.jpg", "empty_room.jpg", "signer1_b.jpg")]
        url = f"http://127.0.0.1:{self.args.web_port}/process"
        n = index
        with requests.Session() as client:
            client.headers["Authorization"] = f"Token {token}"
            while time.monotonic() < until:
                body = {"image": pictures[n % len(pictures)], "session": session_id}
                started = time.monotonic()
                try:
                    response = client.post(url, json=body, timeout=30)
                except requests.RequestException as exc:
                    with self.lock:
                        self.refused[type(exc).__name__] += 1
                else:
                    with self.lock:
                        self.latencies.append((started, time.monotonic() - started))
                        if response.status_code == 202:
                            self.sent.append(response.json()["frame"])
                            n += 1
                        else:
                            self.refused[str(response.status_code)] += 1
                time.sleep(self.args.interval)

    def worker_inside_analysis(self, timeout: float = 60) -> bool:
        log = self.worker_logs[-1]
        before = log.read_text(errors="replace").count("Analysing frame") if log.exists() else 0
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if log.exists() and log.read_text(errors="replace").count("Analysing frame") > before:
                return True
            time.sleep(0.02)
        return False

    def faults(self, until: float) -> None:
        span = until - time.monotonic()
        time.sleep(span * 0.15)
        if self.worker_inside_analysis():
            self.kill("worker")
            self.note("worker SIGKILLed inside an analysis")
        else:
            self.kill("worker")
            self.note("worker SIGKILLed (no analysis seen within 60 s)")
        time.sleep(2)
        self.start_worker()
        self.note("worker started again (the supervisor's job)")
        time.sleep(span * 0.2)
        self.kill("redis")
        down = time.monotonic()
        self.note("redis-server SIGKILLed (no persistence: its queue is gone)")
        time.sleep(5)
        self.redis_down = (down, time.monotonic())
        self.start_redis()
        self.note("redis-server started again, empty")
        time.sleep(span * 0.2)
        self.kill("dynalite")
        self.note("dynalite SIGKILLed")
        time.sleep(10)
        self.start_dynalite()
        self.note("dynalite started again")

    # --- the run ----------------------------------------------------------------------------
    def run(self) -> int:
        self.start_redis()
        self.start_dynalite()
        self.prepare_database()
        sessions = self.prepare_tenant()
        self.start_web()
        self.start_worker()
        self.start("beat", [str(VENV_BIN / "celery"), "-A", "config", "beat", "--loglevel=INFO",
                            "-s", str(self.tmp / "beat-schedule")])
        time.sleep(3)
        self.note(f"sending frames: {len(sessions)} students, one frame every {self.args.interval} s each, "
                  f"for {self.args.seconds} s")
        until = time.monotonic() + self.args.seconds
        threads = [threading.Thread(target=self.student, args=(sid, token, i, until))
                   for i, (sid, token) in enumerate(sessions)]
        threads.append(threading.Thread(target=self.faults, args=(until,)))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.note(f"sending stopped: {len(self.sent)} frames answered 202")
        recovered = self.drain()
        self.note("recovered" if recovered else f"NOT recovered within {self.args.drain} s")
        return self.report(recovered)

    def drain(self) -> bool:
        from proctoring.models import Frame, FrameStatus, OutboxMessage

        deadline = time.monotonic() + self.args.drain
        while time.monotonic() < deadline:
            pending = Frame.unscoped.filter(status=FrameStatus.PENDING).count()
            unsent = OutboxMessage.objects.filter(sent_at__isnull=True).count()
            if pending == 0 and unsent == 0:
                return True
            time.sleep(2)
        return False

    def report(self, recovered: bool) -> int:
        from proctoring.models import Frame, FrameStatus, Incident, OutboxMessage
        from proctoring.stores import dynamodb

        frames = {f.pk: f for f in Frame.unscoped.all()}
        sent = set(self.sent)
        stored = sent & set(frames)
        analysed = {pk for pk in stored if frames[pk].status == FrameStatus.DONE}
        failed = {pk for pk in stored if frames[pk].status == FrameStatus.FAILED}
        applied_twice = [pk for pk in stored if frames[pk].attempts > 1]
        starts: collections.Counter[int] = collections.Counter()
        for log in self.worker_logs:
            for match in re.finditer(r"Analysing frame (\d+) ", log.read_text(errors="replace")):
                starts[int(match.group(1))] += 1
        started_twice = sorted(pk for pk, count in starts.items() if count > 1)

        incidents = list(Incident.unscoped.select_related("session"))
        items: list[dict[str, Any]] = []
        for session_id in {i.session_id for i in incidents}:
            items += dynamodb.incidents_of_session(incidents[0].institution_id, session_id)
        by_id = collections.Counter(int(item["IncidentId"]["N"]) for item in items)
        versions = {int(item["IncidentId"]["N"]): int(item["Version"]["N"]) for item in items}
        mirrored = [i for i in incidents if versions.get(i.pk) == i.version]
        stale = [i for i in incidents if i.pk in versions and versions[i.pk] != i.version]
        missing = [i for i in incidents if i.pk not in versions]
        doubled_items = [pk for pk, count in by_id.items() if count > 1]
        # An incident counted twice would have more frames than the frames that were judged.
        counted = [i for i in incidents if i.frame_count > Frame.unscoped.filter(session_id=i.session_id).count()]

        lost_frames = len(sent - set(frames)) + len(stored - analysed - failed)
        lost_incidents = len(missing) + len(stale)
        duplicated = len(applied_twice) + len(doubled_items) + len(counted)
        print("\n=== fault run ===")
        for line in self.events:
            print(line)
        print(f"frames sent (202): {len(sent)}   refused: {dict(self.refused) or 0}")
        during = sorted(d for at, d in self.latencies if self.redis_down[0] <= at <= self.redis_down[1])
        overall = sorted(d for _, d in self.latencies)
        if overall:
            print(f"POST /process latency: median {overall[len(overall) // 2]:.3f} s, max {overall[-1]:.3f} s; "
                  f"while Redis was down: {len(during)} requests, max {max(during, default=0):.3f} s")
        print(f"frames stored: {len(stored)}   analysed: {len(analysed)}   failed (bad image): {len(failed)}   "
              f"still pending: {len(stored - analysed - failed)}")
        print(f"analyses started twice (a worker killed mid-analysis): {len(started_twice)} {started_twice[:10]}")
        print(f"incidents stored: {len(incidents)}   mirrored at their latest version: {len(mirrored)}   "
              f"stale in DynamoDB: {len(stale)}   missing: {len(missing)}")
        print(f"outbox unsent: {OutboxMessage.objects.filter(sent_at__isnull=True).count()}")
        print(f"LOST: frames {lost_frames}, incidents {lost_incidents}")
        print(f"DUPLICATED: results applied twice {len(applied_twice)}, DynamoDB items doubled "
              f"{len(doubled_items)}, incidents over-counted {len(counted)}")
        ok = recovered and lost_frames == 0 and lost_incidents == 0 and duplicated == 0
        print("RESULT:", "PASS" if ok else "FAIL")
        return 0 if ok else 1


if __name__ == "__main__":
    if shutil.which("redis-server") is None:
        sys.exit("redis-server is needed")
    sys.exit(main())
