"""The NanoDet pass finds what YOLO misses and merges without duplicates."""

from __future__ import annotations

from pathlib import Path

import pytest

from proctoring.analysis import nanodet
from proctoring.analysis.imaging import decode
from proctoring.analysis.objects import Detection, label_info
from tests.analysis.conftest import fixture_bytes


def test_it_ships_the_weights() -> None:
    assert nanodet.available(), f"missing {nanodet.WEIGHTS}"


def test_it_finds_the_laptop_on_the_desk() -> None:
    frame = decode({"Bytes": fixture_bytes("desk_laptop.jpg")}, "DetectLabels")
    found = nanodet.detect(frame.bgr)
    laptops = [d for d in found if d.coco == "laptop" and d.confidence >= 55]
    assert laptops
    x, y, w, h = laptops[0].box
    assert w > 0.2 * frame.bgr.shape[1] and h > 0.2 * frame.bgr.shape[0]
    assert {d.coco for d in found} <= set(nanodet.FLOORS)


def test_it_finds_nothing_in_a_portrait() -> None:
    frame = decode({"Bytes": fixture_bytes("signer1_a.jpg")}, "DetectLabels")
    assert [d for d in nanodet.detect(frame.bgr) if d.confidence >= 55] == []


def test_it_maps_its_floor_onto_yolos() -> None:
    own, target = nanodet.FLOORS["laptop"], label_info("laptop").floor
    assert nanodet._rescale(own, own, target) == pytest.approx(target)
    assert nanodet._rescale(1.0, own, target) == pytest.approx(1.0)
    assert nanodet._rescale(own / 2, own, target) == pytest.approx(target / 2)


def test_it_keeps_the_stronger_of_two_overlapping_boxes() -> None:
    yolo = [Detection("laptop", 0.30, (10, 10, 100, 80)), Detection("person", 0.9, (0, 0, 50, 200))]
    stronger = Detection("laptop", 0.60, (12, 12, 100, 80))
    elsewhere = Detection("book", 0.50, (300, 300, 40, 40))
    merged = nanodet.merge(yolo, [stronger, elsewhere])
    assert sorted((d.coco, d.score) for d in merged) == [("book", 0.5), ("laptop", 0.6), ("person", 0.9)]
    weaker = Detection("laptop", 0.10, (12, 12, 100, 80))
    assert nanodet.merge(yolo, [weaker]) == sorted(yolo, key=lambda d: -d.score)


def test_it_skips_the_pass_without_weights(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(nanodet, "WEIGHTS", tmp_path / "absent.onnx.gz")
    frame = decode({"Bytes": fixture_bytes("desk_laptop.jpg")}, "DetectLabels")
    assert nanodet.detect(frame.bgr) == []


def test_it_finds_a_second_screen_as_a_monitor_that_the_sample_policy_ignores() -> None:
    # A switched-off screen on the wall of an empty room. YOLOv4-tiny scores no monitor on the dev
    # photos (here, at 640 px, it does: 0.23); NanoDet's tvmonitor finds it on both.
    from proctoring.analysis.local import LocalEngine

    frame = decode({"Bytes": fixture_bytes("wall_screen.jpg")}, "DetectLabels")
    assert [d.coco for d in nanodet.detect(frame.bgr) if d.confidence >= 85] == ["tvmonitor"]
    labels = LocalEngine().detect_labels(Image={"Bytes": fixture_bytes("wall_screen.jpg")}, MinConfidence=85)["Labels"]
    monitor = next(lab for lab in labels if lab["Name"] == "Monitor")
    assert monitor["Instances"] and monitor["Instances"][0]["BoundingBox"]["Left"] < 0.1  # top left of the room
    assert {"Screen", "Electronics"} <= {lab["Name"] for lab in labels}
    assert not {"Mobile Phone", "Laptop", "Book"} & {lab["Name"] for lab in labels}
