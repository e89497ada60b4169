"""Is the mouth open? Lip aperture from the face mesh on a frame's one clear, roughly frontal face.

``read`` answers a frame's aperture (``landmarks.mouth_aperture``: the inner lips' gap over the inner
mouth's width) or None when the frame shows no single clear face turned less than ``MAX_YAW`` that the
mesh accepts. A mouth is open above ``OPEN_APERTURE``.

Measured on ``labels/mouth_open.csv``: the largest YuNet face of every dev photo with a face, labelled
open (lips apart) / closed by looking at the mouth, "unclear" (blurred, profile, hand or microphone at
the mouth, lips barely apart) left out: 29 open, 64 closed. ``python -m proctoring.analysis.mouth
../shared/data/images`` prints the accuracy at OPEN_APERTURE and held out by source (5 folds; each
fold's cut is the midpoint of the gap between its training folds' closed and open apertures):
29/29 open and 64/64 closed at 0.11, held out the same (closed apertures reach 0.088, open ones start
at 0.140). A small, easy set (posed photos and webcam stills, not mid-word frames): read it as "the
aperture separates a clearly open mouth from a closed one", not as a talking detector's accuracy.
"""

from __future__ import annotations

import csv
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import faces, landmarks

OPEN_APERTURE = 0.11
MAX_YAW = 30.0  # degrees (five-point pose): beyond, the mouth is too foreshortened to read
MIN_PRESENCE = 0.5  # the mesh's own face probability
LABELS = Path(__file__).resolve().parent / "labels" / "mouth_open.csv"


@dataclass(frozen=True)
class Reading:
    aperture: float | None  # None: no single clear frontal face
    why: str = ""


def read(bgr: np.ndarray, frame_scale: float = 1.0) -> Reading:
    """The mouth aperture of the frame's one clear face (working BGR, ``frame_scale`` working px per original px)."""
    found = faces.detect(bgr)
    if not found:
        return Reading(None, "no face")
    clear = [f for f in found if faces.is_clear(f, found[0], frame_scale)]
    if len(clear) != 1:
        return Reading(None, "no clear face" if not clear else "several faces")
    face = clear[0]
    if abs(faces.pose(face.landmarks)["Yaw"]) > MAX_YAW:
        return Reading(None, "face turned")
    mesh = landmarks.mesh(bgr, face.box, face.landmarks[:2])
    if mesh.presence < MIN_PRESENCE:
        return Reading(None, "no face in the mesh")
    return Reading(landmarks.mouth_aperture(mesh.points))


def is_open(aperture: float, cut: float = OPEN_APERTURE) -> bool:
    return aperture > cut


# -- measurement -------------------------------------------------------------------------------


def read_labels(path: Path = LABELS) -> dict[str, bool]:
    with open(path, newline="", encoding="utf-8") as fh:
        return {row["file"]: row["mouth"] == "open" for row in csv.DictReader(fh) if row["mouth"] in ("open", "closed")}


def fitted_cut(samples: list[tuple[float, bool]]) -> float:
    """The midpoint of the gap between the widest closed and the narrowest open mouth; where they
    overlap, the aperture (seen) that classifies most samples right."""
    closed = [a for a, o in samples if not o]
    opened = [a for a, o in samples if o]
    if max(closed) < min(opened):
        return (max(closed) + min(opened)) / 2
    return max(sorted(closed + opened), key=lambda c: sum((a > c) == o for a, o in samples))


def measure(images: Path, k: int = 5) -> dict[str, object]:
    import cv2

    from .evaluation import read_manifest
    from .measurement import source_folds

    manifest = {row["file"]: row for row in read_manifest(images)}
    labels = read_labels()

    @dataclass(frozen=True)
    class Sample:
        file: str
        source: str
        open: bool
        aperture: float

    samples, took, meshed = [], [], []
    for file, opened in labels.items():
        bgr = cv2.imread(str(images / file))
        start = time.perf_counter()
        found = faces.detect(bgr)
        middle = time.perf_counter()
        mesh = landmarks.mesh(bgr, found[0].box, found[0].landmarks[:2])
        took.append(time.perf_counter() - start)
        meshed.append(time.perf_counter() - middle)
        source = manifest[file].get("source") or file
        samples.append(Sample(file, source, opened, landmarks.mouth_aperture(mesh.points)))
    folds = source_folds(samples, k)
    right_product = sum(is_open(s.aperture) == s.open for s in samples)
    right_held = 0
    cuts = []
    for fold in folds:
        cut = fitted_cut([(s.aperture, s.open) for s in samples if s.source not in fold])
        cuts.append(cut)
        right_held += sum(is_open(s.aperture, cut) == s.open for s in samples if s.source in fold)
    return {"samples": len(samples), "open": sum(s.open for s in samples), "product": right_product,
            "held_out": right_held, "cuts": cuts,
            "wrong": [s.file for s in samples if is_open(s.aperture) != s.open],
            "closed_max": max(s.aperture for s in samples if not s.open),
            "open_min": min(s.aperture for s in samples if s.open),
            "ms": 1000 * float(np.median(took)), "mesh_ms": 1000 * float(np.median(meshed))}


def main(argv: list[str]) -> int:
    m = measure(Path(argv[0]))
    print(f"Mouth open ({m['samples']} labelled faces, {m['open']} open; {LABELS.name}):")
    print(f"  right at OPEN_APERTURE {OPEN_APERTURE}: {m['product']}/{m['samples']}; held out by source: "
          f"{m['held_out']}/{m['samples']} (fold cuts {', '.join(f'{c:.3f}' for c in m['cuts'])})")
    print(f"  widest closed {m['closed_max']:.3f}, narrowest open {m['open_min']:.3f}; wrong: {m['wrong'] or 'none'}")
    print(f"  a face: YuNet + mesh {m['ms']:.1f} ms, the mesh {m['mesh_ms']:.2f} ms (median)")
    return 0


if __name__ == "__main__":
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    raise SystemExit(main(sys.argv[1:]))
