"""Accuracy of a backend on a folder of labelled photos (``manifest.csv``, as in shared/data).

Everything goes through the public Rekognition-shaped interface, so the same evaluation runs
on the local engine and on Rekognition. Ground truth per image: ``num_clear_faces``,
``num_people``, ``objects`` (free text, searched for phone / laptop / book), ``identity``.

- Face count: ``len(FaceDetails)`` from ``analyze`` equals ``num_clear_faces``; the headline is
  over "clear-face images" (at least one clear face), images without faces are reported apart.
- Person count: Person label instances equal ``num_people``.
- Objects: image-level presence of Mobile Phone / Laptop / Book at MinConfidence 55.
- Unsafe content: every photo is safe, so any moderation label at 50 is a false positive.
- Verification: 1:1 genuine and impostor pairs of single-identity photos, at the product's default
  FaceMatchThreshold, per group, and cross-validated by identity (``calibration``). These figures
  are the local engine's (its decode, YuNet, SFace), whatever ``backend`` is.
"""

from __future__ import annotations

import csv
import re
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
from botocore.exceptions import ClientError

from exams.policy import DEFAULT_FACE_MATCH_THRESHOLD

from .calibration import FOLDS, REPEATS, format_verification, verification_report

LABEL_CONFIDENCE = 55.0
UNSAFE_CONFIDENCE = 50.0
OBJECT_CLASSES = {
    "phone": (re.compile(r"\b(mobile |cell )?phone\b"), "Mobile Phone"),
    "laptop": (re.compile(r"\blaptops?\b"), "Laptop"),
    "book": (re.compile(r"\b(note)?books?\b|\bmagazine\b"), "Book"),
}


def read_manifest(images_dir: str | Path) -> list[dict[str, str]]:
    with open(Path(images_dir) / "manifest.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def evaluate(
    images_dir: str | Path,
    backend: Any = None,
    roc_path: str | Path | None = None,
    split: str | None = None,
    match_threshold: float = DEFAULT_FACE_MATCH_THRESHOLD,
    folds: int = FOLDS,
    repeats: int = REPEATS,
) -> dict[str, Any]:
    """Run the backend on every photo of the manifest and compute the figures (see module doc).

    ``backend`` defaults to a fresh local engine with its own memory store; ``roc_path``, when
    given, receives the verification ROC as a PNG.
    """
    if backend is None:
        from .local import LocalEngine
        from .store import MemoryFaceStore

        backend = LocalEngine(store=MemoryFaceStore())
    root = Path(images_dir)
    rows = [r for r in read_manifest(root) if split is None or r.get("split") == split]
    results = []
    timings = []
    for row in rows:
        data = (root / row["file"]).read_bytes()
        start = time.perf_counter()
        try:
            response = backend.analyze(Image={"Bytes": data}, MinConfidence=0)
        except ClientError as exc:
            response = {"error": str(exc)}
        timings.append(time.perf_counter() - start)
        results.append((row, response))
    report: dict[str, Any] = {
        "images": len(rows),
        "analyze_median_ms": round(statistics.median(timings) * 1000, 1) if timings else None,
    }
    report.update(_counts(results))
    report.update(_objects(results))
    report.update(_unsafe(results))
    report["verification"] = verification_report(root, rows, match_threshold, roc_path, folds, repeats)
    return report


def _people(response: dict) -> int:
    return sum(
        1
        for label in response.get("Labels", [])
        if label["Name"] == "Person"
        for instance in label.get("Instances", [])
        if instance["Confidence"] >= LABEL_CONFIDENCE
    )


def _counts(results: list[tuple[dict, dict]]) -> dict[str, Any]:
    face_ok = face_n = zero_ok = zero_n = person_ok = 0
    misses = []
    for row, response in results:
        faces = len(response.get("FaceDetails", []))
        expected = int(row["num_clear_faces"] or 0)
        if expected > 0:
            face_n += 1
            face_ok += faces == expected
        else:
            zero_n += 1
            zero_ok += faces == 0
        people = _people(response)
        person_ok += people == int(row["num_people"] or 0)
        if faces != expected or people != int(row["num_people"] or 0):
            misses.append(
                f"{row['file']}: faces {faces}/{expected} people {people}/{row['num_people']}"
            )
    return {
        "face_count_exact": _rate(face_ok, face_n),
        "face_count_images": face_n,
        "no_face_images_exact": _rate(zero_ok, zero_n),
        "no_face_images": zero_n,
        "person_count_exact": _rate(person_ok, len(results)),
        "count_misses": misses,
    }


def _labels_present(response: dict) -> set[str]:
    return {
        label["Name"]
        for label in response.get("Labels", [])
        if label["Confidence"] >= LABEL_CONFIDENCE
    }


