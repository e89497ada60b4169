"""make stack's share-nothing nodes (scripts/stack_nodes.py) and the scale benchmark's load generator's
schedule and statistics (scripts/loadgen.py). No timing is asserted."""

from __future__ import annotations

import configparser
import math
from pathlib import Path
from typing import Any

import pytest

from scripts import loadgen, stack_nodes


def test_it_gives_each_web_and_worker_process_its_own_node_folder_port_and_log(tmp_path: Path) -> None:
    var = tmp_path / "var"
    (var / "nodes" / "worker-9" / "tmp").mkdir(parents=True)  # a node of a larger stack started before
    config_path = stack_nodes.prepare(stack_nodes.nodes(web=3, workers=2, host="127.0.0.1", port=8106), var=var)
    config = configparser.RawConfigParser()
    config.read(config_path)
    programs = [section.split(":", 1)[1] for section in config.sections() if section.startswith("program:")]
    assert programs == ["web-1", "web-2", "web-3", "worker-1", "worker-2", "beat"]
    assert sorted(p.name for p in (var / "nodes").iterdir() if p.is_dir()) == sorted(programs)
    binds = [config.get(f"program:web-{i}", "command").split("--bind ")[1].split()[0] for i in (1, 2, 3)]
    assert binds == ["127.0.0.1:8106", "127.0.0.1:8107", "127.0.0.1:8108"]
    for name in programs:
        home = var / "nodes" / name
        section = f"program:{name}"
        assert config.get(section, "directory") == str(home) and (home / "tmp").is_dir()
        assert config.get(section, "stdout_logfile").startswith(f"{home}/")
        environment = config.get(section, "environment")
        assert f'VAR_DIR="{home}"' in environment and f'TMPDIR="{home / "tmp"}"' in environment
        assert f'STATIC_ROOT="{var / "static"}"' in environment  # the release's files, read-only
        assert "--chdir" not in config.get(section, "command") and "--workdir" not in config.get(section, "command")
    workers = [config.get(f"program:worker-{i}", "command") for i in (1, 2)]
    assert all("--pool=solo" in command for command in workers)
    assert [command.split(" -n ")[1] for command in workers] == ["worker-1@%%h", "worker-2@%%h"]  # %h for supervisord
    assert config.get("program:worker-1", "stopwaitsecs") == "30"
    assert sum("beat" in config.get(f"program:{name}", "command") for name in programs) == 1


def test_it_refuses_a_stack_without_a_web_process() -> None:
    with pytest.raises(ValueError):
        stack_nodes.nodes(web=0, workers=1, host="127.0.0.1", port=8106)


def test_it_computes_percentiles_by_linear_interpolation() -> None:
    values = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert loadgen.percentile(values, 0) == 1.0 and loadgen.percentile(values, 100) == 5.0
    assert loadgen.percentile(values, 50) == 3.0
    assert loadgen.percentile(values, 95) == pytest.approx(4.8)
    assert loadgen.percentile(list(range(1, 101)), 99) == pytest.approx(99.01)
    assert loadgen.percentile([7.0], 99) == 7.0 and math.isnan(loadgen.percentile([], 50))
    assert loadgen.summary([0.1, 0.2, 0.3]) == "200 / 290 / 298 ms"


def test_it_schedules_every_student_every_interval_whatever_the_answers() -> None:
    posts = loadgen.schedule(students=50, interval=5, duration=30, seed=3)
    assert posts == sorted(posts)
    by_student: dict[int, list[float]] = {}
    for offset, student, n in posts:
        assert 0 <= offset < 30
        by_student.setdefault(student, []).append(offset)
        assert n == len(by_student[student]) - 1
    assert sorted(by_student) == list(range(50))
    for offsets in by_student.values():
        assert offsets[0] < 5 and len(offsets) in (5, 6)  # 30 s at one frame per 5 s, from a phase in [0, 5)
        assert all(b - a == pytest.approx(5) for a, b in zip(offsets, offsets[1:], strict=False))
    # Students start spread over the first interval, not all in the same instant.
    starts = sorted(offsets[0] for offsets in by_student.values())
    assert starts[-1] - starts[0] > 4 and len(set(starts)) == 50
    assert 9.0 <= len(posts) / 30 <= 10.0  # offered: students / interval frames per second


