"""COCO objects with YOLOv4-tiny (OpenCV DNN), reported as Rekognition labels.

YOLOv4-tiny's scores are not on Rekognition's scale: phones rarely pass 0.3 even when plain to
see. The reported Confidence is a per-class monotone map of the raw score (YOLO's scale; NanoDet's
scores join it in ``nanodet.py``) calibrated so that Confidence 85, the product's default
MinConfidence, means the same in every measured class: for phone, laptop and book the same rate of
images flagged that don't show the class, for people the best count (``CONFIDENCE_85`` says how
it was chosen and the precision it stands for). Classes nobody measured keep the old map: their
floor at 55, 1.0 at 100.
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
POLICY_CONFIDENCE = 85.0  # exams.policy's default MinConfidence

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
    # Raw score trusted by the old map (55 there, for classes not in CONFIDENCE_85); also where
    # NanoDet's own floor joins YOLO's scale, and the YOLO person that hides a face-made one.
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


# The raw score each class reports as Confidence 85; below it Confidence is proportional to the
# raw score (so 55, Rekognition's default MinConfidence, sits at 55/85 of it: a looser cut-off),
# above it linear up to 100 at 1.0. Chosen on the 143 images of /work/shared/data/images (with the
# repository's labels, ``analysis/labels/manifest_labels.csv``, applied) by the
# rules ``measurement.py`` applies per fold, here on all of them (the "fitted on all" line of
# ``manage.py evaluate_engine --images /work/shared/data/images --brief``, which then reads 85.0):
# - objects, ``choose_object_cutoff``: the lowest score at which at most 5%/3 of the images
#   without the class show it (the false-object target shared by the three classes; a monitor gets
#   the same share). What 85 means for every object class: at most 1.7% of the dev images without
#   the class are flagged with it (phone 2/142, laptop 2/138, book 2/133, monitor 2/130); precision,
#   images found that show it (fitted | held out): phone 1/3 | 1/3, laptop 5/7 | 5/8, book/notes
#   5/7 | 5/8, monitor 3/5 | 3/5 (only 1, 5, 10 and 13 dev images show them, the 13 monitors in
#   two clips, so precision is hardly measured; the equal false-flag rate is what 85 holds constant);
#   a monitor is NanoDet's alone (YOLOv4-tiny scores none on the dev photos), found on 3 of 13;
# - person, ``choose_person_cutoff``: the Person instance score with the most exact counts (ties:
#   the strictest), the boxes fused with faces (``local.combined.fused_people``: a box with a face of
#   its own scores as its face, so this cut judges the boxes without one). Person count exact 94.4%
#   fitted, 93.7% held out (5 folds by source); before the fusion (cut 0.31373) 93.7% and 92.3%, and
#   an office chair held out as a second person (issue 10).
# The cuts are rounded away from the image that fixed them. Classes not listed keep the old map.
CONFIDENCE_85: dict[str, float] = {
    "person": 0.27040,  # rule's cut 0.270407, rounded down (that instance counts)
    "cell phone": 0.12743,  # rule's cut 0.127422, rounded up (that negative stays below)
    "laptop": 0.14073,  # 0.140724
    "book": 0.16072,  # 0.160719
    "tvmonitor": 0.20702,  # 0.2070112
}


def calibrated(score: float, coco: str) -> float:
    """Confidence 0-100 of a raw score of class ``coco``: monotone, 85 at ``CONFIDENCE_85``."""
    cut = CONFIDENCE_85.get(coco)
    if cut is None:
        floor = label_info(coco).floor
        if score >= floor:
            value = CALIBRATED_FLOOR + (100.0 - CALIBRATED_FLOOR) * (score - floor) / (1.0 - floor)
        else:
            value = CALIBRATED_FLOOR * score / floor
    elif score >= cut:
        value = POLICY_CONFIDENCE + (100.0 - POLICY_CONFIDENCE) * (score - cut) / (1.0 - cut)
    else:
        value = POLICY_CONFIDENCE * score / cut
    return round(min(100.0, max(0.0, value)), 4)


def raw_score(confidence: float, coco: str) -> float:
    """The raw score that ``calibrated`` reports as ``confidence`` (its inverse, up to rounding)."""
    cut = CONFIDENCE_85.get(coco)
    if cut is None:
        anchor, cut = CALIBRATED_FLOOR, label_info(coco).floor
    else:
        anchor = POLICY_CONFIDENCE
    if confidence >= anchor:
        return cut + (confidence - anchor) / (100.0 - anchor) * (1.0 - cut)
    return confidence * cut / anchor


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
        return calibrated(self.score, self.coco)


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
