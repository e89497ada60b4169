"""Dense face landmarks: MediaPipe's 468-point face mesh on a crop around a YuNet face.

The model is ``mediapipe/modules/face_landmark/face_landmark.tflite`` (Apache-2.0), shipped in the
``mediapipe==0.10.21`` wheel, which is installed with ``--no-deps`` (requirements-nodeps.txt: it pins
numpy<2, and none of its own code is used) and located with ``importlib``, never imported. It runs
under ``ai-edge-litert``'s TFLite interpreter (numpy 2), one thread. Nothing is downloaded at run time.

The crop is a square 1.5 face-widths around the YuNet box, turned so that YuNet's eyes are level,
resampled to the model's 192x192 input; the mesh comes back in frame pixels (z in the same scale).

Used for mouth movement (``mouth_aperture``: is the student the one talking, proctoring/speech.py),
on the few frames of a talking incident, and for the eyes' direction (``eye_yaw``, with MediaPipe's
iris model ``modules/iris_landmark/iris_landmark.tflite`` from the same wheel) on the few frames whose
head pose is near the looking-away cut, where ``attention.EYE_BAND`` turns that on (off: see
proctoring/attention.py), and for the head's yaw (``mesh_yaw``) on the frames of the gate's liveness
challenge (proctoring/liveness.py); never on every frame.
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
IRIS_FILE = "modules/iris_landmark/iris_landmark.tflite"
IRIS_SIDE = 64  # the iris model's input
EYE_CONTEXT = 2.3  # eye crop side, in eye widths (corner to corner)
EYEBALL = 2.5  # iris offset (in eye widths) to sin(angle): an eyeball-radius prior, nothing fitted
# Mesh eye corners (outer, inner) and whether the crop is mirrored: the model expects a left eye.
EYES = ((33, 133, False), (263, 362, True))
# Mesh indices (MediaPipe's canonical face): inner lips, mouth corners, forehead and chin.
UPPER_LIP, LOWER_LIP = 13, 14
MOUTH_LEFT, MOUTH_RIGHT = 78, 308  # the inner corners
FOREHEAD, CHIN = 10, 152
OUTER_EYES = (33, 263)  # the outer eye corners, image-left first on a face towards the camera


def mesh_path() -> str:
    return model_file("mediapipe", MESH_FILE)


def _interpreter(path: str | None = None) -> object:
    from ai_edge_litert.interpreter import Interpreter  # imported on first use: the engine starts without it

    interpreter = Interpreter(model_path=path or mesh_path(), num_threads=1)
    interpreter.allocate_tensors()
    return interpreter


MESH: Lazy[object] = Lazy(_interpreter)
IRIS: Lazy[object] = Lazy(lambda: _interpreter(model_file("mediapipe", IRIS_FILE)))


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


def _iris_offset(bgr: np.ndarray, points: np.ndarray, outer: int, inner: int, mirrored: bool) -> float:
    """Where the iris centre sits along the eye line, from the corners' midpoint, in eye widths
    (positive towards image-right)."""
    a, b = points[outer, :2], points[inner, :2]
    left, right = (a, b) if a[0] < b[0] else (b, a)
    centre, width = (left + right) / 2, max(float(np.linalg.norm(right - left)), 1e-6)
    side = EYE_CONTEXT * width
    angle = math.degrees(math.atan2(right[1] - left[1], right[0] - left[0]))
    matrix = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle, IRIS_SIDE / side)
    matrix[:, 2] += (IRIS_SIDE / 2 - centre[0], IRIS_SIDE / 2 - centre[1])
    crop = cv2.warpAffine(bgr, matrix, (IRIS_SIDE, IRIS_SIDE))
    if mirrored:
        crop = np.ascontiguousarray(crop[:, ::-1])
    tensor = (cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0)[None]
    interpreter = IRIS.get()
    with IRIS.lock:
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], tensor)  # type: ignore[attr-defined]
        interpreter.invoke()  # type: ignore[attr-defined]
        iris = next(interpreter.get_tensor(o["index"]) for o in interpreter.get_output_details()  # type: ignore[attr-defined]
                    if o["shape"][-1] == 15)
    x = float(iris.reshape(5, 3)[0, 0])
    return ((IRIS_SIDE - x if mirrored else x) - IRIS_SIDE / 2) * side / IRIS_SIDE / width


def eyes_turn(bgr: np.ndarray, points: np.ndarray) -> float:
    """The eyes' turn in the head, in degrees (positive towards image-right, as ``faces.pose``'s Yaw),
    from the iris model on both eyes of a face ``mesh``."""
    offset = float(np.mean([_iris_offset(bgr, points, *eye) for eye in EYES]))
    return math.degrees(math.asin(max(-1.0, min(1.0, EYEBALL * offset))))


def head_yaw(points: np.ndarray) -> float:
    """The head's yaw in degrees from a face ``mesh``'s 3D eye corners (33 and 263, the outer corners): the
    angle of the line between them out of the image plane (positive towards image-right, as ``faces.pose``'s
    Yaw). Its depth is the mesh's own, so a flat picture tilted in front of the camera keeps the depth
    profile of the face it shows."""
    a, b = points[OUTER_EYES[0]], points[OUTER_EYES[1]]
    across = math.copysign(float(np.hypot(*(b[:2] - a[:2]))), float(b[0] - a[0]))
    return math.degrees(math.atan2(float(b[2] - a[2]), across))


def _detail_mesh(data: bytes, detail: dict, work_side: int | None, *, upright: bool = False
                 ) -> tuple[np.ndarray, np.ndarray] | None:
    """(the frame, the face mesh) of the face an analysis found (a Rekognition ``FaceDetail``: its
    BoundingBox and eye Landmarks, ratios of the frame) in the encoded frame ``data``, decoded as the
    engine decodes it. None where the detail lacks the box or the eyes, or the box meets the frame's edge.
    ``upright``: the crop is levelled on the eyes taken image-left first, whichever YuNet called which."""
    from .imaging import DEFAULT_WORK_SIDE, decode

    box = detail.get("BoundingBox") or {}
    eyes = {m.get("Type"): m for m in detail.get("Landmarks") or [] if isinstance(m, dict)}
    if not all(isinstance(box.get(k), int | float) for k in ("Left", "Top", "Width", "Height")) or not all(
            isinstance((eyes.get(e) or {}).get(k), int | float) for e in ("eyeLeft", "eyeRight") for k in "XY"):
        return None
    if box["Left"] <= 0 or box["Top"] <= 0 or box["Left"] + box["Width"] >= 1 or box["Top"] + box["Height"] >= 1:
        return None  # a face cut by the frame's edge: the mesh guesses the missing part
    bgr = decode({"Bytes": data}, "Analyze", work_side or DEFAULT_WORK_SIDE).bgr
    H, W = bgr.shape[:2]
    pixels = (box["Left"] * W, box["Top"] * H, box["Width"] * W, box["Height"] * H)
    points = np.array([[eyes[e]["X"] * W, eyes[e]["Y"] * H] for e in ("eyeLeft", "eyeRight")])
    if upright and points[0, 0] > points[1, 0]:
        # YuNet's eyes swap sides on a face near profile; levelled on them as they come, the crop would
        # turn the face upside down and the mesh read anything (a profile read +130 degrees).
        points = points[::-1]
    return bgr, mesh(bgr, pixels, points).points


def eye_yaw(data: bytes, detail: dict, work_side: int | None = None) -> float | None:
    """The eyes' turn (``eyes_turn``) of the face an analysis found (``_detail_mesh``: None where the detail
    lacks the box or the eyes, or the box meets the frame's edge, where the eyes read anything)."""
    found = _detail_mesh(data, detail, work_side)
    return None if found is None else eyes_turn(*found)


def mesh_yaw(data: bytes, detail: dict, work_side: int | None = None) -> float | None:
    """The head's yaw (``head_yaw``) of the face an analysis found (``_detail_mesh``: None where the detail
    lacks the box or the eyes, or the box meets the frame's edge)."""
    found = _detail_mesh(data, detail, work_side, upright=True)
    return None if found is None else head_yaw(found[1])
