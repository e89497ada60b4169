"""The open-loop load generator of `make bench-scale` (scripts/bench_scale.py): simulated students that post a
webcam frame every capture interval whatever the answers do, and follow each 202's status URL as the
browser does (static/js/camera.js followStatus); each reads its proctors' messages from its frames' answers and
polls them only when those stop coming, as the exam page does (static/js/exam.js pollMessages, ``inbox_due``).
Plus the statistics it prints.
No Django here.

HTTP: a minimal HTTP/1.1 client on asyncio streams, one connection per request (gunicorn closes them
anyway), so that the generator spends as little of the shared CPU as it can and adds no dependency
(neither aiohttp nor httpx is in the virtualenv).
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0–100) with linear interpolation between the closest ranks (numpy's default)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(values: Sequence[float]) -> str:
    """``p50 / p95 / p99`` in ms of values in seconds, or "n/a"."""
    if not values:
        return "n/a"
    return " / ".join(f"{percentile(values, p) * 1000:.0f}" for p in (50, 95, 99)) + " ms"


def schedule(*, students: int, interval: float, duration: float, seed: int = 1) -> list[tuple[float, int, int]]:
    """Open loop: (offset in s, student, frame number) of every post, sorted by time.

    Each student starts at a random phase within the first interval (students do not all start the exam in
    the same second) and then posts every ``interval`` seconds until ``duration``, whatever the server does.
    """
    phases = random.Random(seed)
    posts = []
    for student in range(students):
        start = phases.uniform(0, interval)
        for n in range(math.ceil((duration - start) / interval)):
            posts.append((start + n * interval, student, n))
    return sorted(posts)


MESSAGES_EVERY = 4.0  # static/js/exam.js: INBOX_POLL_MS, the most often a page polls its messages
PAGE_TICK = 1.0  # static/js/exam.js: pollMessages looks every second whether a poll is due


def inbox_fresh(interval: float) -> float:
    """static/js/exam.js INBOX_FRESH_MS: how long a frame's inbox (its 202) spares the page a message poll."""
    return min(interval, 5.0) + 1.5


def inbox_due(*, now: float, inbox_at: float | None, polled_at: float | None, interval: float) -> bool:
    """static/js/exam.js pollMessages: a poll goes only when no frame brought the inbox lately and the last poll
    is ``MESSAGES_EVERY`` old (times in seconds; None: never)."""
    return ((inbox_at is None or now - inbox_at >= inbox_fresh(interval))
            and (polled_at is None or now - polled_at >= MESSAGES_EVERY))


def message_schedule(*, students: int, interval: float, duration: float, seed: int = 1,
                     every: float = PAGE_TICK) -> list[tuple[float, int]]:
    """(offset in s, student) of every look of the exam page at its inbox: from the student's first frame
    (``schedule``'s phase), every ``every`` seconds until ``duration``. A look polls only when ``inbox_due``."""
    phases = random.Random(seed)
    polls = []
    for student in range(students):
        start = phases.uniform(0, interval)
        polls += [(start + n * every, student) for n in range(math.ceil((duration - start) / every))]
    return sorted(polls)


def follow_delays(seconds: float) -> list[float]:
    """The browser's poll delays for a status URL followed up to ``seconds``: 200 ms doubling to 1 s."""
    delays, total, delay = [], 0.0, 0.2
    while total + delay <= seconds:
        delays.append(delay)
        total += delay
        delay = min(delay * 2, 1.0)
    return delays


async def http(host: str, port: int, method: str, path: str, headers: dict[str, str],
               body: bytes = b"", timeout: float = 30) -> tuple[int, bytes]:
    """One HTTP/1.1 request on a fresh connection; answers (status, body)."""
    async def go() -> tuple[int, bytes]:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            head = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close",
                    f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in headers.items())]
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
            await writer.drain()
            status_line = await reader.readline()
            length = None
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            payload = await (reader.readexactly(length) if length is not None else reader.read())
            return int(status_line.split()[1]), payload
        finally:
            writer.close()

    return await asyncio.wait_for(go(), timeout)


@dataclass
class Student:
    session: int
    auth: dict[str, str]  # the headers that sign the student in: a session cookie and CSRF token, or an API token
    port: int
    frames: list[bytes]  # JSON bodies, posted in turn