def _objects(results: list[tuple[dict, dict]]) -> dict[str, Any]:
    per_class: dict[str, dict[str, Any]] = {}
    false_images = clean_images = 0
    misses = []
    for key, (pattern, name) in OBJECT_CLASSES.items():
        tp = fp = fn = 0
        for row, response in results:
            truth = bool(pattern.search(row["objects"].lower()))
            found = name in _labels_present(response)
            tp += truth and found
            fp += found and not truth
            fn += truth and not found
            if truth != found:
                misses.append(f"{row['file']}: {name} expected={truth} found={found}")
        per_class[key] = {
            "precision": _rate(tp, tp + fp),
            "recall": _rate(tp, tp + fn),
            "positives": tp + fn,
            "false_positives": fp,
        }
    names = {name for _, name in OBJECT_CLASSES.values()}
    recall_hits = sum(c["recall"][0] for c in per_class.values() if c["recall"])
    recall_total = sum(c["positives"] for c in per_class.values())
    for row, response in results:
        truth = any(p.search(row["objects"].lower()) for p, _ in OBJECT_CLASSES.values())
        if not truth:
            clean_images += 1
            false_images += bool(names & _labels_present(response))
    return {
        "objects": per_class,
        "object_recall": _rate(recall_hits, recall_total),
        "false_object_images": _rate(false_images, clean_images),
        "object_misses": misses,
    }


def _unsafe(results: list[tuple[dict, dict]]) -> dict[str, Any]:
    scores = [
        max((m["Confidence"] for m in response.get("ModerationLabels", [])), default=0.0)
        for _, response in results
    ]
    flagged = sum(score >= UNSAFE_CONFIDENCE for score in scores)
    return {
        "unsafe_false_positives": flagged,
        "unsafe_max_safe_score": round(max(scores, default=0.0), 2),
    }


def roc_points(genuine: np.ndarray, impostor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    thresholds = np.unique(np.concatenate([genuine, impostor, [101.0]]))[::-1]
    fmr = np.array([(impostor > t).mean() for t in thresholds])
    tmr = np.array([(genuine > t).mean() for t in thresholds])
    return fmr, tmr


def write_roc(genuine: np.ndarray, impostor: np.ndarray, path: Path) -> Path:
    """The ROC (log FMR vs TMR) as a PNG: matplotlib when installed, else drawn with OpenCV."""
    fmr, tmr = roc_points(genuine, impostor)
    floor = 1.0 / max(impostor.size, 1) / 2
    x = np.log10(np.clip(fmr, floor, 1.0))
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5, 4), dpi=100)
        ax.plot(x, tmr, drawstyle="steps-post")
        ax.set_xlabel("log10 false match rate")
        ax.set_ylabel("true match rate")
        ax.set_ylim(0, 1.01)
        ax.grid(True, alpha=0.3)
        ax.set_title("Face verification ROC")
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
    except ImportError:
        import cv2

        w, h, m = 500, 400, 40
        canvas = np.full((h, w, 3), 255, np.uint8)
        lo = float(x.min()) if x.size else -3.0
        span = max(-lo, 1e-6)
        pts = [
            (int(m + (xv - lo) / span * (w - 2 * m)), int(h - m - tv * (h - 2 * m)))
            for xv, tv in zip(x, tmr, strict=True)
        ]
        cv2.rectangle(canvas, (m, m), (w - m, h - m), (0, 0, 0), 1)
        cv2.polylines(canvas, [np.array(pts, np.int32)], False, (200, 80, 0), 2)
        cv2.putText(canvas, "log10 FMR vs TMR", (m, m - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (0, 0, 0), 1)
        cv2.imwrite(str(path), canvas)
    return path


def _rate(hits: int, total: int) -> tuple[int, int] | None:
    return (int(hits), int(total)) if total else None


def _pct(value: tuple[int, int] | None) -> str:
    if not value:
        return "n/a"
    hits, total = value
    return f"{100.0 * hits / total:5.1f}% ({hits}/{total})"


def format_report(report: dict[str, Any], details: bool = True) -> str:
    """A plain-text table of ``evaluate``'s figures."""
    lines = [
        f"images evaluated                 {report['images']}",
        f"analyze median                   {report['analyze_median_ms']} ms",
        f"face count exact (clear faces)   {_pct(report['face_count_exact'])}",
        f"no-face images with 0 faces      {_pct(report['no_face_images_exact'])}",
        f"person count exact               {_pct(report['person_count_exact'])}",
    ]
    for key, figures in report["objects"].items():
        lines.append(
            f"{key:6s} precision {_pct(figures['precision']):18s} recall {_pct(figures['recall'])}"
        )
    lines += [
        f"phone/laptop/book recall         {_pct(report['object_recall'])}",
        f"false objects (images w/o them)  {_pct(report['false_object_images'])}",
        f"unsafe false positives           {report['unsafe_false_positives']}"
        f" (highest safe score {report['unsafe_max_safe_score']})",
    ]
    lines += format_verification(report["verification"])
    if details:
        lines += ["count misses:"] + [f"  {m}" for m in report["count_misses"]]
        lines += ["object misses:"] + [f"  {m}" for m in report["object_misses"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m proctoring.analysis.evaluation IMAGES_DIR [--roc PNG]``: print the report."""
    import argparse

    parser = argparse.ArgumentParser(description="Accuracy of the local engine on labelled photos.")
    parser.add_argument("images", type=Path)
    parser.add_argument("--roc", type=Path, default=None, help="write the verification ROC here")
    args = parser.parse_args(argv)
    print(format_report(evaluate(args.images, roc_path=args.roc)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
