"""Browser tests: Playwright driving Debian's Chromium (headless) against the live test server,
with a fake camera that plays photos from the fixtures (or shows what the test puts on it: PuppetCamera)."""

from __future__ import annotations

import functools
import io
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.db import connections
from PIL import Image
from playwright.sync_api import Browser, Page, sync_playwright

from tests.proctoring.conftest import image

# Playwright's sync API keeps an event loop in this thread; Django's ORM calls from the test body
# are still plain synchronous calls, which this allows (the documented setting for such tests).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output" / "browser"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def _yuv420(fixture: str, width: int, height: int) -> bytes:
    """One Y4M frame (4:2:0) of a fixture photo, centred on a black canvas."""
    picture = Image.open(io.BytesIO(image(fixture))).convert("RGB")
    canvas = Image.new("RGB", (width, height))
    picture.thumbnail((width, height))
    canvas.paste(picture, ((width - picture.width) // 2, (height - picture.height) // 2))
    y, cb, cr = (np.asarray(plane, dtype=np.uint8) for plane in canvas.convert("YCbCr").split())
    u = cb.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3)).astype(np.uint8)
    v = cr.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3)).astype(np.uint8)
    return b"FRAME\n" + y.tobytes() + u.tobytes() + v.tobytes()


# A real camera's noise makes each capture differ; a still picture sent again and again is a frozen camera
# (proctoring.camera). A fake camera plays this many frames of a photo, each with noise of its own, in a loop: a prime
# number of frames at 10 a second, so that captures a whole number of tenths of a second apart never land on one
# frame twice running.
NOISY_FRAMES = 47


def _noisy(frame: bytes, width: int, height: int, seed: int) -> bytes:
    """``frame`` (a Y4M frame of ``_yuv420``) with a camera's noise on its brightness, drawn from ``seed``."""
    head, size = len(b"FRAME\n"), width * height
    luma = np.frombuffer(frame, dtype=np.uint8, count=size, offset=head).astype(np.int16)
    luma = np.clip(luma + np.random.default_rng(seed).integers(-2, 3, size), 0, 255).astype(np.uint8)
    return frame[:head] + luma.tobytes() + frame[head + size:]


@functools.lru_cache(maxsize=8)
def _noisy_frames(fixture: str, width: int, height: int, count: int = NOISY_FRAMES) -> bytes:
    frame = _yuv420(fixture, width, height)
    return b"".join(_noisy(frame, width, height, seed) for seed in range(count))


def y4m_from(fixture: str, folder: Path, width: int = 640, height: int = 480) -> Path:
    """A Y4M video of a fixture photo as a camera films it (``NOISY_FRAMES``; Chromium loops it as the camera)."""
    path = folder / f"{Path(fixture).stem}.y4m"
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        out.write(_noisy_frames(fixture, width, height))
    return path


def y4m_still(fixture: str, folder: Path, width: int = 640, height: int = 480) -> Path:
    """A Y4M video of a fixture photo without a camera's noise: what a virtual camera showing a picture sends."""
    path = folder / f"{Path(fixture).stem}-still.y4m"
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        out.write(_yuv420(fixture, width, height) * 2)
    return path


def y4m_sequence(shots: list[tuple[str, int]], folder: Path, width: int = 640, height: int = 480) -> Path:
    """A Y4M video at one frame per second that shows each (fixture, seconds) in turn; Chromium loops it.
    Photos of a person in several head poses make a head that turns."""
    path = folder / "sequence.y4m"
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F1:1 Ip A1:1 C420jpeg\n".encode())
        for index, (fixture, seconds) in enumerate(shots):
            frame = _yuv420(fixture, width, height)
            for second in range(seconds):
                out.write(_noisy(frame, width, height, seed=1000 * index + second))
    return path


class PuppetCamera:
    """A fake camera whose picture the test changes while Chromium plays it: Chromium reads each frame of a
    Y4M capture file from disk as it plays (at 10 frames a second), so writing another photo over the frames
    in place shows that photo within a frame. ``camera_browser(camera)`` launches a Chromium on it."""

    FRAMES = NOISY_FRAMES

    def __init__(self, fixture: str, folder: Path, width: int = 640, height: int = 480) -> None:
        self.width, self.height = width, height
        self.path = folder / "puppet.y4m"
        self.header = f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode()
        self.path.write_bytes(self.header + _noisy_frames(fixture, width, height))
        self.showing = fixture

    def show(self, fixture: str) -> None:
        if fixture == self.showing:
            return
        frames = _noisy_frames(fixture, self.width, self.height)
        with self.path.open("r+b") as out:  # the same size in place: Chromium's open file sees the new frames
            out.seek(len(self.header))
            out.write(frames)
        self.showing = fixture