@dataclass
class Results:
    """What the generator saw; latencies in seconds."""

    offered: int = 0
    ingest: list[float] = field(default_factory=list)  # POST → 202
    to_result: list[float] = field(default_factory=list)  # POST sent → status no longer pending (as polled)
    late_send: list[float] = field(default_factory=list)  # how late the generator sent (its own overload)
    codes: dict[str, int] = field(default_factory=dict)
    followed: dict[str, int] = field(default_factory=dict)  # final status seen while following
    frame_ids: list[int] = field(default_factory=list)
    sent_at: dict[int, float] = field(default_factory=dict)  # frame id → wall clock when posted
    message_polls: int = 0
    inboxes: int = 0  # frames' 202s that brought the inbox
    message_codes: dict[str, int] = field(default_factory=dict)
    settled: int = 0  # camera check: gate answers that said every check passed (check_run)

    def count(self, bucket: dict[str, int], key: str) -> None:
        bucket[key] = bucket.get(key, 0) + 1


async def follow_status(results: Results, host: str, port: int, url: str, headers: dict[str, str], *, sent: float,
                        seconds: float) -> None:
    """Follow a 202's status URL as the browser does (``follow_delays`` up to ``seconds``): counts in
    ``results.followed`` what it ended on and, for a result, the time since ``sent`` (the loop's clock)."""
    loop = asyncio.get_running_loop()
    for delay in follow_delays(seconds):
        await asyncio.sleep(delay)
        try:
            status, payload = await http(host, port, "GET", url, headers)
        except (TimeoutError, OSError, ValueError, IndexError):
            results.count(results.followed, "error")
            return
        state = json.loads(payload).get("status") if status == 200 else f"http {status}"
        if state != "pending":
            results.count(results.followed, str(state))
            if state in ("done", "failed", "shed"):
                results.to_result.append(loop.time() - sent)
            return
    results.count(results.followed, "still pending when the page stopped following")


def frame_headers(student: Student) -> dict[str, str]:
    return {**student.auth, "Content-Type": "application/json"}


async def post_frame(results: Results, host: str, student: Student, body: bytes,
                     timeout: float) -> tuple[dict[str, Any], float] | None | Literal[False]:
    """POST one frame as the pages do, counted in ``results`` (its answer's code; for a 202 the POST → 202 latency,
    the frame's id and when it was sent). Answers the 202's body and when it was sent (the loop's clock); None for
    another answer; False when none came (a timeout, a refused connection)."""
    loop = asyncio.get_running_loop()
    sent, wall = loop.time(), time.time()
    try:
        status, payload = await http(host, student.port, "POST", "/process", frame_headers(student), body, timeout)
    except (TimeoutError, OSError, ValueError, IndexError) as exc:
        results.count(results.codes, type(exc).__name__)
        return False
    results.count(results.codes, str(status))
    if status != 202:
        return None
    results.ingest.append(loop.time() - sent)
    answer = json.loads(payload)
    results.frame_ids.append(answer["frame"])
    results.sent_at[answer["frame"]] = wall
    return answer, sent


async def run(students: list[Student], *, interval: float, duration: float, host: str = "127.0.0.1",
              follow: bool = True, seed: int = 1, timeout: float = 30, messages: bool = True) -> Results:
    """Drive ``students`` open-loop for ``duration`` seconds; answers once every post and poll has ended.
    ``messages``: the students also poll their messages when due (``message_schedule``, ``inbox_due``), as the
    exam page does."""
    results = Results()
    inbox_at: dict[int, float] = {}  # student → when a frame's 202 last brought the inbox (loop time)
    polled_at: dict[int, float] = {}  # student → when its last poll went
    tasks: list[asyncio.Task[None]] = []
    loop = asyncio.get_running_loop()
    start = loop.time()

    async def one(index: int, student: Student, n: int, due: float) -> None:
        results.late_send.append(max(0.0, loop.time() - due))
        posted = await post_frame(results, host, student, student.frames[n % len(student.frames)], timeout)
        if not posted:  # another answer than 202, or none
            return
        answer, sent = posted
        if "inbox" in answer:
            results.inboxes += 1
            inbox_at[index] = loop.time()
        if follow:
            await follow_status(results, host, student.port, answer["status_url"], frame_headers(student), sent=sent,
                                seconds=min(8.0, interval))

    async def inbox(student: Student) -> None:
        results.message_polls += 1
        try:
            status, _ = await http(host, student.port, "GET", f"/api/v1/sessions/{student.session}/messages",
                                   student.auth, timeout=timeout)
        except (TimeoutError, OSError, ValueError, IndexError) as exc:
            results.count(results.message_codes, type(exc).__name__)
            return
        results.count(results.message_codes, str(status))

    events: list[tuple[float, int, int | None]] = [
        (offset, index, n) for offset, index, n in schedule(
            students=len(students), interval=interval, duration=duration, seed=seed)]
    if messages:
        events += [(offset, index, None) for offset, index in message_schedule(
            students=len(students), interval=interval, duration=duration, seed=seed)]
    for offset, index, n in sorted(events, key=lambda event: event[0]):
        due = start + offset
        await asyncio.sleep(max(0.0, due - loop.time()))
        if n is None:
            now = loop.time()
            if inbox_due(now=now, inbox_at=inbox_at.get(index), polled_at=polled_at.get(index), interval=interval):
                polled_at[index] = now
                tasks.append(asyncio.create_task(inbox(students[index])))
            continue
        results.offered += 1
        tasks.append(asyncio.create_task(one(index, students[index], n, due)))
    await asyncio.gather(*tasks)
    return results


