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

The eyes (``eyes_of``, what ``attention.eyes_of`` reads in the product: the frame's bytes decoded as
the engine decodes them, the face mesh and iris models on the engine's face box) give each frame a
second deviation, of where the eyes point (head yaw plus the eyes' turn) from where they pointed on
the baseline frames; a rule ``(cut, band)`` judges by it where the head's deviation is within
``band`` of ``cut`` (``flagged``; band 0: the head alone).

Figures: recall (away frames flagged) and false flags (frames not away flagged), with the product's
rule (``attention.AWAY_DEGREES``, ``attention.EYE_BAND``), with the rule fitted on all frames
(``choose_rule``: for each band of ``BANDS``, the lowest cut that catches the most away frames with
false flags at most the target; of the bands, the one that catches the most, then flags the fewest,
then is the narrowest), and held out: the rule (cut and band) fitted on the other folds (by the
manifest's ``source``, so frames of one clip or photo set never straddle folds) and applied to the
held-out fold. Each twice: as looking away alone, and with a frame where no face is found at all
counted as caught (the session's "no face" check holds on it and opens its own incident; a full
profile is such a frame). Then the head's pose alone, the same way, and what the incident rule (3 of
the latest 5 frames) makes of the held-out frame rates (``window_rates``).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .measurement import FOLDS, Target, gap_text, rate_text, source_folds

LABELS = Path(__file__).resolve().parent / "labels" / "looking_away.csv"
TARGET_RECALL, TARGET_FALSE = 0.90, 0.05
Rate = tuple[int, int]


BANDS = (0.0, 4.0, 8.0, 12.0)  # the eye bands a rule may choose (attention.EYE_BAND in the product)


@dataclass(frozen=True)
class Frame:
    file: str
    source: str
    away: bool
    deviation: float | None  # the head's; None: no single face found, never flagged
    eyes_deviation: float | None = None  # where the eyes point (head yaw + the eyes' turn); None: not read
    no_face: bool = False  # no face found at all: the frame holds the session's "no face" check instead


def read_labels(path: Path = LABELS) -> dict[str, bool]:
    with open(path, newline="", encoding="utf-8") as fh:
        return {row["file"]: row["away"] == "yes" for row in csv.DictReader(fh)}


def frames(analyses: dict[str, dict[str, Any] | None], rows: Iterable[dict[str, str]],
           labels: dict[str, bool], eyes_of: Callable[[str], float | None] | None = None) -> list[Frame]:
    """The labelled frames with their deviation from their person's baseline; with ``eyes_of`` (a
    file's eyes' turn, ``attention.eyes_of``), where the eyes point too (read on every frame with a
    face here, so that a rule may choose its band; the product reads them only near its cut)."""
    from proctoring import attention

    manifest = {row["file"]: row for row in rows}
    labelled = [f for f in labels if f in manifest]
    poses = {f: attention.pose_of(analyses.get(f) or {}) for f in labelled}

    def person(f: str) -> str:
        return manifest[f].get("identity") or f

    turns = {f: eyes_of(f) if poses[f] is not None and eyes_of is not None else None for f in labelled}
    result = []
    for f in labelled:
        others = [g for g in labelled if g != f and person(g) == person(f) and not labels[g]]
        taken = [[*poses[g], turns[g]] for g in others  # type: ignore[misc]
                 if poses[g] is not None and attention.qualifies_for_baseline(poses[g])][:attention.BASELINE_FRAMES]
        baseline = attention.baseline_of([(p[0], p[1]) for p in taken])
        pose, turn = poses[f], turns[f]
        result.append(Frame(
            file=f, source=manifest[f].get("source") or f, away=labels[f],
            deviation=None if pose is None else attention.deviation(pose, baseline),
            eyes_deviation=None if pose is None or turn is None else attention.deviation(
                (pose[0] + turn, pose[1]), attention.gaze_baseline_of(taken)),
            no_face=not ((analyses.get(f) or {}).get("FaceDetails"))))
    return result


def flagged(frame: Frame, cut: float, band: float = 0.0, *, no_face: bool = False) -> bool:
    """Flagged by the rule (``attention.judged_deviation``): the head's deviation, or where it is within
    ``band`` of ``cut`` and the eyes were read, where the eyes point. ``no_face``: a frame without any
    face counts as caught (the session's "no face" check holds on it; it is not "looking away")."""
    if frame.deviation is None:
        return no_face and frame.no_face
    if frame.eyes_deviation is None or abs(frame.deviation - cut) > band:
        return frame.deviation > cut
    return frame.eyes_deviation > cut


def rates(frames_: Sequence[Frame], cut_of: Any, band_of: Any = lambda f: 0.0, *,
          no_face: bool = False) -> tuple[Rate, Rate]:
    """(recall, false flags) with ``cut_of(frame)`` and ``band_of(frame)`` the rule applied to each frame."""
    away = [f for f in frames_ if f.away]
    not_away = [f for f in frames_ if not f.away]

    def hits(group: list[Frame]) -> int:
        return sum(flagged(f, cut_of(f), band_of(f), no_face=no_face) for f in group)
    return (hits(away), len(away)), (hits(not_away), len(not_away))


def choose_cut(train: Sequence[Frame], max_false: float = TARGET_FALSE) -> float:
    """The lowest cut (a deviation seen on a not-away frame, or 0) with false flags <= max_false."""
    negatives = sorted(f.deviation for f in train if not f.away and f.deviation is not None)
    total = sum(not f.away for f in train)
    for cut in [0.0, *negatives]:
        if sum(d > cut for d in negatives) <= max_false * total:
            return cut
    return negatives[-1] if negatives else 0.0


def choose_rule(train: Sequence[Frame], max_false: float = TARGET_FALSE,
                bands: Sequence[float] = BANDS) -> tuple[float, float]:
    """(cut, band): for each band, the lowest cut that catches the most away frames with false flags
    <= max_false; of the bands, the one that catches the most, then flags the fewest, then is the
    narrowest (the fewest model calls). Without eyes read, band 0 and ``choose_cut``'s cut."""
    total = sum(not f.away for f in train)
    cuts = sorted({0.0} | {d for f in train for d in (f.deviation, f.eyes_deviation) if d is not None})
    best: tuple[tuple[int, int, float], float, float] | None = None
    for band in bands:
        of_band: tuple[int, int, float] | None = None  # (hit, false, cut): the lowest cut of the most hits
        for cut in cuts:
            (hit, _), (false, _) = rates(train, lambda f, c=cut: c, lambda f, b=band: b)
            if false <= max_false * total and (of_band is None or hit > of_band[0]):
                of_band = (hit, false, cut)
        if of_band is not None and (best is None or (of_band[0], -of_band[1], -band) > best[0]):
            best = ((of_band[0], -of_band[1], -band), of_band[2], band)
    return (best[1], best[2]) if best is not None else (cuts[-1], 0.0)


def measure(analyses: dict[str, dict[str, Any] | None], rows: Iterable[dict[str, str]],
            labels: dict[str, bool] | None = None, k: int = FOLDS,
            eyes_of: Callable[[str], float | None] | None = None, band: float | None = None) -> dict[str, Any]:
    """The figures (module doc). With ``eyes_of``, the fitted and held-out rules choose their band
    (``BANDS``) and the product's rule reads the eyes within ``band`` of its cut (by default the band
    fitted on all frames); without, the head's pose alone."""
    from proctoring import attention

    frames_ = frames(analyses, rows, read_labels() if labels is None else labels, eyes_of)
    folds = source_folds(frames_, k)
    rules = [choose_rule([f for f in frames_ if f.source not in fold]) for fold in folds]

    def held_out(frame: Frame) -> tuple[float, float]:
        return next(rule for fold, rule in zip(folds, rules, strict=True) if frame.source in fold)

    fitted = choose_rule(frames_)
    band = (fitted[1] if band is None else band) if eyes_of is not None else 0.0
    product = (attention.AWAY_DEGREES, band)
    figures = {}
    for name, rule_of in (("product", lambda f: product), ("fitted", lambda f: fitted), ("held_out", held_out)):
        for caught in (False, True):
            figures[name + ("_caught" if caught else "")] = rates(
                frames_, lambda f, r=rule_of: r(f)[0], lambda f, r=rule_of: r(f)[1], no_face=caught)
    return {
        "frames": len(frames_), "no_face": [f.file for f in frames_ if f.deviation is None],
        "product_cut": attention.AWAY_DEGREES, "product_band": band, "fitted_cut": fitted[0],
        "fitted_band": fitted[1], "fold_cuts": [r[0] for r in rules], "fold_bands": [r[1] for r in rules],
        "eyes_read": sum(f.deviation is not None and f.eyes_deviation is not None
                         and abs(f.deviation - attention.AWAY_DEGREES) <= band for f in frames_),
        **figures,
        "missed": [f.file for f in frames_ if f.away and not flagged(f, *product)],
        "false_flags": [f.file for f in frames_ if not f.away and flagged(f, *product)],
    }


def window_rates(recall: float, false: float, k: int = 3, n: int = 5) -> dict[str, float]:
    """The chance that the incident rule (``incidents.rule``: k of the latest n frames) opens a looking-away
    incident, from frame rates, with each frame's verdict independent: for a sustained look (n frames
    away), a glance (one frame away, the others not) and n frames not away."""
    def at_least(m: int, count: int, p: float) -> float:
        return sum(math.comb(count, i) * p ** i * (1 - p) ** (count - i) for i in range(m, count + 1))
    glance = recall * at_least(k - 1, n - 1, false) + (1 - recall) * at_least(k, n - 1, false)
    return {"sustained": at_least(k, n, recall), "glance": glance, "attentive": at_least(k, n, false)}


def eyes_reader(root: Path, analyses: dict[str, dict[str, Any] | None]) -> Callable[[str], float | None]:
    """A file's eyes' turn as the product reads it (``attention.eyes_of``: the frame's bytes, the
    engine's face box)."""
    from proctoring import attention

    def read(file: str) -> float | None:
        path = root / file
        return attention.eyes_of(path.read_bytes(), analyses.get(file) or {})() if path.is_file() else None
    return read


def measure_both(analyses: dict[str, dict[str, Any] | None], rows: Iterable[dict[str, str]],
                 root: Path) -> dict[str, Any]:
    """The product's rule (``measure``: the eyes read within ``attention.EYE_BAND`` of the cut, or the
    head alone where it is 0), with the other one beside it (``other``)."""
    from proctoring import attention

    reader = eyes_reader(root, analyses)
    cache: dict[str, float | None] = {}

    def eyes(file: str) -> float | None:
        if file not in cache:
            cache[file] = reader(file)
        return cache[file]
    eyes_on = attention.EYE_BAND > 0
    result = measure(analyses, rows, eyes_of=eyes if eyes_on else None, band=attention.EYE_BAND)
    result["other"] = measure(analyses, rows, eyes_of=None if eyes_on else eyes)
    return result


def format_looking_away(m: dict[str, Any]) -> list[str]:
    recall, false = Target(at_least=TARGET_RECALL), Target(at_most=TARGET_FALSE)

    def row(name: str, suffix: str, index: int, target: Target, text: str) -> str:
        p, f, h = (m[k + suffix][index] for k in ("product", "fitted", "held_out"))
        return (f"  {name:34s} {rate_text(p):22s} {rate_text(f):22s} {rate_text(h):22s} {text:8s} "
                f"{gap_text(p, target)} | {gap_text(h, target)}")

    lines = [
        f"Looking away ({m['frames']} labelled frames, {LABELS.name}; deviation from the person's baseline, "
        "proctoring.attention):",
        f"  {'figure':34s} {'product':22s} {'fitted on dev':22s} {'held out':22s} target   gap: product | held out",
        row("recall (away flagged)", "", 0, recall, ">= 90%"),
        row("false flags (not away)", "", 1, false, "<= 5%"),
        row("recall, no-face incident counted", "_caught", 0, recall, ">= 90%"),
        row("false flags, no-face counted", "_caught", 1, false, "<= 5%"),
        f"  rule: product cut {m['product_cut']:.1f} (attention.AWAY_DEGREES), "
        + (f"eyes read within {m['product_band']:g} of it (EYE_BAND: {m['eyes_read']} of {m['frames']} frames)"
           if m["product_band"] else "the head's pose alone (EYE_BAND 0)") + "; fitted cut "
        f"{m['fitted_cut']:.1f} band {m['fitted_band']:g}; per fold "
        + ", ".join(f"{c:.1f}/{b:g}" for c, b in zip(m["fold_cuts"], m["fold_bands"], strict=True)),
    ]
    if "other" in m:
        h = m["other"]
        name = (f"with the eyes within {h['product_band']:g} of the cut (band fitted: {h['fitted_band']:g}; per fold "
                + ", ".join(f"{c:.1f}/{b:g}" for c, b in zip(h["fold_cuts"], h["fold_bands"], strict=True)) + ")"
                if h["product_band"] else "the head's pose alone")
        lines.append(f"  {name}, recall and false flags, product | fitted | held out: " + " | ".join(
            f"{h[k][0][0]}/{h[k][0][1]}, {h[k][1][0]}/{h[k][1][1]}" for k in ("product", "fitted", "held_out")))
    (hit, away), (flags, fine) = m["held_out"]
    w = window_rates(hit / max(away, 1), flags / max(fine, 1))
    lines.append(f"  as incidents (3 of the latest 5 frames), from the held-out frame rates, frames independent: a "
                 f"sustained look {100 * w['sustained']:.1f}%, a one-frame glance {100 * w['glance']:.2f}%, 5 frames "
                 f"not away {100 * w['attentive']:.2f}% (where a student's frames err together, the frame rates)")
    return lines + [
        f"  no single face found (never flagged as looking away): {m['no_face'] or 'none'}",
        f"  missed at the product's rule: {m['missed'] or 'none'}",
        f"  false flags at the product's rule: {m['false_flags'] or 'none'}",
    ]