# Real frames of one woman turning her head (Intel's head-pose sample), for the liveness challenge the server asks a
# session for (proctoring.gate.challenge_order). A student follows the page's instructions: looks at the camera, turns
# to the side it names, looks back, and so on; ``turn_head_as_asked`` does the same with a PuppetCamera, reading the
# step the page shows (``#liveness[data-step]``), so the test passes only if the page asks for the right turns.
FRONT = "headpose_woman_front.jpg"
POSES = {"face": FRONT, "back": FRONT, "done": FRONT,
         "left": "headpose_woman_her_left.jpg", "right": "headpose_woman_her_right.jpg"}
HEAD_TURN_TIMEOUT = 120_000  # ms: seven frames analysed (3-10 s apart on a busy 2-core machine)


@pytest.fixture
def student_camera(tmp_path: Path) -> PuppetCamera:
    """A camera showing the head-pose woman facing it, for ``turn_head_as_asked``."""
    return PuppetCamera(FRONT, tmp_path)


def turn_head_as_asked(page: Page, camera: PuppetCamera, timeout_ms: int = HEAD_TURN_TIMEOUT) -> None:
    """Follow the liveness instructions on ``page`` until it says the challenge passed."""
    waited = 0
    while True:
        step = page.locator("#liveness").get_attribute("data-step", timeout=timeout_ms)
        if step == "done":
            camera.show(FRONT)
            return
        if waited >= timeout_ms:
            raise AssertionError(f"The liveness challenge did not pass in {timeout_ms} ms (step {step!r}).")
        camera.show(POSES.get(step or "face", FRONT))
        page.wait_for_timeout(200)
        waited += 200


@pytest.fixture
def camera_browser(tmp_path: Path) -> Iterator[Any]:
    """``launch(fixture)`` answers a Chromium whose camera shows that fixture photo (or, given a list of
    (fixture, seconds), those photos in turn; given a PuppetCamera, what the test shows on it; given a path, that Y4M
    video); ``audio``: a WAV
    its microphone plays, looped (media may then play without a click, so that a test can play a clip)."""
    if not Path(CHROMIUM).exists():
        raise RuntimeError("Chromium is not installed: make test installs Debian's chromium package.")
    with sync_playwright() as playwright:
        browsers: list[Browser] = []

        def launch(fixture: str | list[tuple[str, int]] | PuppetCamera | Path | None = None,
                   audio: Path | None = None) -> Browser:
            args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
            if isinstance(fixture, PuppetCamera):
                args.append(f"--use-file-for-fake-video-capture={fixture.path}")
            elif isinstance(fixture, Path):  # a video made by the test (y4m_still)
                args.append(f"--use-file-for-fake-video-capture={fixture}")
            elif fixture:
                video = y4m_sequence(fixture, tmp_path) if isinstance(fixture, list) else y4m_from(fixture, tmp_path)
                args.append(f"--use-file-for-fake-video-capture={video}")
            if audio:
                args += [f"--use-file-for-fake-audio-capture={audio}", "--autoplay-policy=no-user-gesture-required"]
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
            browsers.append(browser)
            return browser

        try:
            yield launch
        finally:
            for browser in browsers:
                browser.close()
            # While Playwright's event loop runs in this thread, Django keeps the test body's database connections
            # apart from the thread's own (asgiref's Local is a context variable under a running loop): close them
            # here, or the test database cannot be dropped at the end of the run ("being accessed by other users").
            connections.close_all()


class Shots:
    """Screenshots of each page, at desktop and phone width, under test-output/browser/<test>/."""

    def __init__(self, name: str) -> None:
        self.folder = OUTPUT / re.sub(r"[^\w.-]+", "_", name)
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.count = 0

    def take(self, page: Page, label: str) -> None:
        self.count += 1
        size = page.viewport_size or {"width": 1280, "height": 900}
        page.screenshot(path=str(self.folder / f"{self.count:02d}-{label}-desktop.png"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=str(self.folder / f"{self.count:02d}-{label}-phone.png"), full_page=True)
        page.set_viewport_size(size)


@pytest.fixture
def shots(request: Any) -> Shots:
    return Shots(request.node.name)


def sign_in(page: Page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def wait_until_true(page: Page, expression: str, timeout_ms: int = 10_000) -> None:
    """Poll a JavaScript expression until it is true. Playwright's `wait_for_function` re-evaluates its
    predicate with `eval` inside the page, which the pages' Content Security Policy forbids; `evaluate`
    goes through the debugging protocol, which the policy does not govern."""
    waited = 0
    while not page.evaluate(expression):
        if waited >= timeout_ms:
            raise AssertionError(f"Still false after {timeout_ms} ms: {expression}")
        page.wait_for_timeout(100)
        waited += 100
