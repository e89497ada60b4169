"""Measure "pay only for what changed" (proctoring/skipping.py): printed, never asserted.

    env -u DATABASE_URL -u REDIS_URL .venv/bin/python scripts/measure_skipping.py \
        [--images /work/shared/data/images] [--minutes 10] [--seed 1] [--seeds N] [--max-age S] [--full-max-age S]

1. The threshold, cross-validated. Pairs of frames are made from the dev set's one-person photos
   (categories B and F of --images): "quiet" pairs are two captures of one still picture (camera
   noise, auto-exposure and lighting jitter, a few pixels of sway, JPEG as the browser encodes it);
   "event" pairs add a phone-sized object or a second person to the picture, or swap the person.
   The threshold is chosen on those (the 5th percentile of the hardest kind of event pair, rounded
   down: a small share of the faintest phones is carried, and the forced full analysis bounds how long),
   then reported on pairs made the same way from the repository's fixture photos, which did not choose it.
2. Recorded sessions played through the real analysis path (services.frame_analyze on stored
   frames, the local engine, the exam's default policy, a registered student), one frame per 5 s:
   a quiet session (the student sitting still) and a busy one (the student moving, a phone and a
   second person appearing, the student leaving, someone else sitting down), each with skipping off
   (FRAME_SKIP_THRESHOLD=0) and on (the product defaults). Prints CPU-seconds per student-hour of
   the analysis path (process CPU time, all threads, around frame_analyze) and the incidents found
   each way, and which incidents of the run without skipping the run with skipping missed; with
   skipping, when frames were analysed in full or refreshed (past the age limit, barely changed: no
   1:1 comparison, no unsafe-content model) and the CPU of a full, a refreshed and a carried frame.
3. With --seeds N: section 2 for N seeds (the camera's noise and the busy student's movements drawn anew each
   time), then the quiet/busy ratio of each and their mean: one seed's ratio moves by a few points with where
   the noise happens to cross the threshold.

The sessions are built from the fixture photos (tests/fixtures/images), which did not choose the
threshold, with the dev set's photo of a phone held on a bus (D_tj_on_bus) as the phone scene.
It runs on a fresh SQLite database in memory (or the test database of DATABASE_URL).
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("PRIVATE_MEDIA_ROOT", tempfile.mkdtemp(prefix="measure-skipping-"))

import logging  # noqa: E402

import django  # noqa: E402

django.setup()
logging.disable(logging.INFO)

from django.conf import settings  # noqa: E402

from proctoring import skipping  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "images"
INTERVAL = 5  # seconds between frames: the exam's default capture interval


# --- frames as a camera sends them ------------------------------------------------------------------

def capture(picture: Image.Image, rng: random.Random) -> bytes:
    """One webcam capture of a still scene: sway, exposure, lighting, sensor noise, JPEG q 80."""
    w, h = picture.size
    dx, dy, zoom = rng.uniform(-2, 2), rng.uniform(-2, 2), rng.uniform(0.995, 1.005)
    frame = picture.transform((w, h), Image.Transform.AFFINE,
                              (1 / zoom, 0, dx + w * (1 - 1 / zoom) / 2, 0, 1 / zoom, dy + h * (1 - 1 / zoom) / 2),
                              resample=Image.Resampling.BILINEAR, fillcolor=picture.getpixel((0, 0)))
    frame = ImageEnhance.Brightness(frame).enhance(rng.uniform(0.95, 1.05))
    frame = ImageEnhance.Contrast(frame).enhance(rng.uniform(0.97, 1.03))
    pixels = np.asarray(frame, dtype=np.float32)
    gradient = np.linspace(rng.uniform(-4, 4), rng.uniform(-4, 4), w, dtype=np.float32)[None, :, None]
    noise = np.random.default_rng(rng.randrange(2**32)).normal(0, 3.0, pixels.shape).astype(np.float32)
    out = io.BytesIO()
    Image.fromarray(np.clip(pixels + gradient + noise, 0, 255).astype(np.uint8)).save(out, "JPEG", quality=80)
    return out.getvalue()


def webcam(path: Path, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A photo framed as a 640x480 webcam picture (centre crop to 4:3, then resized)."""
    picture = Image.open(path).convert("RGB")
    w, h = picture.size
    if w * 3 > h * 4:
        cw = h * 4 // 3
        picture = picture.crop(((w - cw) // 2, 0, (w - cw) // 2 + cw, h))
    else:
        ch = w * 3 // 4
        picture = picture.crop((0, (h - ch) // 3, w, (h - ch) // 3 + ch))
    return picture.resize(size, Image.Resampling.LANCZOS)


def with_phone(picture: Image.Image, rng: random.Random) -> Image.Image:
    """A phone held up: its dark back (about 40x75 px at 640 wide) and the hand holding it, somewhere
    in the lower three quarters of the frame."""
    out = picture.copy()
    w, h = out.size
    pw, ph = int(w * rng.uniform(0.055, 0.075)), int(h * rng.uniform(0.13, 0.17))
    x, y = rng.randrange(0, w - pw), rng.randrange(h // 4, h - ph)
    draw = ImageDraw.Draw(out)
    shade = rng.randrange(15, 70)
    draw.rounded_rectangle((x, y, x + pw, y + ph), radius=5, fill=(shade, shade, shade + 5))
    skin = rng.choice([(224, 172, 140), (198, 134, 98), (141, 85, 56), (92, 58, 40)])
    draw.ellipse((x - pw // 3, y + ph * 2 // 3, x + pw * 4 // 3, y + ph * 4 // 3), fill=skin)
    return out


def with_person(picture: Image.Image, other: Image.Image, rng: random.Random) -> Image.Image:
    """Another person (a second photo, a third of the frame's height or more) at one side."""
    out = picture.copy()
    w, h = out.size
    scale = rng.uniform(0.35, 0.6)
    person = other.resize((int(other.width * scale), int(other.height * scale)))
    left = rng.choice([0, w - person.width])
    out.paste(person, (left, h - person.height))
    return out


# --- 1. the threshold ---------------------------------------------------------------------------------

def pairs(pictures: list[Image.Image], rng: random.Random, repeats: int) -> dict[str, list[float]]:
    """Thumbnail differences of quiet pairs and of each kind of event pair."""
    found: dict[str, list[float]] = {"quiet": [], "phone": [], "second person": [], "someone else": []}
    for _ in range(repeats):
        for i, picture in enumerate(pictures):
            other = pictures[(i + 1 + rng.randrange(len(pictures) - 1)) % len(pictures)]
            before = skipping.thumbnail(capture(picture, rng))
            assert before is not None
            after: dict[str, Image.Image] = {
                "quiet": picture, "phone": with_phone(picture, rng),
                "second person": with_person(picture, other, rng), "someone else": other,
            }
            for kind, scene in after.items():
                thumb = skipping.thumbnail(capture(scene, rng))
                assert thumb is not None
                found[kind].append(skipping.difference(before, thumb))
    return found


def describe(values: list[float]) -> str:
    a = np.array(values)
    return (f"n={len(a):4d}  min {a.min():5.1f}  p5 {np.percentile(a, 5):5.1f}  median {np.median(a):5.1f}  "
            f"p95 {np.percentile(a, 95):5.1f}  max {a.max():5.1f}")


def one_face_photos(images: Path) -> list[Path]:
    with open(images / "manifest.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [images / r["file"] for r in rows
            if r["category"] in {"B", "F"} and r["num_people"] == "1" and r["num_clear_faces"] == "1"]


def threshold_section(images: Path, rng: random.Random) -> None:
    chosen_on = [webcam(p) for p in one_face_photos(images)]
    reported_on = [webcam(FIXTURES / name) for name in (
        "signer1_a.jpg", "signer1_b.jpg", "signer2_a.jpg", "grace_hopper.jpg", "headpose_man.jpg",
        "headpose_woman_front.jpg", "headpose_woman_her_left.jpg", "desk_laptop.jpg")]
    print(f"1. Threshold: chosen on {len(chosen_on)} one-person dev photos (B, F), reported on "
          f"{len(reported_on)} fixture photos")
    choose = pairs(chosen_on, rng, repeats=6)
    for kind, values in choose.items():
        print(f"   chosen on   {kind:14s} {describe(values)}")
    hardest = min((k for k in choose if k != "quiet"), key=lambda k: float(np.percentile(choose[k], 5)))
    chosen = int(np.percentile(choose[hardest], 5))
    print(f"   chosen: {chosen}, the 5th percentile of the hardest event ({hardest}), rounded down; quiet pairs "
          f"below it {sum(v < chosen for v in choose['quiet'])}/{len(choose['quiet'])}. "
          f"Product default FRAME_SKIP_THRESHOLD={settings.FRAME_SKIP_THRESHOLD}")
    threshold = settings.FRAME_SKIP_THRESHOLD
    report = pairs(reported_on, rng, repeats=12)
    for kind, values in report.items():
        print(f"   reported on {kind:14s} {describe(values)}")
    quiet = report["quiet"]
    events = [v for k, vs in report.items() if k != "quiet" for v in vs]
    print(f"   at {threshold}: quiet pairs carried {sum(v < threshold for v in quiet)}/{len(quiet)}; "
          f"event pairs carried (missed) {sum(v < threshold for v in events)}/{len(events)}, of which phones "
          f"{sum(v < threshold for v in report['phone'])}/{len(report['phone'])}")
    started = time.process_time()
    frame = capture(reported_on[0], rng)
    for _ in range(200):
        a = skipping.thumbnail(frame)
        assert a is not None
        skipping.difference(a, a)
    print(f"   cost: {(time.process_time() - started) / 200 * 1000:.2f} CPU-ms per frame (thumbnail + difference)")


# --- 2. recorded sessions through the analysis path -------------------------------------------------



def quiet_session(frames: int) -> list[tuple[str, Image.Image]]:
    student = webcam(FIXTURES / "signer1_a.jpg")
    return [("still", student)] * frames


def busy_session(frames: int, images: Path) -> list[tuple[str, Image.Image]]:
    student, moved_pose = webcam(FIXTURES / "signer1_a.jpg"), webcam(FIXTURES / "signer1_b.jpg")
    two = Image.new("RGB", (640, 480))
    for i, name in enumerate(("signer1_a.jpg", "signer2_a.jpg")):
        two.paste(webcam(FIXTURES / name, (320, 240)), (i * 320, 120))
    phone = webcam(images / "D" / "D_tj_on_bus.jpg")
    empty = webcam(FIXTURES / "empty_room.jpg")
    someone = webcam(FIXTURES / "signer2_a.jpg")
    turned = webcam(FIXTURES / "headpose_woman_her_left.jpg")
    # "*": people (and the camera) move from frame to frame in this scene.
    script = [("student", student, 3), ("*moves", moved_pose, 3), ("*phone on a bus", phone, 4),
              ("student", student, 2), ("*second person", two, 4), ("*moves", student, 2), ("left the room", empty, 4),
              ("*moves", moved_pose, 2), ("*someone else", someone, 4), ("*head turned", turned, 2),
              ("*moves", student, 3)]
    scenes: list[tuple[str, Image.Image]] = []
    while len(scenes) < frames:
        for name, picture, count in script:
            scenes += [(name, picture)] * count
    return scenes[:frames]


def moved(picture: Image.Image, rng: random.Random) -> Image.Image:
    """The scene a moment later in a busy room: people and the camera moved by 15-40 px."""
    dx, dy = (rng.choice([-1, 1]) * rng.uniform(15, 40) for _ in range(2))
    return picture.transform(picture.size, Image.Transform.AFFINE, (1, 0, dx, 0, 1, dy),
                             resample=Image.Resampling.BILINEAR, fillcolor=picture.getpixel((0, 0)))


def play(scenes: list[tuple[str, Image.Image]], *, threshold: int, seed: int) -> dict[str, Any]:
    """Play a session through frame_analyze; answers CPU time, frames carried and incidents."""
    from django.core.files.base import ContentFile
    from django.test.utils import override_settings

    from accounts import services as account_services
    from accounts import tenancy
    from accounts.models import Role
    from exams import services as exam_services
    from exams.models import Exam
    from exams.statuses import SessionStatus
    from proctoring import services
    from proctoring.models import Frame, Incident

    rng = random.Random(seed)
    busy = [name.startswith("*") for name, _ in scenes]
    slug = f"m{seed}t{threshold}{random.randrange(10**6)}"
    institution, admin = account_services.institution_create(
        slug=slug, name=slug, admin_email=f"admin@{slug}.test", admin_password="x-Passw0rd-x")
    student = account_services.user_create(institution=institution, email=f"s@{slug}.test", role=Role.STUDENT,
                                           password="x-Passw0rd-x", full_name="Sam Signer", student_number="S1")
    with tenancy.tenant_scope(institution):
        services.face_register(institution=institution, actor=admin, student=student, full_name="Sam Signer",
                               image=(FIXTURES / "signer1_a.jpg").read_bytes())
        exam = Exam.objects.create(institution=institution, title="Exam", created_by=admin)
        session = exam_services.session_create(exam=exam, student=student)
        for to in (SessionStatus.CHECKING, SessionStatus.IN_PROGRESS):
            exam_services.session_transition(session_id=session.pk, to=to, actor=student)
        session.refresh_from_db()
    start = session.started_at + timedelta(seconds=1)
    at_s: dict[str, list[int]] = {"full": [], "refreshed": [], "carried": []}  # seconds into the session
    spent = {"full": 0.0, "refreshed": 0.0, "carried": 0.0}  # CPU of each kind of frame
    with override_settings(FRAME_SKIP_THRESHOLD=threshold), tenancy.tenant_scope(None):
        for index, (_, picture) in enumerate(scenes):
            at = start + timedelta(seconds=index * INTERVAL)
            frame = Frame(institution=institution, session=session, received_at=at, captured_at=at)
            if busy[index]:
                picture = moved(picture, rng)
            frame.image.save("frame.jpg", ContentFile(capture(picture, rng)), save=False)
            frame.save()
            began = time.process_time()
            done = services.frame_analyze(frame_id=frame.pk)
            used = time.process_time() - began
            assert done is not None and done.status == "done", done and done.error
            kind = ("carried" if done.carried_from_id is not None
                    else "refreshed" if skipping.REFRESHED in done.findings else "full")
            spent[kind] += used
            at_s[kind].append(index * INTERVAL)
        found = [(i.kind, (i.started_at - start).total_seconds(),
                  ((i.ended_at or at) - start).total_seconds())
                 for i in Incident.objects.filter(session=session).order_by("started_at", "kind")]
    hours = len(scenes) * INTERVAL / 3600
    cpu = sum(spent.values())
    return {"cpu": cpu, "per_hour": cpu / hours, "frames": len(scenes), "carried": len(at_s["carried"]),
            "incidents": found, "at": at_s,
            "ms": {kind: spent[kind] / max(len(at_s[kind]), 1) * 1000 for kind in spent}}


def missed(reference: list[tuple[str, float, float]], other: list[tuple[str, float, float]]) -> list[Any]:
    """Incidents of ``reference`` with no incident of the same event in ``other`` overlapping it (± a frame).

    One event, one cause: kinds that checks.ABSORBS merges (a second person box, a second face) are one
    event, whichever of them a run's frames happened to show.
    """
    from proctoring.checks import ABSORBS

    def event(kind: str) -> str:
        return next((str(k) for k, absorbed in ABSORBS.items() if kind in absorbed), kind)

    return [r for r in reference if not any(
        event(o[0]) == event(r[0]) and o[1] <= r[2] + INTERVAL and r[1] <= o[2] + INTERVAL for o in other)]


def sessions_section(images: Path, minutes: int, seed: int) -> dict[str, Any]:
    """One seed's sessions, printed; answers the CPU per student-hour of each and the incidents missed."""
    from django.db import connection

    frames = minutes * 60 // INTERVAL
    print(f"\n2. Sessions of {minutes} min ({frames} frames, one per {INTERVAL} s) through services.frame_analyze; "
          f"FRAME_SKIP_MAX_AGE_SECONDS={settings.FRAME_SKIP_MAX_AGE_SECONDS}, "
          f"FRAME_SKIP_FULL_MAX_AGE_SECONDS={settings.FRAME_SKIP_FULL_MAX_AGE_SECONDS}, database {connection.vendor}")
    results = {}
    for name, scenes in (("quiet", quiet_session(frames)), ("busy", busy_session(frames, images))):
        for threshold in (0, settings.FRAME_SKIP_THRESHOLD):
            result = play(scenes, threshold=threshold, seed=seed)
            results[name, threshold > 0] = result
            label = "skipping on " if threshold else "skipping off"
            print(f"   {name:5s} {label}: {result['per_hour']:7.1f} CPU-s per student-hour "
                  f"({result['cpu'] / result['frames'] * 1000:5.1f} CPU-ms a frame), "
                  f"{result['carried']}/{result['frames']} frames carried, {len(result['incidents'])} incidents")
            if threshold:
                for kind in ("full", "refreshed"):
                    print(f"       {len(result['at'][kind])} {kind} at (s): {', '.join(map(str, result['at'][kind]))}")
                print("       CPU-ms a frame: " + ", ".join(
                    f"{kind} {result['ms'][kind]:.1f}" for kind in ("full", "refreshed", "carried")))
            for kind, began, ended in result["incidents"]:
                print(f"       {kind:20s} {began:6.0f}s - {ended:6.0f}s")
    on = settings.FRAME_SKIP_THRESHOLD > 0
    quiet, busy, busy_off = results["quiet", on], results["busy", on], results["busy", False]
    print(f"   quiet (skipping) / busy (skipping) CPU: {quiet['per_hour'] / busy['per_hour']:.0%}; "
          f"quiet (skipping) / busy (no skipping): {quiet['per_hour'] / busy_off['per_hour']:.0%}")
    lost = {}
    for name in ("quiet", "busy"):
        lost[name] = missed(results[name, False]["incidents"], results[name, on]["incidents"])
        print(f"   {name}: incidents without skipping that skipping missed: {lost[name] or 'none'}")
    return {"quiet": quiet["per_hour"], "busy": busy["per_hour"], "busy_off": busy_off["per_hour"],
            "missed": lost["quiet"] + lost["busy"]}


def seeds_summary(found: list[dict[str, Any]], first: int) -> None:
    """One line: each seed's quiet/busy ratio (camera noise and movements drawn anew), their mean, and the misses."""
    ratios = [f["quiet"] / f["busy"] for f in found]
    print(f"\n3. Over seeds {first}-{first + len(found) - 1}: quiet (skipping) / busy (skipping) CPU "
          f"{', '.join(f'{r:.1%}' for r in ratios)}; mean {np.mean(ratios):.1%} (target <= 25%); quiet "
          f"{np.mean([f['quiet'] for f in found]):.1f}, busy {np.mean([f['busy'] for f in found]):.1f} CPU-s per "
          f"student-hour (busy without skipping {np.mean([f['busy_off'] for f in found]):.1f}); incidents missed: "
          f"{sum(len(f['missed']) for f in found) or 'none'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=Path, default=ROOT.parent / "shared" / "data" / "images")
    parser.add_argument("--minutes", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seeds", type=int, default=1,
                        help="play the sessions for this many seeds from --seed, and print their mean")
    parser.add_argument("--skip-sessions", action="store_true", help="only the threshold section")
    parser.add_argument("--skip-threshold", action="store_true", help="only the sessions section")
    parser.add_argument("--max-age", type=int,
                        help="FRAME_SKIP_MAX_AGE_SECONDS for the sessions (default: the product's)")
    parser.add_argument("--full-max-age", type=int,
                        help="FRAME_SKIP_FULL_MAX_AGE_SECONDS for the sessions (default: the product's)")
    args = parser.parse_args()
    if not args.images.exists():
        args.images = Path("/work/shared/data/images")
    if not args.skip_threshold:
        threshold_section(args.images, random.Random(args.seed))
    if args.skip_sessions:
        return
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    if args.max_age:
        settings.FRAME_SKIP_MAX_AGE_SECONDS = args.max_age
    if args.full_max_age:
        settings.FRAME_SKIP_FULL_MAX_AGE_SECONDS = args.full_max_age
    found = [sessions_section(args.images, args.minutes, seed) for seed in range(args.seed, args.seed + args.seeds)]
    if args.seeds > 1:
        seeds_summary(found, args.seed)


if __name__ == "__main__":
    main()
