"""1:1 face verification measured honestly: pairs, identity-grouped cross-validation, groups.

Every photo of the manifest with a single identity is a sample. Its face is found and embedded
the way the engine does it (``imaging.decode`` at the engine's working size, the largest YuNet
face, SFace on the landmark-aligned crop), once per photo; a trial then compares vectors.

- A *pair* is two samples (unordered). Genuine when they share the identity, impostor otherwise.
  Two photos derived from one original (the manifest says "DERIVED from x") are not a pair: they
  are the same capture. A photo where no face is found stays in: every genuine pair it is in is a
  false reject; its impostor pairs are left out of the FMR's denominator (which can only raise
  the FMR) and counted apart.
- A *multi-reference trial* is what the product does with several registrations: a probe photo
  against every other photo of the claimed identity, scored by the best (or the mean of the top
  two) cosine. It is webcam-like when the probe is; a quality gate judges the probe only.
- Thresholds are chosen for FMR <= ``TARGET_FMR`` on training folds and measured on the held-out
  fold. Folds split *identities*: a trial is in a fold's test set when all its identities are in
  the fold, in its training set when none is; trials across the split are in neither, so no
  identity is ever both chosen on and measured on.
- Webcam-like (pairs): at least one side is a webcam frame, a phone selfie or a frame of a webcam clip.
- Groups: each ``extra_tags`` dimension=value (``capture`` is derived for untagged photos: a
  video clip frame is ``webcam_clip``, anything else ``photo``), and ``face_height``, the found
  face's height in the original photo (``face_size``); a trial is in a group when every photo in it
  carries that value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from botocore.exceptions import ClientError

from . import faces as face_ops
from .imaging import DEFAULT_WORK_SIDE, decode

TARGET_FMR = 0.001  # issue 9: FMR <= 0.1% ...
TARGET_FNMR = 0.02  # ... with FNMR <= 2% on webcam-like pairs
GROUP_FACTOR = 2.0  # ... and no group's FMR or FNMR above twice the overall figure
FOLDS = 5
REPEATS = 10  # k-fold splits with seeds 0..9: one split's figures hang on which fold the hard pairs fall in
WEBCAM_CAPTURES = frozenset({"webcam", "phone_selfie", "webcam_clip"})
CLIP_SOURCE = re.compile(r"_iv_")  # frames of the Intel sample videos (webcam clips)
DERIVED = re.compile(r"DERIVED (?:from|crop of) (\S+?)[:( ]")


@dataclass(frozen=True)
class FaceSample:
    """One photo: who it shows, how it was captured and, when a face was found, its embedding."""

    file: str
    identity: str
    origin: str  # the capture it comes from: itself, or the photo it was derived from
    tags: tuple[tuple[str, str], ...]
    vector: np.ndarray | None = field(default=None, compare=False)
    height: float = 0.0  # face height in original pixels
    sharpness: float = 0.0
    yaw: float = 0.0

    @property
    def webcam_like(self) -> bool:
        return dict(self.tags).get("capture") in WEBCAM_CAPTURES

    @property
    def found(self) -> bool:
        return self.vector is not None


@dataclass(frozen=True)
class Trial:
    """One comparison: ``score`` is a cosine, None when a side had no face."""

    identities: frozenset[str]
    genuine: bool
    score: float | None
    webcam_like: bool
    groups: frozenset[tuple[str, str]]
    judged: bool = True  # False: a quality gate refused to judge the probe
    name: str = ""  # what is compared: "probe file ~ identity" (references) or "file ~ file" (pairs)


@dataclass(frozen=True)
class Rates:
    genuine: int
    false_rejects: int
    impostor: int
    false_matches: int
    not_judged_genuine: int = 0
    not_judged_impostor: int = 0
    no_face_impostor: int = 0

    @property
    def fnmr(self) -> float | None:
        return self.false_rejects / self.genuine if self.genuine else None

    @property
    def fmr(self) -> float | None:
        return self.false_matches / self.impostor if self.impostor else None


# -- samples -------------------------------------------------------------------------------


def identity_of(row: dict[str, str]) -> str:
    identity = (row.get("identity") or "").strip()
    if not identity or ";" in identity or "(" in identity:
        return ""  # no identity, or several people: not a verification sample
    return identity


def tags_of(row: dict[str, str]) -> tuple[tuple[str, str], ...]:
    tags = dict(
        part.split("=", 1) for part in (row.get("extra_tags") or "").split(";") if "=" in part
    )
    if "capture" not in tags:
        tags["capture"] = "webcam_clip" if CLIP_SOURCE.search(row["file"]) else "photo"
    return tuple(sorted(tags.items()))


# Face heights (pixels of the original image) that the card and the groups tell apart: under 80 px
# the product's quality gate (GATE) refuses to judge a face as too far.
FACE_SIZES = ((80.0, "<80px"), (160.0, "80-159px"), (math.inf, ">=160px"))


def face_size(height: float) -> str:
    """The ``face_height`` group of a face ``height`` pixels tall in the original image."""
    return next(name for top, name in FACE_SIZES if height < top)


def origin_of(row: dict[str, str]) -> str:
    match = DERIVED.search(row.get("notes") or "")
    return Path(match.group(1)).stem.lower() if match else Path(row["file"]).stem.lower()


def embed_photo(data: bytes) -> tuple[np.ndarray, face_ops.Face, Any] | None:
    """The engine's path: decode at the working size, the largest face, its SFace vector."""
    try:
        frame = decode({"Bytes": data}, "CompareFaces", DEFAULT_WORK_SIDE)
    except ClientError:
        return None
    found = face_ops.detect(frame.bgr)
    if not found:
        return None
    return face_ops.embed(frame.bgr, found[0]), found[0], frame


