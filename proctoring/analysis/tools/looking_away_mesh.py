"""Do the face mesh and the eyes' direction judge looking away better than YuNet's five landmarks?

    .venv/bin/pip install --no-deps -r requirements-nodeps.txt   # mediapipe==0.10.21, ai-edge-litert==2.3.0
    .venv/bin/python -m proctoring.analysis.tools.looking_away_mesh ../shared/data/images

On every frame labelled in ``labels/looking_away.csv``, the largest YuNet face gives (a) the five-point
pose (``faces.pose``, what the product uses); (b) the 468-point mesh (``landmarks.mesh``: a 1.5x crop
around the YuNet box, eyes levelled): yaw from the depth difference of the cheek points 234/454,
pitch from that of forehead 10 and chin 152; (c) the eyes' direction: MediaPipe's iris model
(``iris_landmark.tflite``, the same wheel) on a 64x64 crop 2.3 eye-widths around each eye's mesh
corners (33/133, 263/362; the image-right eye mirrored, as MediaPipe does), the iris centre's offset
from the corners' midpoint along the eye line, in eye widths, averaged over both eyes and turned
into degrees with an eyeball-radius prior (asin(2.5 x offset): nothing fitted), added to the five-point
yaw (the head's and the eyes' turn add up; positive both towards image-right). (d) is (c) only where
the five-point deviation is within GATE degrees of the product's cut (the mesh and iris would then run
on few frames). Each is judged by ``looking_away.measure``, the code ``evaluate_engine`` reports
with: product cut (attention.AWAY_DEGREES), fitted on all frames, and held out by source (cut chosen
on the other folds); and (d) held out with the band chosen on each fold's training frames too.
Prints the models' median time a face on one thread.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from proctoring.analysis import faces, landmarks, looking_away
from proctoring.analysis.evaluation import read_manifest

EYES = ((33, 133, False), (263, 362, True))  # outer, inner corner, mirrored
GATES = (8.0, 10.0)  # the two bands tried (the only ones)


def iris_runner() -> Any:
    from ai_edge_litert.interpreter import Interpreter  # only for this comparison

    model = landmarks.model_file("mediapipe", "modules/iris_landmark/iris_landmark.tflite")
    interpreter = Interpreter(model_path=model, num_threads=1)
    interpreter.allocate_tensors()
    inp = interpreter.get_input_details()[0]["index"]
    out = next(o["index"] for o in interpreter.get_output_details() if o["shape"][-1] == 15)

    def offset(bgr: np.ndarray, points: np.ndarray, outer: int, inner: int, mirrored: bool) -> float:
        a, b = points[outer, :2], points[inner, :2]
        left, right = (a, b) if a[0] < b[0] else (b, a)
        centre, width = (left + right) / 2, max(float(np.linalg.norm(right - left)), 1e-6)
        side = 2.3 * width
        matrix = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])),
                                         math.degrees(math.atan2(right[1] - left[1], right[0] - left[0])), 64 / side)
        matrix[:, 2] += (32 - centre[0], 32 - centre[1])
        crop = cv2.warpAffine(bgr, matrix, (64, 64))
        if mirrored:
            crop = np.ascontiguousarray(crop[:, ::-1])
        interpreter.set_tensor(inp, (cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float32) / 255)[None])
        interpreter.invoke()
        x = float(interpreter.get_tensor(out).reshape(5, 3)[0, 0])
        return ((64 - x if mirrored else x) - 32) * side / 64 / width

    def eye_yaw(bgr: np.ndarray, points: np.ndarray) -> float:
        t = float(np.mean([offset(bgr, points, *eye) for eye in EYES]))
        return math.degrees(math.asin(max(-1.0, min(1.0, 2.5 * t))))

    return eye_yaw


def _analysis(yaw: float, pitch: float) -> dict[str, Any]:
    return {"FaceDetails": [{"Pose": {"Yaw": yaw, "Pitch": pitch, "Roll": 0.0}}]}


def _auc(frames: list[looking_away.Frame]) -> float:
    pos = [f.deviation if f.deviation is not None else -1.0 for f in frames if f.away]
    neg = [f.deviation if f.deviation is not None else -1.0 for f in frames if not f.away]
    return float(np.mean([(p > n) + 0.5 * (p == n) for p in pos for n in neg]))


def _nested(variants: dict[str, dict[str, Any]], rows: list[dict[str, str]], labels: dict[str, bool]) -> str:
    """Held out with the band chosen inside the folds too: on each fold's training frames, the band whose
    fitted cut catches the most away frames (then flags the fewest), applied to the held-out fold."""
    from proctoring.analysis.measurement import source_folds

    by_band = {g: {f.file: f for f in looking_away.frames(variants[f"five + eyes near the cut (+-{g:g})"], rows,
                                                            labels)} for g in GATES}
    files = list(by_band[GATES[0]].values())
    hit = away = false = fine = 0
    for fold in source_folds(files):
        best = None
        for g in GATES:
            train = [f for f in by_band[g].values() if f.source not in fold]
            cut = looking_away.choose_cut(train)
            (h, _), (x, _) = looking_away.rates(train, lambda f, c=cut: c)
            if best is None or (h, -x) > (best[0], -best[1]):
                best = (h, x, g, cut)
        test = [f for f in by_band[best[2]].values() if f.source in fold]
        (h, a), (x, n) = looking_away.rates(test, lambda f, c=best[3]: c)
        hit, away, false, fine = hit + h, away + a, false + x, fine + n
    return f"{hit}/{away} {false}/{fine}"


def main(argv: list[str]) -> int:
    from proctoring import attention

    images = Path(argv[0])
    rows = read_manifest(images)
    labels = looking_away.read_labels()
    eye_yaw = iris_runner()
    variants: dict[str, dict[str, Any]] = {"five landmarks": {}, "face mesh": {}, "five + eyes": {}}
    mesh_took, iris_took = [], []
    for file in labels:
        bgr = cv2.imread(str(images / file))
        found = faces.detect(bgr) if bgr is not None else []
        if not found:
            for analyses in variants.values():
                analyses[file] = None
            continue
        pose = faces.pose(found[0].landmarks)
        start = time.perf_counter()
        mesh = landmarks.mesh(bgr, found[0].box, found[0].landmarks[:2])
        mesh_took.append(time.perf_counter() - start)
        start = time.perf_counter()
        eyes = eye_yaw(bgr, mesh.points)
        iris_took.append(time.perf_counter() - start)
        p = mesh.points
        a, b, top, chin = p[234], p[454], p[10], p[152]
        variants["five landmarks"][file] = _analysis(pose["Yaw"], pose["Pitch"])
        variants["face mesh"][file] = _analysis(math.degrees(math.atan2(-(b[2] - a[2]), b[0] - a[0])),
                                                math.degrees(math.atan2(chin[2] - top[2], chin[1] - top[1])))
        variants["five + eyes"][file] = _analysis(pose["Yaw"] + eyes, pose["Pitch"])
    five = {f.file: f.deviation for f in looking_away.frames(variants["five landmarks"], rows, labels)}
    for gate in GATES:
        variants[f"five + eyes near the cut (+-{gate:g})"] = {
            f: variants["five + eyes" if five.get(f) is not None and abs(five[f] - attention.AWAY_DEGREES) <= gate
                        else "five landmarks"][f] for f in labels}
    print(f"{'':36s} {'product cut':18s} {'fitted on dev':18s} {'held out':18s} AUC   (recall, false flags)")
    for name, analyses in variants.items():
        m = looking_away.measure(analyses, rows, labels)
        frames = looking_away.frames(analyses, rows, labels)
        text = [f"{r[0][0]}/{r[0][1]} {r[1][0]}/{r[1][1]}" for r in (m["product"], m["fitted"], m["held_out"])]
        print(f"{name:36s} {text[0]:18s} {text[1]:18s} {text[2]:18s} {_auc(frames):.3f}")
    print(f"{'near the cut, band chosen on training folds':44s} held out {_nested(variants, rows, labels)}")
    ran = {g: sum(five.get(f) is not None and abs(five[f] - attention.AWAY_DEGREES) <= g for f in labels)
           for g in GATES}
    print(f"near the cut: the mesh and iris would run on {', '.join(f'{n} (+-{g:g})' for g, n in ran.items())}"
          f" of {len(labels)} frames")
    print(f"face mesh {1000 * float(np.median(mesh_took)):.2f} ms, iris (both eyes) "
          f"{1000 * float(np.median(iris_took)):.2f} ms a face (median, one thread)")
    return 0


if __name__ == "__main__":
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    raise SystemExit(main(sys.argv[1:]))