CHECK_PAUSE = 2.0  # static/js/check.js loop: the next frame 2 s after the gate's status answered
CHECK_FOLLOW = 10.0  # static/js/check.js checkOnce: followStatus(url, 10)
CHECK_SETTLED_PAUSE = 5.0  # static/js/check.js SETTLED_MS: the pause once every check passed


def gate_settled(gate: Any) -> bool:
    """static/js/check.js showGate's ``settled``: the exam may start, or the head turns and the identity passed."""
    if not isinstance(gate, dict):
        return False
    live, identity = gate.get("liveness") or {}, gate.get("identity") or {}
    return bool(gate.get("can_start") or (live.get("passed") and (gate.get("identity_approved")
                                                                   or identity.get("passed"))))


async def check_run(students: list[Student], *, duration: float, host: str = "127.0.0.1",
                    timeout: float = 30) -> Results:
    """The camera check page (static/js/check.js loop), closed loop: each student posts a frame, follows its
    status URL (up to ``CHECK_FOLLOW`` s), asks for the gate's status, waits ``CHECK_PAUSE`` s
    (``CHECK_SETTLED_PAUSE`` once the gate's answer is settled: ``gate_settled``), and again until ``duration``. Their
    sessions are at the check (``checking``): its frames are carried only once the gate is passed (skipping)."""
    results = Results()
    loop = asyncio.get_running_loop()
    start = loop.time()

    async def page(student: Student) -> None:
        headers = frame_headers(student)
        n = 0
        while loop.time() - start < duration:
            body, n = student.frames[n % len(student.frames)], n + 1
            results.offered += 1
            posted = await post_frame(results, host, student, body, timeout)
            if posted is False:  # no answer at all: the page tries again after its pause
                await asyncio.sleep(CHECK_PAUSE)
                continue
            if posted is not None:
                answer, sent = posted
                await follow_status(results, host, student.port, answer["status_url"], headers, sent=sent,
                                    seconds=CHECK_FOLLOW)
            settled = False
            try:
                status, payload = await http(host, student.port, "GET", f"/api/v1/sessions/{student.session}/gate",
                                             headers, timeout=timeout)
                settled = status == 200 and gate_settled(json.loads(payload))
            except (TimeoutError, OSError, ValueError, IndexError):
                pass
            results.settled += settled
            await asyncio.sleep(CHECK_SETTLED_PAUSE if settled else CHECK_PAUSE)

    await asyncio.gather(*(page(student) for student in students))
    return results


def json_frame(session: int, jpeg: bytes) -> bytes:
    """The body the browser posts: {"image": base64 JPEG, "session": id}."""
    import base64

    return json.dumps({"image": base64.b64encode(jpeg).decode(), "session": session}).encode()


def describe(results: Results, seconds: float) -> dict[str, Any]:
    accepted = len(results.ingest)
    return {"offered_fps": results.offered / seconds, "accepted_fps": accepted / seconds,
            "ingest": summary(results.ingest), "to_result": summary(results.to_result),
            "late_send_p99": summary(results.late_send).split(" / ")[-1], "codes": results.codes,
            "followed": results.followed, "message_polls": results.message_polls, "inboxes": results.inboxes,
            "message_codes": results.message_codes}
