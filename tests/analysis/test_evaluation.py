"""The evaluation and the benchmark run end to end on the fixture photos."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from proctoring.analysis import bench, evaluation
from proctoring.analysis.evaluation import LABELS, format_report, with_labels
from tests.analysis.conftest import FIXTURES


def test_it_evaluates_a_labelled_folder(labelled_images: Path, fixture_report: dict[str, Any]) -> None:
    report = fixture_report
    detection = report["detection"]
    assert detection["images"] == 6 and detection["failed"] == []
    product = detection["product"]
    assert product.face_count == (4, 4)
    assert product.unsafe == 0
    assert detection["face_probe_agrees"] == (6, 6)
    assert detection["person_probe_agrees"] == (6, 6)
    assert len(detection["folds"]) == 2
    verification = report["verification"]
    assert verification["genuine_pairs"] == 1 and verification["impostor_pairs"] == 5
    assert verification["default"]["overall"].false_rejects == 0
    assert verification["default"]["overall"].false_matches == 0
    assert (labelled_images.parent / "roc.png").read_bytes().startswith(b"\x89PNG")
    text = format_report(report)
    assert "face count exact (clear-face images)     100.0% (4/4)" in text
    assert "at the default threshold 90" in text and "held out, pooled over 10 splits x 5 folds" in text


def test_it_benchmarks_every_stage(tmp_path: Path, capsys: object) -> None:
    results = {1: bench.summary(bench.measure(FIXTURES, repeat=2))}
    assert {"decode", "faces", "embedding", "objects", "unsafe", "analyze"} <= set(results[1])
    table = bench.format_table(results, 6, 2)
    assert "analyze: all checks + search" in table


def test_the_repository_labels_apply_only_to_the_image_they_were_seen_in(tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "file,source_path,num_people,num_clear_faces,objects,add_tags,seen\n"
        "G/a.jpg,train/a.jpg,2,,books on a shelf,bystander=partial,a second person behind\n"
        "G/b.jpg,train/b.jpg,,,books,head=away,profile\n"
    )
    rows = [
        {"file": "G/a.jpg", "source_path": "train/a.jpg", "num_people": "1", "num_clear_faces": "1", "objects": "",
         "extra_tags": "capture=webcam"},
        {"file": "G/b.jpg", "source_path": "elsewhere/b.jpg", "num_people": "1", "num_clear_faces": "1",
         "extra_tags": ""},
    ]
    labelled, other = with_labels(rows, labels)
    assert labelled["num_people"] == "2" and labelled["num_clear_faces"] == "1"
    assert labelled["objects"] == "books on a shelf"
    assert labelled["extra_tags"] == "capture=webcam;bystander=partial"
    assert other == rows[1]  # same name, another image: left alone
    assert rows[0]["num_people"] == "1"  # the manifest's rows are not changed in place


def test_every_repository_label_names_what_was_seen() -> None:
    with open(LABELS, newline="", encoding="utf-8") as fh:
        labels = list(csv.DictReader(fh))
    assert labels and all(label["seen"].strip() and label["source_path"] for label in labels)


def test_it_measures_verification_alone_without_the_detection_pass(
    labelled_images: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_detection(*args: object) -> None:
        raise AssertionError("the detection pass ran")

    monkeypatch.setattr(evaluation, "observe_all", no_detection)
    out = io.StringIO()
    call_command("evaluate_engine", "--images", str(labelled_images), "--only-verification", "--brief",
                 "--roc", str(tmp_path / "roc.png"), stdout=out)
    text = out.getvalue()
    assert text.startswith("verification (1:1 pairs): 4 photos of 3 people")
    assert "face count" not in text
    assert "best of >=2 references, flip-averaged embedding" in text
    with pytest.raises(CommandError):
        call_command("evaluate_engine", "--images", str(labelled_images), "--only-verification",
                     "--no-verification")