def load_samples(
    root: Path,
    rows: Iterable[dict[str, str]],
    embedder: Callable[[bytes], tuple[np.ndarray, face_ops.Face, Any] | None] = embed_photo,
) -> list[FaceSample]:
    samples = []
    for row in rows:
        identity = identity_of(row)
        if not identity:
            continue
        base = FaceSample(row["file"], identity, origin_of(row), tags_of(row))
        result = embedder((root / row["file"]).read_bytes())
        if result is None:
            samples.append(base)
            continue
        vector, face, frame = result
        height = face.box[3] / frame.scale
        samples.append(
            FaceSample(
                base.file, identity, base.origin, tuple(sorted((*base.tags, ("face_height", face_size(height))))),
                vector,
                height=height,
                sharpness=face_ops.quality(frame.bgr, face)["Sharpness"],
                yaw=face_ops.pose(face.landmarks)["Yaw"],
            )
        )
    return samples


# -- trials --------------------------------------------------------------------------------

Gate = Callable[[FaceSample], bool]


def judge_all(sample: FaceSample) -> bool:
    return True


def _groups(samples: Sequence[FaceSample]) -> frozenset[tuple[str, str]]:
    common = set(samples[0].tags)
    for sample in samples[1:]:
        common &= set(sample.tags)
    return frozenset(common)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b))


def make_pairs(samples: Sequence[FaceSample], gate: Gate = judge_all) -> list[Trial]:
    """Every unordered pair of samples from different captures (see the module doc)."""
    trials = []
    for i, a in enumerate(samples):
        for b in samples[i + 1:]:
            if a.origin == b.origin:
                continue
            score = _cosine(a.vector, b.vector) if a.vector is not None and b.vector is not None else None
            trials.append(Trial(
                identities=frozenset({a.identity, b.identity}),
                genuine=a.identity == b.identity,
                score=score,
                webcam_like=a.webcam_like or b.webcam_like,
                groups=_groups([a, b]),
                judged=(not a.found or gate(a)) and (not b.found or gate(b)),
                name=f"{a.file} ~ {b.file}",
            ))
    return trials


def best(scores: list[float]) -> float:
    return max(scores)


def mean_top2(scores: list[float]) -> float:
    top = sorted(scores, reverse=True)[:2]
    return sum(top) / len(top)