def test_it_follows_a_status_url_as_the_page_does() -> None:
    assert loadgen.follow_delays(5) == [0.2, 0.4, 0.8, 1.0, 1.0, 1.0]
    assert sum(loadgen.follow_delays(8)) <= 8 and loadgen.follow_delays(0.1) == []


def test_the_camera_check_page_posts_follows_asks_the_gate_and_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    """As static/js/check.js: a frame, its status until analysed, the gate's status, 2 s; again (loadgen.check_run,
    against canned answers: the second status poll finds the frame analysed)."""
    import asyncio
    import json

    asked: list[tuple[str, str]] = []
    polls = {"n": 0}

    async def http(host: str, port: int, method: str, path: str, headers: dict, body: bytes = b"",
                   timeout: float = 30) -> tuple[int, bytes]:
        asked.append((method, path))
        if path == "/process":
            queued = {"frame": len(asked), "status": "pending", "status_url": "/api/v1/frames/1/"}
            return 202, json.dumps(queued).encode()
        if path.startswith("/api/v1/frames/"):
            polls["n"] += 1
            return 200, json.dumps({"status": "done" if polls["n"] % 2 == 0 else "pending"}).encode()
        return 200, b"{}"

    async def sleep(seconds: float) -> None:  # the generator's pauses, without the waiting
        await real_sleep(0)

    real_sleep = asyncio.sleep
    monkeypatch.setattr(loadgen, "http", http)
    monkeypatch.setattr(loadgen.asyncio, "sleep", sleep)
    monkeypatch.setattr(loadgen, "CHECK_PAUSE", 0.0)
    student = loadgen.Student(session=7, auth={}, port=1, frames=[b"{}"])

    results = asyncio.run(loadgen.check_run([student], duration=0.05))

    assert asked[:4] == [("POST", "/process"), ("GET", "/api/v1/frames/1/"), ("GET", "/api/v1/frames/1/"),
                         ("GET", "/api/v1/sessions/7/gate")]
    assert results.offered == len(results.frame_ids) == len(results.to_result) == results.followed["done"] >= 1


def test_the_camera_check_page_slows_once_the_gate_is_passed(monkeypatch: pytest.MonkeyPatch) -> None:
    """As static/js/check.js showGate: settled (the exam may start, or the head turns and the identity passed), the
    next frame goes CHECK_SETTLED_PAUSE after the gate's answer, else CHECK_PAUSE."""
    import asyncio
    import json

    passed = {"liveness": {"passed": True}, "identity": {"passed": True}, "can_start": False}
    assert loadgen.gate_settled(passed) and loadgen.gate_settled({"can_start": True})
    assert loadgen.gate_settled({"liveness": {"passed": True}, "identity": {"passed": False},
                                 "identity_approved": True})
    assert not loadgen.gate_settled({**passed, "liveness": {"passed": False}})
    assert not loadgen.gate_settled({**passed, "identity": None}) and not loadgen.gate_settled([])
    answers = iter([passed, {**passed, "liveness": {"passed": False}}] * 50)

    async def http(host: str, port: int, method: str, path: str, headers: dict, body: bytes = b"",
                   timeout: float = 30) -> tuple[int, bytes]:
        if path == "/process":
            return 409, b"{}"  # (a frame refused: no status to follow)
        return 200, json.dumps(next(answers)).encode()

    slept = fake_network(monkeypatch, http)
    results = asyncio.run(loadgen.check_run([loadgen.Student(session=7, auth={}, port=1, frames=[b"{}"])],
                                            duration=0.02))
    assert slept[:2] == [loadgen.CHECK_SETTLED_PAUSE, loadgen.CHECK_PAUSE] and results.settled >= 1


def fake_network(monkeypatch: pytest.MonkeyPatch, http: Any) -> list[float]:
    """The load generator's requests answered by ``http``; its pauses recorded (the list answered), not waited."""
    import asyncio

    slept: list[float] = []
    real_sleep = asyncio.sleep

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await real_sleep(0.001)

    monkeypatch.setattr(loadgen, "http", http)
    monkeypatch.setattr(loadgen.asyncio, "sleep", sleep)
    return slept


