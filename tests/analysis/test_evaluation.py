"""The evaluation and the benchmark run end to end on the fixture photos."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from proctoring.analysis import bench
from proctoring.analysis.evaluation import format_report
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