def make_reference_trials(
    samples: Sequence[FaceSample],
    fuse: Callable[[list[float]], float] = best,
    gate: Gate = judge_all,
    min_references: int = 2,
) -> list[Trial]:
    """Each probe against every other capture of each identity that has ``min_references``.

    References without a face are refused at registration in the product, so they are not
    references here; a probe without a face is a miss.
    """
    by_identity: dict[str, list[FaceSample]] = {}
    for sample in samples:
        by_identity.setdefault(sample.identity, []).append(sample)
    trials = []
    for probe in samples:
        for identity, photos in sorted(by_identity.items()):
            refs = [r for r in photos if r.origin != probe.origin and r.found]
            if len(refs) < min_references:
                continue
            score = None
            if probe.vector is not None:
                score = fuse([_cosine(probe.vector, r.vector) for r in refs if r.vector is not None])
            trials.append(Trial(
                identities=frozenset({probe.identity, identity}),
                genuine=probe.identity == identity,
                score=score,
                webcam_like=probe.webcam_like,
                groups=_groups([probe, *refs]),
                judged=not probe.found or gate(probe),
                name=f"{probe.file} ~ {identity}",
            ))
    return trials


# -- rates and thresholds ------------------------------------------------------------------


def erred(trial: Trial, threshold: float) -> bool:
    """A false reject or a false match at ``threshold``, as ``rates`` counts them."""
    if not trial.judged:
        return False
    if trial.genuine:
        return trial.score is None or trial.score < threshold
    return trial.score is not None and trial.score >= threshold


def rates(trials: Iterable[Trial], threshold: float) -> Rates:
    """False rejects and false matches at cosine ``threshold`` (a match is ``score >= threshold``)."""
    g = fr = i = fm = ng = ni = nf = 0
    for t in trials:
        if not t.judged:
            ng += t.genuine
            ni += not t.genuine
        elif t.genuine:
            g += 1
            fr += t.score is None or t.score < threshold
        elif t.score is None:
            nf += 1
        else:
            i += 1
            fm += t.score >= threshold
    return Rates(g, fr, i, fm, ng, ni, nf)


def threshold_for(impostor_scores: Sequence[float], target: float = TARGET_FMR) -> float:
    """The lowest cosine at which at most ``target`` of these impostor scores match."""
    ordered = np.sort(np.asarray(impostor_scores, dtype=np.float64))[::-1]
    allowed = int(math.floor(target * ordered.size + 1e-9))
    if allowed >= ordered.size:
        return -1.0
    return float(np.nextafter(ordered[allowed], np.inf))


def choose_threshold(trials: Sequence[Trial], target: float = TARGET_FMR) -> float:
    """The cosine meeting ``target`` on all judged impostor trials and on the webcam-like ones."""
    impostors = [t for t in trials if not t.genuine and t.judged and t.score is not None]
    webcam = [t.score for t in impostors if t.webcam_like]
    chosen = threshold_for([t.score for t in impostors], target)
    return max(chosen, threshold_for(webcam, target)) if webcam else chosen


def identity_folds(samples: Sequence[FaceSample], k: int = FOLDS, seed: int = 0) -> list[set[str]]:
    """``k`` disjoint sets of identities; webcam-like identities are dealt first so every fold
    gets some."""
    webcam = sorted({s.identity for s in samples if s.webcam_like})
    other = sorted({s.identity for s in samples} - set(webcam))
    rng = np.random.default_rng(seed)
    rng.shuffle(webcam)
    rng.shuffle(other)
    folds: list[set[str]] = [set() for _ in range(k)]
    for n, identity in enumerate([*webcam, *other]):
        folds[n % k].add(identity)
    return folds


@dataclass(frozen=True)
class Fold:
    threshold: float
    train: int
    overall: Rates
    webcam: Rates
    errors: tuple[Trial, ...] = ()  # the held-out trials it got wrong


def cross_validate(
    trials: Sequence[Trial], folds: Sequence[set[str]], target: float = TARGET_FMR
) -> list[Fold]:
    results = []
    for fold in folds:
        train = [t for t in trials if not t.identities & fold]
        test = [t for t in trials if t.identities <= fold]
        threshold = choose_threshold(train, target)
        results.append(Fold(
            threshold, len(train), rates(test, threshold),
            rates([t for t in test if t.webcam_like], threshold),
            tuple(t for t in test if erred(t, threshold)),
        ))
    return results


