"""Looking away measured on labelled dev frames, as an exam judges it (``proctoring.attention``).

Labels: ``labels/looking_away.csv`` (file, away yes/no, rough |yaw| in degrees by eye, a note), every
dev photo with one clear face in the manifest, labelled by looking at it: "away" when the head (and
the eyes with it) is turned from where a screen in front of the camera would be; a face turned a
little but looking at the camera is not away. The headpose_* test fixtures are frames of the same
Intel head-pose clips (A and F) and are not counted twice.

Each frame's pose is the engine's ``FaceDetails[].Pose`` from the detection run (``measurement``'s
``engine.analyze``, the same call an exam makes); a frame without exactly one face is not flagged
(a miss when it is away). Its baseline is what the product would take at the start of that
student's exam: the same person's (manifest ``identity``) other frames labelled not away, the first
``BASELINE_FRAMES`` that qualify, through ``attention.baseline_of``; a person with none is judged
against the camera's axis (``NEUTRAL``), as a student is before a baseline frame.

Figures: recall (away frames flagged) and false flags (frames not away flagged), at the product's
cut (``attention.AWAY_DEGREES``), at the cut a rule fits on all frames (the lowest cut whose false
flags are at most the target, which maximises recall there), and held out: the rule fitted on the
other folds (by the manifest's ``source``, so frames of one clip or photo set never straddle folds)
and applied to the held-out fold.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .measurement import FOLDS, Target, gap_text, rate_text, source_folds

LABELS = Path(__file__).resolve().parent / "labels" / "looking_away.csv"
TARGET_RECALL, TARGET_FALSE = 0.90, 0.05
Rate = tuple[int, int]


@dataclass(frozen=True)
class Frame:
    file: str
    source: str
    away: bool
    deviation: float | None  # None: no single face found, never flagged


def read_labels(path: Path = LABELS) -> dict[str, bool]:
    with open(path, newline="", encoding="utf-8") as fh:
        return {row["file"]: row["away"] == "yes" for row in csv.DictReader(fh)}


def frames(analyses: dict[str, dict[str, Any] | None], rows: Iterable[dict[str, str]],
           labels: dict[str, bool]) -> list[Frame]:
    """The labelled frames with their deviation from their person's baseline."""
    from proctoring import attention

    manifest = {row["file"]: row for row in rows}
    labelled = [f for f in labels if f in manifest]
    poses = {f: attention.pose_of(analyses.get(f) or {}) for f in labelled}

    def person(f: str) -> str:
        return manifest[f].get("identity") or f

    result = []
    for f in labelled:
        others = [poses[g] for g in labelled if g != f and person(g) == person(f) and not labels[g]]
        baseline_frames = [p for p in others if p is not None and attention.qualifies_for_baseline(p)]
        baseline = attention.baseline_of(baseline_frames[:attention.BASELINE_FRAMES])
        pose = poses[f]
        result.append(Frame(file=f, source=manifest[f].get("source") or f, away=labels[f],
                            deviation=None if pose is None else attention.deviation(pose, baseline)))
    return result


def flagged(frame: Frame, cut: float) -> bool:
    return frame.deviation is not None and frame.deviation > cut


def rates(frames_: Sequence[Frame], cut_of: Any) -> tuple[Rate, Rate]:
    """(recall, false flags) with ``cut_of(frame)`` the cut applied to each frame."""
    away = [f for f in frames_ if f.away]
    not_away = [f for f in frames_ if not f.away]
    return ((sum(flagged(f, cut_of(f)) for f in away), len(away)),
            (sum(flagged(f, cut_of(f)) for f in not_away), len(not_away)))


def choose_cut(train: Sequence[Frame], max_false: float = TARGET_FALSE) -> float:
    """The lowest cut (a deviation seen on a not-away frame, or 0) with false flags <= max_false."""
    negatives = sorted(f.deviation for f in train if not f.away and f.deviation is not None)
    total = sum(not f.away for f in train)
    for cut in [0.0, *negatives]:
        if sum(d > cut for d in negatives) <= max_false * total:
            return cut
    return negatives[-1] if negatives else 0.0


def measure(analyses: dict[str, dict[str, Any] | None], rows: Iterable[dict[str, str]],
            labels: dict[str, bool] | None = None, k: int = FOLDS) -> dict[str, Any]:
    from proctoring import attention

    frames_ = frames(analyses, rows, read_labels() if labels is None else labels)
    folds = source_folds(frames_, k)
    cuts = [choose_cut([f for f in frames_ if f.source not in fold]) for fold in folds]

    def held_out_cut(frame: Frame) -> float:
        return next(cut for fold, cut in zip(folds, cuts, strict=True) if frame.source in fold)

    fitted = choose_cut(frames_)
    return {
        "frames": len(frames_), "no_face": [f.file for f in frames_ if f.deviation is None],
        "product_cut": attention.AWAY_DEGREES, "fitted_cut": fitted, "fold_cuts": cuts,
        "product": rates(frames_, lambda f: attention.AWAY_DEGREES),
        "fitted": rates(frames_, lambda f: fitted),
        "held_out": rates(frames_, held_out_cut),
        "missed": [f.file for f in frames_ if f.away and not flagged(f, attention.AWAY_DEGREES)],
        "false_flags": [f.file for f in frames_ if not f.away and flagged(f, attention.AWAY_DEGREES)],
    }


def format_looking_away(m: dict[str, Any]) -> list[str]:
    (p_rec, p_false), (f_rec, f_false), (h_rec, h_false) = m["product"], m["fitted"], m["held_out"]
    recall, false = Target(at_least=TARGET_RECALL), Target(at_most=TARGET_FALSE)
    return [
        f"Looking away ({m['frames']} labelled frames, {LABELS.name}; deviation from the person's baseline, "
        "proctoring.attention):",
        f"  {'figure':28s} {'product':22s} {'fitted on dev':22s} {'held out':22s} target   gap: product | held out",
        f"  {'recall (away flagged)':28s} {rate_text(p_rec):22s} {rate_text(f_rec):22s} {rate_text(h_rec):22s} "
        ">= 90%   "
        f"{gap_text(p_rec, recall)} | {gap_text(h_rec, recall)}",
        f"  {'false flags (not away)':28s} {rate_text(p_false):22s} {rate_text(f_false):22s} {rate_text(h_false):22s} "
        "<= 5%    "
        f"{gap_text(p_false, false)} | {gap_text(h_false, false)}",
        f"  cut (degrees): product {m['product_cut']:.1f} (attention.AWAY_DEGREES), fitted {m['fitted_cut']:.1f}, "
        f"per fold {', '.join(f'{c:.1f}' for c in m['fold_cuts'])}",
        f"  no single face found (never flagged): {m['no_face'] or 'none'}",
        f"  missed at the product's cut: {m['missed'] or 'none'}",
        f"  false flags at the product's cut: {m['false_flags'] or 'none'}",
    ]