def test_a_post_without_an_answer_is_counted_and_the_check_page_tries_again_after_its_pause(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A POST that times out: counted by its exception's name, no status followed; the check page asks no gate status
    for it and sends its next frame CHECK_PAUSE later, as static/js/check.js does after a failed upload."""
    import asyncio

    asked: list[str] = []

    async def http(host: str, port: int, method: str, path: str, headers: dict, body: bytes = b"",
                   timeout: float = 30) -> tuple[int, bytes]:
        asked.append(path)
        raise TimeoutError

    slept = fake_network(monkeypatch, http)
    student = loadgen.Student(session=7, auth={}, port=1, frames=[b"{}"])
    checked = asyncio.run(loadgen.check_run([student], duration=0.01))
    assert set(asked) == {"/process"} and set(slept) == {loadgen.CHECK_PAUSE}
    assert checked.codes == {"TimeoutError": checked.offered} and not checked.frame_ids
    asked.clear()
    ran = asyncio.run(loadgen.run([student], interval=5, duration=5, messages=False))
    assert asked == ["/process"] and ran.codes == {"TimeoutError": 1} and not ran.ingest and not ran.followed


def test_each_simulated_student_is_a_person_the_pool_shows_at_least_twice() -> None:
    """Their first picture is registered as their reference face; their frames are of the same person."""
    from scripts.bench_scale import people_of

    pool = [("ann", b"a1"), ("", b"room"), ("bob", b"b1"), ("ann", b"a2"), ("cy", b"c1"), ("bob", b"b2"),
            ("ann", b"a3")]
    assert people_of(pool) == [[b"a1", b"a2", b"a3"], [b"b1", b"b2"]]


def test_the_scale_sweep_halves_the_gap_between_a_pass_and_a_fail() -> None:
    from scripts.bench_scale import capacity_of, refine

    # 80 passed, 120 failed: 100; it passed: 110; it failed: the gap (10) is a tenth of 100, left.
    assert refine([(40, True), (80, True), (120, False)]) == 100
    assert refine([(80, True), (120, False), (100, True)]) == 110
    assert refine([(80, True), (120, False), (100, True), (110, False)]) is None
    assert capacity_of([(80, True), (120, False), (100, True), (110, False)]) == 100
    # A pass above a failure (noise) does not count; nothing failed: no refining, the largest passed.
    assert capacity_of([(80, True), (120, False), (100, False), (130, True)]) == 80
    assert refine([(5, True), (10, True)]) is None and capacity_of([(5, True), (10, True)]) == 10
    assert capacity_of([(5, False)]) == 0 and refine([(5, False)]) is None


def test_every_student_looks_at_its_inbox_every_second_from_its_first_frame() -> None:
    posts = loadgen.schedule(students=20, interval=5, duration=30, seed=3)
    looks = loadgen.message_schedule(students=20, interval=5, duration=30, seed=3)
    assert looks == sorted(looks)
    first_frame = {student: offset for offset, student, n in posts if n == 0}
    by_student: dict[int, list[float]] = {}
    for offset, student in looks:
        assert offset < 30
        by_student.setdefault(student, []).append(offset)
    assert sorted(by_student) == list(range(20))
    for student, offsets in by_student.items():
        assert offsets[0] == pytest.approx(first_frame[student])  # the exam page looks as it opens
        assert all(b - a == pytest.approx(loadgen.PAGE_TICK) for a, b in zip(offsets, offsets[1:], strict=False))


def test_a_student_polls_its_messages_only_while_no_frame_brought_them_and_at_most_every_four_seconds() -> None:
    """As static/js/exam.js pollMessages: frames every 5 s each bring the inbox, so no poll goes between them."""
    assert loadgen.inbox_due(now=0.0, inbox_at=None, polled_at=None, interval=5)  # the page as it opens
    assert not loadgen.inbox_due(now=10.0, inbox_at=4.0, polled_at=None, interval=5)  # a frame's 202 6 s ago
    assert loadgen.inbox_due(now=10.6, inbox_at=4.0, polled_at=None, interval=5)  # frames stopped coming
    assert not loadgen.inbox_due(now=10.6, inbox_at=4.0, polled_at=7.0, interval=5)  # a poll 3.6 s ago
    assert loadgen.inbox_due(now=11.0, inbox_at=4.0, polled_at=7.0, interval=5)
    # A slow capture interval: frames every 30 s, and a poll in between once the last frame's inbox is 6.5 s old.
    assert loadgen.inbox_fresh(30) == 6.5 and loadgen.inbox_fresh(2) == 3.5