def pooled(parts: Iterable[Rates]) -> Rates:
    parts = list(parts)
    return Rates(*(sum(getattr(p, name) for p in parts) for name in Rates.__dataclass_fields__))


def group_rates(trials: Sequence[Trial], threshold: float) -> dict[tuple[str, str], Rates]:
    names = sorted({g for t in trials for g in t.groups})
    return {name: rates([t for t in trials if name in t.groups], threshold) for name in names}


def held_out_group_rates(trials: Sequence[Trial], folds: Sequence[set[str]]) -> dict[tuple[str, str], Rates]:
    """Each group's rates on the held-out folds, each at the threshold chosen on its training folds
    (pooled over the folds of one split, so every trial counts once)."""
    parts: dict[tuple[str, str], list[Rates]] = {}
    for fold, result in zip(folds, cross_validate(trials, folds), strict=True):
        test = [t for t in trials if t.identities <= fold]
        for name in sorted({g for t in test for g in t.groups}):
            parts.setdefault(name, []).append(rates([t for t in test if name in t.groups], result.threshold))
    return {name: pooled(p) for name, p in sorted(parts.items())}


def quality_gate(min_height: float, min_sharpness: float, max_yaw: float) -> Gate:
    """Refuses to judge a face that is too small, blurred or turned (the product then gives a
    reason such as too_far, blurred, turned_away instead of a verdict)."""

    def gate(sample: FaceSample) -> bool:
        return (sample.height >= min_height and sample.sharpness >= min_sharpness
                and abs(sample.yaw) <= max_yaw)

    return gate


# -- an alternative crop preparation, measured against the engine's -------------------------

UPSCALE_TARGET = 160.0  # face height (px) the region is brought to before re-detecting


def embed_photo_upscaled(data: bytes) -> tuple[np.ndarray, face_ops.Face, Any] | None:
    """Like ``embed_photo``, but a face under ``UPSCALE_TARGET`` px is re-detected on an upscaled
    (bicubic) region around it, so the 112 px aligned crop comes from finer landmarks."""
    result = embed_photo(data)
    if result is None:
        return None
    vector, face, frame = result
    x, y, w, h = face.box
    if h >= UPSCALE_TARGET:
        return result
    factor = UPSCALE_TARGET / max(h, 1.0)
    H, W = frame.bgr.shape[:2]
    x0, y0 = max(0, int(x - w)), max(0, int(y - h))
    x1, y1 = min(W, int(x + 2 * w)), min(H, int(y + 2 * h))
    region = cv2.resize(frame.bgr[y0:y1, x0:x1], None, fx=factor, fy=factor,
                        interpolation=cv2.INTER_CUBIC)
    found = face_ops.detect(region)
    if not found:
        return result
    return face_ops.embed(region, found[0]), face, frame


def embed_photo_flipped(data: bytes) -> tuple[np.ndarray, face_ops.Face, Any] | None:
    """Like ``embed_photo``, with test-time augmentation: SFace on the aligned crop and on its
    mirror image, the two L2-normalised vectors averaged and normalised again (one more SFace call
    per face)."""
    result = embed_photo(data)
    if result is None:
        return None
    straight, face, frame = result  # face_ops.embed: SFace on the aligned crop, normalised
    recognizer = face_ops.SFACE.get()
    with face_ops.SFACE.lock:
        mirrored = recognizer.feature(cv2.flip(recognizer.alignCrop(frame.bgr, face.row), 1))
    return _unit(straight + _unit(mirrored)), face, frame


def _unit(feature: Any) -> np.ndarray:
    vector = np.asarray(feature, dtype=np.float32).reshape(-1)
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 1e-12 else vector


# -- the report ----------------------------------------------------------------------------

GATE = quality_gate(min_height=80.0, min_sharpness=20.0, max_yaw=45.0)


def _configurations(
    samples: list[FaceSample], upscaled: list[FaceSample], flipped: list[FaceSample]
) -> list[tuple[str, list[Trial]]]:
    return [
        ("pairs (one reference)", make_pairs(samples)),
        ("pairs, small faces upscaled before embedding", make_pairs(upscaled)),
        ("pairs, flip-averaged embedding", make_pairs(flipped)),
        ("best of >=2 references", make_reference_trials(samples)),
        ("best of >=2 references, flip-averaged embedding", make_reference_trials(flipped)),
        ("mean of top-2 of >=2 references", make_reference_trials(samples, mean_top2)),
        ("best of >=2 references, quality gate", make_reference_trials(samples, gate=GATE)),
    ]


