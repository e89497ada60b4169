"""Accuracy of a backend on a folder of labelled photos (``manifest.csv``, as in shared/data).

Everything goes through the public Rekognition-shaped interface, so the same evaluation runs
on the local engine and on Rekognition.

- Detection (``measurement``): each photo analysed as an exam analyses a frame, under the
  product's default policy (``checks.Policy()``), judged by ``checks.evaluate``; every figure as
  fitted on the dev set and held out (folds by the manifest's ``source``), beside its target.
- Looking away (``looking_away``): the head pose of the same analyses, judged as
  ``proctoring.attention`` judges a session frame, on the frames labelled in
  ``labels/looking_away.csv``; recall and false flags fitted and held out by source.
- Verification: 1:1 genuine and impostor pairs of single-identity photos, at the product's default
  FaceMatchThreshold, per group, and cross-validated by identity (``calibration``). These figures
  are the local engine's (its decode, YuNet, SFace), whatever ``backend`` is.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from exams.policy import DEFAULT_FACE_MATCH_THRESHOLD

from . import looking_away
from .calibration import FOLDS, REPEATS, format_verification, verification_report
from .measurement import FOLDS as DETECTION_FOLDS
from .measurement import format_measurement, measure, observe_all

# Labels added in the repository to what the dev manifest says, each one seen in the image
# (``seen`` says what): people partly visible, a bystander's limb, a head turned away, books.
LABELS = Path(__file__).resolve().parent / "labels" / "manifest_labels.csv"


def read_manifest(images_dir: str | Path, labels: Path | None = LABELS) -> list[dict[str, str]]:
    with open(Path(images_dir) / "manifest.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return with_labels(rows, labels) if labels is not None else rows


def with_labels(rows: list[dict[str, str]], labels: Path) -> list[dict[str, str]]:
    """``rows`` with the repository's labels applied: a labelled count or objects text replaces the manifest's, a
    labelled tag is added to ``extra_tags``. A label applies only to the row with the same ``file``
    and ``source_path`` (another folder's image of the same name is left alone)."""
    with open(labels, newline="", encoding="utf-8") as fh:
        extra = {(r["file"], r["source_path"]): r for r in csv.DictReader(fh)}
    result = []
    for row in rows:
        label = extra.get((row["file"], row.get("source_path", "")))
        if label is not None:
            row = dict(row)
            for column in ("num_people", "num_clear_faces", "objects"):
                if label[column]:
                    row[column] = label[column]
            if label["add_tags"]:
                row["extra_tags"] = ";".join(t for t in (row.get("extra_tags"), label["add_tags"]) if t)
        result.append(row)
    return result


def default_policy() -> Any:
    """The policy every new exam gets: what the figures must be measured at."""
    from proctoring.checks import Policy

    return Policy()


def evaluate(
    images_dir: str | Path,
    backend: Any = None,
    roc_path: str | Path | None = None,
    split: str | None = None,
    match_threshold: float = DEFAULT_FACE_MATCH_THRESHOLD,
    folds: int = FOLDS,
    repeats: int = REPEATS,
    detection_folds: int = DETECTION_FOLDS,
    verification: bool = True,
    detection: bool = True,
) -> dict[str, Any]:
    """Run the backend on every photo of the manifest and compute the figures (see module doc).

    ``backend`` defaults to a fresh local engine with its own memory store; ``roc_path``, when
    given, receives the verification ROC as a PNG. ``detection=False`` leaves out the detection
    and looking-away figures (the backend is not run at all): the verification figures only.
    """
    if backend is None:
        from .local import LocalEngine
        from .store import MemoryFaceStore

        backend = LocalEngine(store=MemoryFaceStore())
    root = Path(images_dir)
    rows = [r for r in read_manifest(root) if split is None or r.get("split") == split]
    report: dict[str, Any] = {"images": len(rows)}
    if detection:
        policy = default_policy()
        observations = observe_all(root, rows, backend, policy)
        report["detection"] = measure(observations, policy, detection_folds)
        if policy.looking_away:  # on in every new exam: measured on the frames labelled for it
            report["looking_away"] = looking_away.measure_both({o.file: o.analysis for o in observations}, rows,
                                                               root)
    if verification:
        report["verification"] = verification_report(root, rows, match_threshold, roc_path, folds, repeats)
    return report


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


def format_report(report: dict[str, Any], details: bool = True) -> str:
    """A plain-text table of ``evaluate``'s figures."""
    lines = [format_measurement(report["detection"], details)] if "detection" in report else []
    if "looking_away" in report:
        lines += looking_away.format_looking_away(report["looking_away"])
    if "verification" in report:
        lines += format_verification(report["verification"])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m proctoring.analysis.evaluation IMAGES_DIR [--roc PNG]``: print the report."""
    import argparse

    parser = argparse.ArgumentParser(description="Accuracy of the local engine on labelled photos.")
    parser.add_argument("images", type=Path)
    parser.add_argument("--roc", type=Path, default=None, help="write the verification ROC here")
    args = parser.parse_args(argv)
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()  # the checks judge with the product's incident vocabulary
    print(format_report(evaluate(args.images, roc_path=args.roc)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
