"""Dense face landmarks: MediaPipe's 468-point face mesh on a crop around a YuNet face.

The model is ``mediapipe/modules/face_landmark/face_landmark.tflite`` (Apache-2.0), shipped in the
``mediapipe==0.10.21`` wheel, which is installed with ``--no-deps`` (requirements-nodeps.txt: it pins
numpy<2, and none of its own code is used) and located with ``importlib``, never imported. It runs
under ``ai-edge-litert``'s TFLite interpreter (numpy 2), one thread. Nothing is downloaded at run time.

The crop is a square 1.5 face-widths around the YuNet box, turned so that YuNet's eyes are level,
resampled to the model's 192x192 input; the mesh comes back in frame pixels (z in the same scale).

Used for mouth movement (``mouth_aperture``: is the student the one talking, proctoring/speech.py),
and only there: it runs on the few frames of a talking incident, never per frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .models import Lazy, model_file

SIDE = 192  # the mesh's input
CONTEXT = 1.5  # crop side, in face box sides
MESH_FILE = "modules/face_landmark/face_landmark.tflite"
# Mesh indices (MediaPipe's canonical face): inner lips, mouth corners, forehead and chin.
UPPER_LIP, LOWER_LIP = 13, 14
MOUTH_LEFT, MOUTH_RIGHT = 78, 308  # the inner corners
FOREHEAD, CHIN = 10, 152


def mesh_path() -> str:
    return model_file("mediapipe", MESH_FILE)


def _interpreter() -> object:
    from ai_edge_litert.interpreter import Interpreter  # imported on first use: the engine starts without it

    interpreter = Interpreter(model_path=mesh_path(), num_threads=1)
    interpreter.allocate_tensors()
    return interpreter


MESH: Lazy[object] = Lazy(_interpreter)


@dataclass(frozen=True)
class Mesh:
    points: np.ndarray  # 468 x 3, frame pixels
    presence: float  # the model's own "a face is in the crop" probability, 0..1


def crop_transform(box: tuple[float, float, float, float], eyes: np.ndarray) -> np.ndarray:
    """The 2x3 affine from frame pixels to the mesh's 192x192 input for a face ``box`` (x, y, w, h)
    whose eyes (image-left first) are ``eyes``."""
    x, y, w, h = box
    (lx, ly), (rx, ry) = eyes
    angle = math.degrees(math.atan2(ry - ly, rx - lx))
    side = max(w, h) * CONTEXT
    matrix = cv2.getRotationMatrix2D((x + w / 2, y + h / 2), angle, SIDE / side)
    matrix[:, 2] += (SIDE / 2 - (x + w / 2), SIDE / 2 - (y + h / 2))
    return matrix


def mesh(bgr: np.ndarray, box: tuple[float, float, float, float], eyes: np.ndarray) -> Mesh:
    """The face mesh of the face in ``box`` of the BGR frame ``bgr``."""
    matrix = crop_transform(box, eyes)
    crop = cv2.warpAffine(bgr, matrix, (SIDE, SIDE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    tensor = (cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0)[None]
    interpreter = MESH.get()
    with MESH.lock:
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], tensor)  # type: ignore[attr-defined]
        interpreter.invoke()  # type: ignore[attr-defined]
        outputs = [interpreter.get_tensor(o["index"]) for o in interpreter.get_output_details()]  # type: ignore[attr-defined]
    raw = next(o for o in outputs if o.size == 468 * 3).reshape(468, 3).astype(np.float64)
    logit = float(next(o for o in outputs if o.size == 1).reshape(-1)[0])
    inverse = cv2.invertAffineTransform(matrix)
    xy = raw[:, :2] @ inverse[:, :2].T + inverse[:, 2]
    z = raw[:, 2:] * math.hypot(inverse[0, 0], inverse[0, 1])
    return Mesh(points=np.hstack([xy, z]), presence=1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, logit)))))


def mouth_aperture(points: np.ndarray) -> float:
    """How open the mouth is: the inner lips' gap over the inner mouth's width (0 closed; ~0.3+ wide open)."""
    gap = float(np.linalg.norm(points[LOWER_LIP, :2] - points[UPPER_LIP, :2]))
    width = float(np.linalg.norm(points[MOUTH_RIGHT, :2] - points[MOUTH_LEFT, :2]))
    return gap / max(width, 1e-6)
