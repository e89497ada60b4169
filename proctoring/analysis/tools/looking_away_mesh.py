"""Does MediaPipe's face mesh judge looking away better than YuNet's five landmarks? (It did not.)

    pip download mediapipe==0.10.21 --no-deps -d /tmp/mp      # Apache-2.0; pins numpy<2: never installed
    unzip -j /tmp/mp/mediapipe-*.whl mediapipe/modules/face_landmark/face_landmark.tflite -d /tmp/mp
    pip install --no-deps --target /tmp/litert ai-edge-litert   # runs .tflite with numpy 2
    PYTHONPATH=/tmp/litert .venv/bin/python -m proctoring.analysis.tools.looking_away_mesh \\
        ../shared/data/images /tmp/mp/face_landmark.tflite

On every frame labelled in ``labels/looking_away.csv``, the largest YuNet face gives (a) the five-point
pose (``faces.pose``, what the product uses) and (b) the 468-point mesh on a 1.5x square crop around
the YuNet box at 192x192: yaw from the depth difference of the cheek points 234/454, pitch from that of
forehead 10 and chin 152 (and the mesh's yaw alone). All are judged as ``looking_away`` judges them
(deviation from the person's baseline) and printed as ROC AUC and the best recall at <= 5% false
flags (in-sample), with the mesh's median time a face on one thread.
Neither ai-edge-litert nor mediapipe is a dependency of the product.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from proctoring.analysis import faces, looking_away
from proctoring.analysis.evaluation import read_manifest


def mesh_runner(model: Path) -> Any:
    from ai_edge_litert.interpreter import Interpreter  # only for this comparison

    interpreter = Interpreter(model_path=str(model), num_threads=1)
    interpreter.allocate_tensors()
    inp, outs = interpreter.get_input_details()[0], interpreter.get_output_details()

    def pose(bgr: np.ndarray, face: faces.Face) -> tuple[float, float]:
        x, y, w, h = face.box
        side = max(w, h) * 1.5
        left, top = x + w / 2 - side / 2, y + h / 2 - side / 2
        scale = 192 / side
        crop = cv2.warpAffine(bgr, np.float32([[scale, 0, -left * scale], [0, scale, -top * scale]]), (192, 192))
        interpreter.set_tensor(inp["index"], (cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float32) / 255)[None])
        interpreter.invoke()
        points = next(interpreter.get_tensor(o["index"]) for o in outs if o["shape"][-1] == 1404).reshape(468, 3)
        a, b, top_, chin = points[234], points[454], points[10], points[152]
        return (math.degrees(math.atan2(-(b[2] - a[2]), b[0] - a[0])),
                math.degrees(math.atan2(chin[2] - top_[2], chin[1] - top_[1])))

    return pose


def _auc(frames: list[looking_away.Frame]) -> float:
    pos = [f.deviation if f.deviation is not None else -1.0 for f in frames if f.away]
    neg = [f.deviation if f.deviation is not None else -1.0 for f in frames if not f.away]
    return float(np.mean([(p > n) + 0.5 * (p == n) for p in pos for n in neg]))


def main(argv: list[str]) -> int:
    images, model = Path(argv[0]), Path(argv[1])
    rows = read_manifest(images)
    labels = looking_away.read_labels()
    mesh = mesh_runner(model)
    five: dict[str, Any] = {}
    meshed: dict[str, Any] = {}
    took = []
    for file in labels:
        bgr = cv2.imread(str(images / file))
        found = faces.detect(bgr) if bgr is not None else []
        if not found:
            five[file] = meshed[file] = None
            continue
        pose = faces.pose(found[0].landmarks)
        five[file] = {"FaceDetails": [{"Pose": pose}]}
        start = time.perf_counter()
        yaw, pitch = mesh(bgr, found[0])
        took.append(time.perf_counter() - start)
        meshed[file] = {"FaceDetails": [{"Pose": {"Yaw": yaw, "Pitch": pitch, "Roll": 0.0}}]}
    mesh_yaw = {f: a and {"FaceDetails": [{"Pose": {**a["FaceDetails"][0]["Pose"], "Pitch": 0.0}}]}
                for f, a in meshed.items()}
    for name, analyses in (("five landmarks", five), ("face mesh", meshed), ("mesh, yaw only", mesh_yaw)):
        frames = looking_away.frames(analyses, rows, labels)
        cut = looking_away.choose_cut(frames)
        (hit, away), (false, fine) = looking_away.rates(frames, lambda f, c=cut: c)
        print(f"{name:15s} AUC {_auc(frames):.3f}  recall {hit}/{away} at false flags {false}/{fine} (cut {cut:g})")
    print(f"face mesh: {1000 * float(np.median(took)):.2f} ms a face (median, one thread)")
    return 0


if __name__ == "__main__":
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    raise SystemExit(main(sys.argv[1:]))