# The product's rule (a student with several references, with and without the quality gate): also by group.
PRODUCT_RULES = ("best of >=2 references", "best of >=2 references, quality gate")


def _summary(trials: Sequence[Trial], splits: Sequence[Sequence[set[str]]]) -> dict[str, Any]:
    """As fitted on all trials; one split's folds; and every split's folds pooled."""
    fitted = choose_threshold(trials)
    runs = [cross_validate(trials, folds) for folds in splits]
    first = runs[0]
    every = [fold for run in runs for fold in run]
    webcam = [t for t in trials if t.webcam_like]
    at_1pc = [f.threshold for folds in splits for f in cross_validate(trials, folds, 0.01)]
    return {
        "fitted": {"threshold": fitted, "overall": rates(trials, fitted),
                   "webcam": rates(webcam, fitted)},
        "folds": first,
        "held_out": {"overall": pooled(f.overall for f in first), "webcam": pooled(f.webcam for f in first)},
        "fold_mean": {
            key: {name: _mean([getattr(getattr(f, key), name) for f in first]) for name in ("fmr", "fnmr")}
            for key in ("overall", "webcam")
        },
        "repeated": {"overall": pooled(f.overall for f in every), "webcam": pooled(f.webcam for f in every)},
        "median_threshold": float(np.median([f.threshold for f in every])),
        "errors": _errors_by_trial(runs),
        "median_threshold_1pc": float(np.median(at_1pc)),
    }


def _errors_by_trial(runs: Sequence[Sequence[Fold]]) -> list[tuple[Trial, int]]:
    """The held-out trials that erred, each with the number of splits in which it did (every trial is held out
    once per split): what the pooled rates are made of, most often wrong first."""
    counts: dict[Trial, int] = {}
    for run in runs:
        for fold in run:
            for trial in fold.errors:
                counts[trial] = counts.get(trial, 0) + 1
    return sorted(counts.items(), key=lambda item: (-item[1], not item[0].genuine, item[0].name))


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def verification_report(
    root: Path,
    rows: Sequence[dict[str, str]],
    match_threshold: float,
    roc_path: Path | None = None,
    folds: int = FOLDS,
    repeats: int = REPEATS,
) -> dict[str, Any]:
    """1:1 figures at ``match_threshold`` (Rekognition scale) and the cross-validated choice."""
    from .evaluation import write_roc

    samples = load_samples(root, rows)
    upscaled = load_samples(root, rows, embed_photo_upscaled)
    flipped = load_samples(root, rows, embed_photo_flipped)
    default = face_ops.cosine_for_similarity(match_threshold)
    pairs = make_pairs(samples)
    webcam = [t for t in pairs if t.webcam_like]
    splits = [identity_folds(samples, folds, seed) for seed in range(repeats)]
    report: dict[str, Any] = {
        "samples": len(samples),
        "identities": len({s.identity for s in samples}),
        "no_face": [s.file for s in samples if not s.found],
        "genuine_pairs": sum(t.genuine for t in pairs),
        "impostor_pairs": sum(not t.genuine for t in pairs),
        "match_threshold": match_threshold,
        "default_cosine": default,
        "default": {"overall": rates(pairs, default), "webcam": rates(webcam, default)},
        "groups": group_rates(pairs, default),  # in-sample: the default was placed on these pairs
        "folds": folds,
        "repeats": repeats,
        "configurations": {},
    }
    if not pairs or not any(t.genuine for t in pairs) or all(t.genuine for t in pairs):
        return report
    for name, trials in _configurations(samples, upscaled, flipped):
        report["configurations"][name] = _summary(trials, splits)
        if name in PRODUCT_RULES:
            report["configurations"][name]["groups"] = held_out_group_rates(trials, splits[0])
    report["held_out_groups"] = held_out_group_rates(pairs, splits[0])
    from .decisions import decision_report

    report["decisions"] = decision_report(samples, splits, default)
    if roc_path is not None:
        genuine = np.array([face_ops.similarity(t.score) if t.score is not None else -1.0
                            for t in pairs if t.genuine])
        impostor = np.array([face_ops.similarity(t.score) for t in pairs
                             if not t.genuine and t.score is not None])
        report["roc_png"] = str(write_roc(genuine, impostor, Path(roc_path)))
    return report


