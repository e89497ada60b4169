"""Measure the gate's liveness judge (proctoring.liveness) with the local engine's head pose.

    .venv/bin/python scripts/measure_liveness.py [--images /work/shared/data/images] [--frames 40]

1. Held-up still photos: every dev-set photo with exactly one clear face becomes a "hand-held picture"
   sequence of N frames (the picture tilted up to +-35 degrees about its vertical axis, +-20 about the
   horizontal one, rolled +-10, scaled 0.75-1.25 and moved, in random order, JPEG-encoded as the browser
   sends them), each frame's yaw estimated by the engine's detect_faces (the Pose of analyze's
   FaceDetails), judged as the gate judges it. Reports passes (should be 0) and the largest yaw swing.
2. Real head turns: the only real turning sequence in the dev set (Intel's head-pose sample, one woman),
   and, as a weaker check of the pose estimate itself, the dev photos whose manifest notes say the head is
   turned.
"""

from __future__ import annotations

import argparse
import csv
import math
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from proctoring.analysis.local.engine import LocalEngine  # noqa: E402
from proctoring.liveness import TRUSTED_DEGREES, judge  # noqa: E402

TURN = 15.0  # settings.LIVENESS_TURN_DEGREES
CLEAR = 84.0  # the engine's clear-face score (faces.CLEAR_SCORE), as a percentage


def tilted(bgr: np.ndarray, yaw: float, pitch: float, roll: float, scale: float, shift: tuple[float, float]
           ) -> np.ndarray:
    """The picture as a camera sees it when held as a flat card turned by (yaw, pitch, roll)."""
    h, w = bgr.shape[:2]
    f = float(max(w, h))
    corners = np.array([[-w / 2, -h / 2, 0], [w / 2, -h / 2, 0], [w / 2, h / 2, 0], [-w / 2, h / 2, 0]], float)
    a, b, c = (math.radians(v) for v in (pitch, yaw, roll))
    rx = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    ry = np.array([[math.cos(b), 0, math.sin(b)], [0, 1, 0], [-math.sin(b), 0, math.cos(b)]])
    rz = np.array([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
    points = corners @ (rz @ ry @ rx).T * scale
    points[:, 2] += f * 1.2
    projected = np.stack([points[:, 0] * f / points[:, 2] + w / 2 + shift[0] * w,
                          points[:, 1] * f / points[:, 2] + h / 2 + shift[1] * h], axis=1)
    matrix = cv2.getPerspectiveTransform(corners[:, :2].astype(np.float32) + np.float32([w / 2, h / 2]),
                                         projected.astype(np.float32))
    return cv2.warpPerspective(bgr, matrix, (w, h), borderValue=(40, 40, 40))


def yaw_of(engine: LocalEngine, bgr: np.ndarray) -> float | None:
    ok, jpeg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 85])
    faces = [f for f in engine.detect_faces(Image={"Bytes": jpeg.tobytes()})["FaceDetails"]
             if f["Confidence"] >= CLEAR]
    return float(faces[0]["Pose"]["Yaw"]) if len(faces) == 1 else None


def samples(yaws: list[float | None]) -> list[tuple[datetime, float | None]]:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    return [(t0 + timedelta(seconds=2 * i), yaw) for i, yaw in enumerate(yaws)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", default="/work/shared/data/images")
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--turn", type=float, nargs="+", default=[TURN])
    args = parser.parse_args()
    root = Path(args.images)
    rows = list(csv.DictReader((root / "manifest.csv").open()))
    engine = LocalEngine()
    shaky = random.Random(2026)

    print("1. Held-up still photos (each a sequence of tilted, moved copies)")
    photos = 0
    passes = dict.fromkeys(args.turn, 0)
    swings = []
    for row in rows:
        bgr = cv2.imread(str(root / row["file"]))
        if bgr is None or yaw_of(engine, bgr) is None:
            continue
        yaws = [yaw_of(engine, tilted(bgr, shaky.uniform(-35, 35), shaky.uniform(-20, 20), shaky.uniform(-10, 10),
                                      shaky.uniform(0.75, 1.25), (shaky.uniform(-.1, .1), shaky.uniform(-.1, .1))))
                for _ in range(args.frames)]
        seen = [y for y in yaws if y is not None]
        if len(seen) < 2:
            continue
        photos += 1
        for turn in args.turn:
            result = judge(samples(yaws), turn_degrees=turn)
            passes[turn] += result.passed
            if result.passed:
                print(f"   PASSED at a turn of {turn:g} (should not): {row['file']}")
        trusted = [y for y in seen if abs(y) <= TRUSTED_DEGREES] or [0.0]
        swings.append((max(trusted) - min(trusted), row["file"], len(seen)))
    swings.sort(reverse=True)
    print(f"   photos: {photos}, frames each: {args.frames}, passed (by turn threshold): {passes}")
    print(f"   trusted yaw swing (max - min, |yaw| <= {TRUSTED_DEGREES:g}) over a photo's frames:")
    print(f"   median {np.median([s[0] for s in swings]):.1f}, "
          f"95th pct {np.percentile([s[0] for s in swings], 95):.1f}, max {swings[0][0]:.1f} ({swings[0][1]}); "
          f"a pass needs >= twice the turn threshold, in the order asked")

    print("2. Real head turns")
    series = {name: root / name for name in (
        "A/A_iv_head-pose-face-detection-female_f020.jpg", "A/A_iv_head-pose-face-detection-female_f008.jpg",
        "F/F_iv_head-pose-face-detection-female_f012.jpg", "F/F_iv_head-pose-face-detection-female_f000.jpg")}
    yaw = {name: yaw_of(engine, cv2.imread(str(path))) for name, path in series.items()}
    for name, value in yaw.items():
        print(f"   {Path(name).name}: yaw {value}")
    front, front2, left, right = yaw.values()
    for label, order in (("f020, f012, f000", [front, left, right]), ("f008, f012, f000", [front2, left, right]),
                         ("f020, f000, f012 (wrong order)", [front, right, left])):
        verdicts = {turn: judge(samples(order), turn_degrees=turn).passed for turn in args.turn}
        print(f"   sequence {label}: passed (by turn threshold) {verdicts}")
    turned = [r for r in rows if any(w in r["notes"].lower() for w in ("profile", "looking left", "looking right",
                                                                        "looking far", "turned"))]
    print("   dev photos noted as turned heads (single-frame yaw; |yaw| >= 15 means a turn would be seen):")
    for row in turned:
        bgr = cv2.imread(str(root / row["file"]))
        print(f"   {row['file']}: yaw {yaw_of(engine, bgr) if bgr is not None else None} — {row['notes'][:60]}")


if __name__ == "__main__":
    main()
