"""Pipeline benchmarks (printed, never asserted): run by `make bench` against the stack services.

1. Ingest: POST /process (store + enqueue, no wait) with 32 concurrent clients (wrk) against
   gunicorn on this machine; requests/s and p50/p99 latency. No worker runs meanwhile.
2. End to end: frames posted at 10 frames/s for 60 s with one Celery worker on the local engine;
   p50/p95 of (result stored − frame posted).
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.utils import timezone  # noqa: E402
from PIL import Image  # noqa: E402

from accounts import services as account_services  # noqa: E402
from accounts import tenancy  # noqa: E402
from accounts.models import Institution, User  # noqa: E402
from exams import services as exam_services  # noqa: E402
from exams.models import Exam  # noqa: E402
from exams.statuses import SessionStatus  # noqa: E402
from proctoring.models import Frame  # noqa: E402

PORT = 8100
FIXTURE = ROOT / "tests" / "fixtures" / "images" / "signer1_b.jpg"


def frame_640x480() -> bytes:
    image = Image.open(FIXTURE).convert("RGB").resize((640, 480))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=80)
    return out.getvalue()


def bench_session() -> tuple[int, str]:
    """A fresh in-progress session of a bench student; answers (session id, student token)."""
    institution, _ = Institution.objects.get_or_create(slug="bench", defaults={"name": "Benchmark Institute"})
    student = User.objects.filter(email="student@bench.test").first() or account_services.user_create(
        institution=institution, email="student@bench.test", role="student", full_name="Bench Student")
    with tenancy.tenant_scope(institution):
        exam = Exam.objects.create(institution=institution, title=f"Bench {timezone.now():%H:%M:%S}",
                                   debounce_frames=3)
        session = exam_services.session_create(exam=exam, student=student)
        for to in (SessionStatus.CHECKING, SessionStatus.IN_PROGRESS):
            exam_services.session_transition(session_id=session.pk, to=to, actor=student)
    return session.pk, account_services.user_api_token(user=student)


def start_gunicorn(workers: int, threads: int, worker_class: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{PORT}",
               "--workers", str(workers), "--threads", str(threads), "--worker-class", worker_class,
               "--log-level", "warning", "--backlog", "512"]
    # The bench measures capacity with one session and one student: the abuse limits (a frame per
    # capture interval, bytes per user, API calls per user) would answer most of it with 429.
    unlimited = {"FRAME_RATE_BURST": "100000000", "FRAME_BYTES_PER_USER": str(2**62), "API_RATE_USER": "100000/s"}
    server = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **unlimited})
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{PORT}/healthz", timeout=1)
            return server
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("gunicorn did not start")


def ingest(session_id: int, token: str, seconds: int, connections: int) -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (make bench installs it: apt-get install wrk).")
    body = json.dumps({"image": base64.b64encode(frame_640x480()).decode(), "session": session_id})
    with tempfile.TemporaryDirectory() as folder:
        body_file = Path(folder) / "body.json"
        body_file.write_text(body)
        script = Path(folder) / "post.lua"
        script.write_text(
            'wrk.method = "POST"\n'
            f'wrk.headers["Authorization"] = "Token {token}"\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
            f'local f = io.open("{body_file}", "r"); wrk.body = f:read("*a"); f:close()\n'
            'done = function(summary, latency, requests)\n'
            '  io.write(string.format("codes: non2xx=%d errors=%d\\n", summary.errors.status,'
            ' summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))\n'
            '  for _, p in pairs({50, 90, 99}) do\n'
            '    io.write(string.format("p%d_ms=%.1f\\n", p, latency:percentile(p) / 1000))\n'
            '  end\n'
            'end\n'
        )
        result = subprocess.run(
            ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--timeout", "5s", "-s", str(script),
             f"http://127.0.0.1:{PORT}/process"], capture_output=True, text=True, check=True)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    p50, p90, p99 = (re.search(rf"p{p}_ms=([\d.]+)", result.stdout) for p in (50, 90, 99))
    codes = re.search(r"codes: (.*)", result.stdout)
    print(f"ingest  {connections} clients, {seconds} s, {len(body) / 1024:.0f} KiB JSON bodies: "
          f"{float(rate.group(1)):.0f} req/s  p50 {p50.group(1)} ms  p90 {p90.group(1)} ms  "
          f"p99 {p99.group(1)} ms  ({codes.group(1)})  [target >= 300 req/s, p99 <= 100 ms]")


def end_to_end(session_id: int, token: str, seconds: int, rate: float) -> None:
    body = json.dumps({"image": base64.b64encode(frame_640x480()).decode(), "session": session_id}).encode()
    sent: dict[int, float] = {}
    errors = 0
    lock = threading.Lock()

    def post_one() -> None:
        nonlocal errors
        request = urllib.request.Request(f"http://127.0.0.1:{PORT}/process", data=body, method="POST", headers={
            "Authorization": f"Token {token}", "Content-Type": "application/json"})
        started = time.time()
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                frame_id = json.loads(response.read())["frame"]
            with lock:
                sent[frame_id] = started
        except OSError:
            with lock:
                errors += 1

    worker = subprocess.Popen([sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo",
                               "--loglevel=WARNING", "-n", "bench@%h"], cwd=ROOT)
    time.sleep(8)  # the worker loads the models on its first frame; warm it up
    post_one()
    time.sleep(3)
    sent.clear()
    threads = []
    start = time.monotonic()
    for i in range(int(seconds * rate)):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        thread = threading.Thread(target=post_one)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        done = Frame.unscoped.filter(pk__in=sent, analysed_at__isnull=False).count()
        if done == len(sent):
            break
        time.sleep(0.5)
    worker.send_signal(signal.SIGTERM)
    worker.wait(timeout=30)
    latencies = sorted(
        (analysed.timestamp() - sent[pk]) * 1000
        for pk, analysed in Frame.unscoped.filter(pk__in=sent, analysed_at__isnull=False)
        .values_list("pk", "analysed_at")
    )
    if not latencies:
        print("end-to-end: no frame was analysed")
        return
    p95 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))]
    print(f"end-to-end  {rate:.0f} frames/s for {seconds} s, one worker: {len(latencies)}/{len(sent)} analysed, "
          f"p50 {statistics.median(latencies):.0f} ms  p95 {p95:.0f} ms  max {latencies[-1]:.0f} ms  "
          f"post errors {errors}  [target p95 <= 1000 ms]")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ingest-seconds", type=int, default=20)
    parser.add_argument("--e2e-seconds", type=int, default=60)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--worker-class", default="sync")
    parser.add_argument("--only", choices=["ingest", "e2e"], default=None)
    args = parser.parse_args()
    if not os.environ.get("REDIS_URL") or not os.environ.get("DATABASE_URL"):
        raise SystemExit("Run against the stack: make bench sets DATABASE_URL and REDIS_URL.")
    server = start_gunicorn(args.workers, args.threads, args.worker_class)
    try:
        if args.only in (None, "ingest"):
            session_id, token = bench_session()
            ingest(session_id, token, args.ingest_seconds, 32)
            import redis

            redis.Redis.from_url(os.environ["REDIS_URL"]).delete("celery")  # the ingest frames are not analysed
            Frame.unscoped.filter(session_id=session_id).delete()
        if args.only in (None, "e2e"):
            session_id, token = bench_session()
            end_to_end(session_id, token, args.e2e_seconds, args.rate)
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