def _fmt(r: Rates) -> str:
    fnmr = f"{100 * r.fnmr:5.2f}%" if r.fnmr is not None else "  n/a"
    fmr = f"{100 * r.fmr:6.3f}%" if r.fmr is not None else "   n/a"
    text = f"FNMR {fnmr} ({r.false_rejects}/{r.genuine})  FMR {fmr} ({r.false_matches}/{r.impostor})"
    if r.not_judged_genuine or r.not_judged_impostor:
        text += f"  not judged {r.not_judged_genuine} genuine / {r.not_judged_impostor} impostor"
    return text


def upper_bound(hits: int, total: int, confidence: float = 0.95) -> float:
    """One-sided Clopper-Pearson upper bound of a rate seen as ``hits`` of ``total``."""
    if hits >= total:
        return 1.0

    def cdf(p: float) -> float:  # P(X <= hits) for X ~ Binomial(total, p)
        return sum(
            math.exp(math.lgamma(total + 1) - math.lgamma(i + 1) - math.lgamma(total - i + 1)
                     + i * math.log(p) + (total - i) * math.log1p(-p))
            for i in range(hits + 1)
        )

    lo, hi = hits / total, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if cdf(mid) > 1 - confidence else (lo, mid)
    return hi


def verdict(r: Rates, unique: Rates | None = None) -> str:
    """Whether ``r`` meets issue 9's target, and whether this many trials can show it.

    ``unique``: the same figure with each trial counted once (one split's folds). Rates pooled
    over several splits count every trial once per split, so their own counts overstate how
    many trials back the figure; the upper bound must come from the unique counts.
    """
    if r.fnmr is None or r.fmr is None:
        return "not measurable"
    counted = unique if unique is not None and unique.impostor else r
    bound = upper_bound(counted.false_matches, counted.impostor)
    figures = (f"FMR {100 * r.fmr:.3f}% (95% upper bound {100 * bound:.2f}%), "
               f"FNMR {100 * r.fnmr:.1f}%")
    if r.fmr > TARGET_FMR or r.fnmr > TARGET_FNMR:
        return f"MISSES FMR<=0.1% with FNMR<=2%: {figures}"
    if bound > TARGET_FMR:
        return f"meets FMR<=0.1% with FNMR<=2% as seen, but too few impostor trials to show it: {figures}"
    return f"MEETS FMR<=0.1% with FNMR<=2%: {figures}"


