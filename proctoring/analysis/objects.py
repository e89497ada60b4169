"""COCO objects with YOLOv4-tiny (OpenCV DNN), reported as Rekognition labels.

YOLOv4-tiny's scores are not on Rekognition's scale: phones rarely pass 0.3 even when plain to
see. Each class therefore has a floor (the raw score from which we trust a detection) and the
reported Confidence is a per-class monotone map that puts the floor at 55, Rekognition's default
MinConfidence, and 1.0 at 100: ``55 + 45 * (s - floor) / (1 - floor)`` above the floor,
``55 * s / floor`` below it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .faces import ratio_box
from .models import Lazy, yolo_paths

# 256: 26 ms on one thread (40 ms at 320). People in a webcam frame are large; NanoDet
# (nanodet.py) covers the small phones, laptops and books YOLO misses at any size.
INPUT_SIZE = 256
RAW_FLOOR = 0.15  # nothing weaker leaves the network
NMS = 0.45
DEFAULT_FLOOR = 0.35
CALIBRATED_FLOOR = 55.0

COCO = (
    "person,bicycle,car,motorbike,aeroplane,bus,train,truck,boat,traffic light,fire hydrant,"
    "stop sign,parking meter,bench,bird,cat,dog,horse,sheep,cow,elephant,bear,zebra,giraffe,"
    "backpack,umbrella,handbag,tie,suitcase,frisbee,skis,snowboard,sports ball,kite,baseball bat,"
    "baseball glove,skateboard,surfboard,tennis racket,bottle,wine glass,cup,fork,knife,spoon,bowl,"
    "banana,apple,sandwich,orange,broccoli,carrot,hot dog,pizza,donut,cake,chair,sofa,pottedplant,"
    "bed,diningtable,toilet,tvmonitor,laptop,mouse,remote,keyboard,cell phone,microwave,oven,"
    "toaster,sink,refrigerator,book,clock,vase,scissors,teddy bear,hair drier,toothbrush"
).split(",")


@dataclass(frozen=True)
class LabelInfo:
    name: str
    parents: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    category: str = ""
    floor: float = DEFAULT_FLOOR


_ELECTRONICS = "Technology and Computing"
# The classes a proctor cares about, named and parented as Rekognition names them.
LABELS: dict[str, LabelInfo] = {
    "person": LabelInfo("Person", category="Person Description", floor=0.30),
    "cell phone": LabelInfo(
        "Mobile Phone", ("Electronics", "Phone"), ("Cell Phone",), _ELECTRONICS, floor=0.20
    ),
    "laptop": LabelInfo("Laptop", ("Computer", "Electronics", "Pc"), (), _ELECTRONICS, 0.25),
    "book": LabelInfo("Book", ("Publication",), (), "Hobbies and Interests", floor=0.20),
    "tvmonitor": LabelInfo(
        "Monitor", ("Computer Hardware", "Electronics", "Hardware", "Screen"), ("Display",),
        _ELECTRONICS, 0.35,
    ),
    "keyboard": LabelInfo(
        "Computer Keyboard", ("Computer Hardware", "Electronics", "Hardware"), (), _ELECTRONICS
    ),
    "mouse": LabelInfo("Mouse", ("Computer Hardware", "Electronics", "Hardware"), (), _ELECTRONICS),
    "remote": LabelInfo("Remote Control", ("Electronics",), (), _ELECTRONICS),
    "motorbike": LabelInfo("Motorcycle", ("Transportation", "Vehicle")),
    "aeroplane": LabelInfo("Airplane", ("Aircraft", "Transportation", "Vehicle")),
    "sofa": LabelInfo("Couch", ("Furniture",)),
    "pottedplant": LabelInfo("Potted Plant", ("Plant",)),
    "diningtable": LabelInfo("Dining Table", ("Furniture", "Table")),
    "donut": LabelInfo("Donut", ("Food",)),
    "hair drier": LabelInfo("Hair Dryer", ("Appliance",)),
    "cup": LabelInfo("Cup", ()),
    "chair": LabelInfo("Chair", ("Furniture",)),
    "bed": LabelInfo("Bed", ("Furniture",)),
    "bottle": LabelInfo("Bottle", ()),
    "backpack": LabelInfo("Backpack", ("Bag",)),
    "handbag": LabelInfo("Handbag", ("Accessories", "Bag")),
}


def label_info(coco_name: str) -> LabelInfo:
    return LABELS.get(coco_name) or LabelInfo(coco_name.title())


def calibrated(score: float, floor: float) -> float:
    if score >= floor:
        value = CALIBRATED_FLOOR + (100.0 - CALIBRATED_FLOOR) * (score - floor) / (1.0 - floor)
    else:
        value = CALIBRATED_FLOOR * score / floor
    return round(min(100.0, max(0.0, value)), 4)


YOLO: Lazy[cv2.dnn.DetectionModel] = Lazy(lambda: _build_yolo())


def _build_yolo() -> cv2.dnn.DetectionModel:
    cfg, weights = yolo_paths()
    net = cv2.dnn.readNetFromDarknet(cfg, weights)
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
    model = cv2.dnn.DetectionModel(net)
    model.setInputParams(scale=1 / 255.0, size=(INPUT_SIZE, INPUT_SIZE), swapRB=True, crop=False)
    return model


@dataclass(frozen=True)
class Detection:
    coco: str
    score: float  # raw network score
    box: tuple[float, float, float, float]  # x, y, w, h in working pixels

    @property
    def confidence(self) -> float:
        return calibrated(self.score, label_info(self.coco).floor)


def detect(bgr: np.ndarray) -> list[Detection]:
    model = YOLO.get()
    with YOLO.lock:
        class_ids, scores, boxes = model.detect(bgr, RAW_FLOOR, NMS)
    found = []
    for cid, score, box in zip(
        np.ravel(class_ids), np.ravel(scores), np.reshape(boxes, (-1, 4)), strict=True
    ):
        x, y, w, h = (float(v) for v in box)
        found.append(Detection(COCO[int(cid)], float(score), (x, y, w, h)))
    found.sort(key=lambda d: d.score, reverse=True)
    return found


def labels(
    detections: list[Detection], bgr: np.ndarray, min_confidence: float, max_labels: int | None
) -> list[dict[str, object]]:
    """Rekognition ``Labels``: one per class with Instances, plus each parent as its own label."""
    H, W = bgr.shape[:2]
    by_name: dict[str, dict[str, object]] = {}
    best: dict[str, float] = {}
    for det in detections:
        confidence = det.confidence
        if confidence < min_confidence:
            continue
        info = label_info(det.coco)
        label = by_name.get(info.name)
        if label is None:
            label = {
                "Name": info.name,
                "Confidence": confidence,
                "Instances": [],
                "Parents": [{"Name": p} for p in info.parents],
                "Aliases": [{"Name": a} for a in info.aliases],
                "Categories": [{"Name": info.category}] if info.category else [],
            }
            by_name[info.name] = label
        instances = label["Instances"]
        assert isinstance(instances, list)
        instances.append(
            {"BoundingBox": ratio_box(*det.box, W, H), "Confidence": confidence}
        )
        label["Confidence"] = max(float(label["Confidence"]), confidence)  # type: ignore[arg-type]
        for parent in info.parents:
            best[parent] = max(best.get(parent, 0.0), confidence)
    for parent, confidence in best.items():
        if parent not in by_name:
            by_name[parent] = {
                "Name": parent,
                "Confidence": confidence,
                "Instances": [],
                "Parents": [],
                "Aliases": [],
                "Categories": [],
            }
    result = sorted(by_name.values(), key=lambda lab: -float(lab["Confidence"]))  # type: ignore[arg-type]
    return result[:max_labels] if max_labels else result