def format_verification(v: dict[str, Any]) -> list[str]:
    lines = [
        f"verification (1:1 pairs): {v['samples']} photos of {v['identities']} people, "
        f"{v['genuine_pairs']} genuine / {v['impostor_pairs']} impostor pairs, "
        f"{len(v['no_face'])} without a face {v['no_face'] or ''}",
        f"  at the default threshold {v['match_threshold']:g} (cosine {v['default_cosine']:.3f}),"
        " on the pairs that placed it (in-sample):",
        f"    all pairs         {_fmt(v['default']['overall'])}",
        f"    webcam-like pairs {_fmt(v['default']['webcam'])}",
        f"    target: {verdict(v['default']['webcam'])}",
        "  per group (both photos in the group; '!' = FMR or FNMR over twice the overall figure), in-sample at"
        " the default | held out (threshold chosen on the other folds, first split):",
    ]
    overall = v["default"]["overall"]
    held = v.get("held_out_groups", {})
    for (dim, value), r in v["groups"].items():
        flag = "!" if _over_twice(r, overall) else " "
        other = held.get((dim, value))
        lines.append(f"   {flag}{dim + '=' + value:24s} {_fmt(r)}" + (f" | {_fmt(other)}" if other else ""))
    for name, c in v["configurations"].items():
        fit = c["fitted"]
        lines += [
            f"  {name}: threshold for FMR<=0.1% chosen on training folds (folds split identities)",
            f"    as fitted on all (optimistic): cosine {fit['threshold']:.3f} "
            f"(similarity {face_ops.similarity(fit['threshold']):.1f})",
            f"      all    {_fmt(fit['overall'])}",
            f"      webcam {_fmt(fit['webcam'])}",
            f"    held out, pooled over {v['repeats']} splits x {v['folds']} folds:",
            f"      all    {_fmt(c['repeated']['overall'])}",
            f"      webcam {_fmt(c['repeated']['webcam'])}",
            f"      target: {verdict(c['repeated']['webcam'], c['held_out']['webcam'])} "
            "(bound from the first split's unique trials)",
            f"      median fold threshold: FMR<=0.1% cosine {c['median_threshold']:.4f}, "
            f"FMR<=1% cosine {c['median_threshold_1pc']:.4f}",
            *_error_lines(c.get("errors", []), v["repeats"]),
            "    held out, first split, pooled over its folds:",
            f"      all    {_fmt(c['held_out']['overall'])}",
            f"      webcam {_fmt(c['held_out']['webcam'])}",
        ]
        means = c["fold_mean"]
        lines.append(
            "    held out, first split, mean of folds: all FNMR "
            f"{_pct(means['overall']['fnmr'])} FMR {_pct(means['overall']['fmr'], 3)}; webcam FNMR "
            f"{_pct(means['webcam']['fnmr'])} FMR {_pct(means['webcam']['fmr'], 3)}"
        )
        for n, fold in enumerate(c["folds"], 1):
            lines.append(
                f"      fold {n}: cosine {fold.threshold:.3f} (chosen on {fold.train} trials)  "
                f"all {_fmt(fold.overall)} | webcam {_fmt(fold.webcam)}"
            )
        if c.get("groups"):
            lines += _group_lines(c["groups"], c["held_out"]["overall"])
    if v.get("decisions"):
        from .decisions import format_decisions

        lines += format_decisions(v["decisions"], v["default_cosine"], GROUP_FACTOR)
    if "roc_png" in v:
        lines.append(f"  ROC (pairs): {v['roc_png']}")
    return lines


def _group_lines(groups: dict[tuple[str, str], Rates], overall: Rates) -> list[str]:
    """A configuration's held-out rates per group (the probe and all its references in the group; first split),
    '!' where a group's FNMR or FMR is over twice the configuration's own held-out figure (first split)."""
    lines = ["    per group, held out (first split; the probe and every reference in the group; '!' = over twice the"
             " figure above):"]
    for (dim, value), r in groups.items():
        lines.append(f"     {'!' if _over_twice(r, overall) else ' '}{dim + '=' + value:24s} {_fmt(r)}")
    return lines


def _over_twice(group: Rates, overall: Rates) -> bool:
    """A group's FNMR or FMR over ``GROUP_FACTOR`` times the overall figure (the issue's fairness target)."""
    return any(mine is not None and whole is not None and mine > GROUP_FACTOR * whole
               for mine, whole in ((group.fnmr, overall.fnmr), (group.fmr, overall.fmr)))


ERRORS_SHOWN = 4  # of each kind, the trials most often wrong


def _error_lines(errors: Sequence[tuple[Trial, int]], repeats: int) -> list[str]:
    """The unique trials the pooled held-out errors come from, with how many of the ``repeats`` splits each
    erred in (a trial is held out once per split): a rate pooled over the splits is often one trial, repeated."""
    lines = []
    for genuine, kind in ((True, "false rejects"), (False, "false matches")):
        found = [(t, n) for t, n in errors if t.genuine == genuine]
        if not found:
            continue
        shown = "; ".join(f"{t.name} ({'no face' if t.score is None else f'cosine {t.score:.3f}'}"
                          f"{', webcam' if t.webcam_like else ''}) {n}/{repeats}" for t, n in found[:ERRORS_SHOWN])
        more = f"; {len(found) - ERRORS_SHOWN} more" if len(found) > ERRORS_SHOWN else ""
        lines.append(f"      held-out {kind}, {len(found)} unique trial(s), in how many splits: {shown}{more}")
    return lines


def _pct(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{100 * value:.{digits}f}%"
