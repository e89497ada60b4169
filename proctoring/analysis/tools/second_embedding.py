"""A second face-embedding model measured against SFace, on the same trials and folds as ``evaluate_engine``.

    .venv/bin/pip install dlib-bin==20.0.1.post1 face-recognition-models==0.3.0   # not product dependencies
    .venv/bin/python -m proctoring.analysis.tools.second_embedding ../shared/data/images
    .venv/bin/python -m proctoring.analysis.tools.second_embedding ../shared/data/images --cohort-only   # SFace only

The only other face descriptor whose weights ship in a registry package under a licence that allows
redistribution: dlib's ResNet (``face-recognition-models``: the models CC0 1.0 per its LICENSE, MIT packaging;
``dlib-bin``: a prebuilt dlib wheel, Boost licence). Every single-identity photo is embedded twice from the
engine's own face (``calibration.embed_photo``: the working-size decode, the largest YuNet face): SFace as the
product does, and dlib on its 5-point shape predictor's alignment inside YuNet's box. Then, with
``calibration``'s cross-validation (identity folds, 10 splits x 5 folds, the threshold for FMR <= 0.1% chosen
on the training folds, pooled held-out figures): SFace, dlib, and their cosines averaged (each scaled by its
spread over all pairs, which uses no labels); for pairs, best of >= 2 references, and the quality gate. And
cohort score normalisation of SFace (S-norm: each score standardised against the probe's and the reference's
scores with other people, the cohort drawn from the training folds' identities only).

Dev photos (2026-12-01, 99 photos of 36 people; webcam-like, held out; pairs | best of >= 2 references):
SFace FNMR 4.67% (28/600), FMR 0.187% (14/7473) | 2.08% (10/480), 0.122% (4/3271) -- the product's figures;
dlib 26.83%, 0.147% | 14.79%, 0.183%; averaged 4.83%, 0.161% | 2.08%, 0.183%; 0.7/0.3 5.67%, 0.174% | 2.08%,
0.122%. dlib took a median 89 CPU-ms a face. S-norm (best of >= 2): whole cohort 1.88%, 0.153%; the top 15 of
the cohort 3.12%, 0.183%; top 5 10.62%, 0.183%. Neither is adopted: dlib is far weaker on these faces and
fusing does not help; S-norm gains one false reject for one false accept, and compares a student's frame with
other people's faces, which 1:1 verification is meant not to.

Centring without the scaling (2026-12-03, ``--cohort-only``, 1.5 CPU-minutes; best of >= 2, webcam-like, held out):
the mean of the top 20 or top 40 of the training folds' photos (about 75) FNMR 2.08% (10/480), FMR 0.061% (2/3271),
against the raw cosine's 2.08%, 0.122% (4/3271); the whole cohort's mean 2.08%, 0.122%; the top 20 of a fixed
random sample of 60 photos 2.08%, 0.122%. Not adopted either. The gain is two trials, and it is gone with a
sample of 60. A product cannot use "the top 20 of everybody": that mean climbs with the size of an institution's
collection, so the threshold would mean something else in every institution. A fixed sample is what it could use,
and a fixed sample gains nothing. It also lifted turned faces, which resemble nobody much. Built into the local
engine for a while (d53c1e0, reverted in 61d924f before it landed), it let another person's turned face reach
similarity 90.2 against a student on the frames of scripts/measure_liveness.py --only-whose (87.9 raw).
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from proctoring.analysis import calibration as cal

WEIGHTS = ((1.0, 0.0, "SFace"), (0.0, 1.0, "dlib ResNet"), (0.5, 0.5, "averaged"), (0.7, 0.3, "0.7 / 0.3"))
# Cohort normalisation of SFace: (scaled, top, sample, label). Scaled: S-norm (each score standardised by the
# cohort's spread); else centred only (the cohort's mean taken out). Top: the most similar scores only (None: all).
# Sample: a fixed random sample of that many cohort photos first (what a product could use: the mean of the top 20
# of an institution's 10,000 faces stands far higher than of 60, and a threshold would move with its size).
COHORTS = ((True, None, None, "S-norm, whole cohort"), (True, 15, None, "S-norm, top 15"),
           (True, 5, None, "S-norm, top 5"), (False, 20, None, "centred, top 20 of the cohort"),
           (False, 40, None, "centred, top 40 of the cohort"), (False, None, None, "centred, whole cohort"),
           (False, 20, 60, "centred, top 20 of a sample of 60"))


def both_embedder() -> tuple[Any, list[float]]:
    """An embedder for ``calibration.load_samples`` giving SFace's vector and dlib's, one after the other."""
    import dlib  # type: ignore[import-not-found]
    import face_recognition_models  # type: ignore[import-not-found]

    predictor = dlib.shape_predictor(face_recognition_models.pose_predictor_five_point_model_location())
    describer = dlib.face_recognition_model_v1(face_recognition_models.face_recognition_model_location())
    spent: list[float] = []

    def embed(data: bytes) -> Any:
        found = cal.embed_photo(data)
        if found is None:
            return None
        vector, face, frame = found
        x, y, w, h = (int(v) for v in face.box)
        rgb = cv2.cvtColor(frame.bgr, cv2.COLOR_BGR2RGB)
        began = time.process_time()
        shape = predictor(rgb, dlib.rectangle(x, y, x + w, y + h))
        other = np.asarray(describer.compute_face_descriptor(rgb, shape), dtype=np.float32)
        spent.append(time.process_time() - began)
        return np.concatenate([vector, other / np.linalg.norm(other)]), face, frame

    return embed, spent


def weighted(samples: list[cal.FaceSample], a: float, b: float, spreads: tuple[float, float]) -> list[cal.FaceSample]:
    """Each sample's vector such that a cosine of two is ``a * sface / spread + b * dlib / spread``."""
    out = []
    for s in samples:
        if s.vector is None:
            out.append(s)
            continue
        parts = [s.vector[:128] * np.sqrt(a / spreads[0]) if a else None,
                 s.vector[128:] * np.sqrt(b / spreads[1]) if b else None]
        out.append(dataclasses.replace(s, vector=np.concatenate([p for p in parts if p is not None])))
    return out


def snorm_trials(samples: list[cal.FaceSample], cohort_ids: set[str], top: int | None, scaled: bool = True,
                 sample: int | None = None) -> list[cal.Trial]:
    """``calibration.make_reference_trials`` (best of >= 2) with cohort-normalised scores (``COHORTS``)."""
    def stats(vector: np.ndarray, cohort: np.ndarray) -> tuple[float, float]:
        scores = np.sort(cohort @ vector)[::-1][:top]
        return float(scores.mean()), (float(scores.std()) + 1e-6) if scaled else 1.0

    order = sorted(samples, key=lambda c: hashlib.sha256(c.file.encode()).hexdigest())  # a fixed random order

    by_identity: dict[str, list[cal.FaceSample]] = {}
    for s in samples:
        by_identity.setdefault(s.identity, []).append(s)
    trials = []
    for probe in samples:
        for identity, photos in sorted(by_identity.items()):
            refs = [r for r in photos if r.origin != probe.origin and r.found]
            if len(refs) < 2:
                continue
            score = None
            if probe.vector is not None:
                cohort = np.stack([c.vector for c in order if c.found and c.identity in cohort_ids
                                   and c.identity not in {probe.identity, identity}][:sample])
                mean_p, sd_p = stats(probe.vector, cohort)
                values = []
                for r in refs:
                    raw = float(probe.vector @ r.vector)
                    mean_r, sd_r = stats(r.vector, cohort)
                    values.append(0.5 * ((raw - mean_p) / sd_p + (raw - mean_r) / sd_r))
                score = max(values)
            trials.append(cal.Trial(frozenset({probe.identity, identity}), probe.identity == identity, score,
                                    probe.webcam_like, frozenset()))
    return trials


def main(root: str, cohort_only: bool = False) -> None:
    folder = Path(root)
    with open(folder / "manifest.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if cohort_only:
        samples = cal.load_samples(folder, rows)
        splits = [cal.identity_folds(samples, cal.FOLDS, seed) for seed in range(cal.REPEATS)]
        raw = cal._summary(cal.make_reference_trials(samples), splits)["repeated"]
        print(f"  SFace raw cosine               best of >=2 webcam-like {cal._fmt(raw['webcam'])} | "
              f"all {cal._fmt(raw['overall'])}")
        cohort_figures(samples, splits)
        return
    embed, spent = both_embedder()
    samples = cal.load_samples(folder, rows, embed)
    found = [s for s in samples if s.found]
    upper = np.triu_indices(len(found), 1)
    spreads = tuple(float((m @ m.T)[upper].std()) for m in (
        np.stack([s.vector[:128] for s in found]), np.stack([s.vector[128:] for s in found])))
    print(f"{len(samples)} photos, {len(found)} with a face; dlib {1000 * np.median(spent):.0f} CPU-ms a face "
          f"(median); spread over all pairs SFace {spreads[0]:.3f}, dlib {spreads[1]:.3f}")
    splits = [cal.identity_folds(samples, cal.FOLDS, seed) for seed in range(cal.REPEATS)]
    for a, b, name in WEIGHTS:
        variant = weighted(samples, a, b, spreads)
        for kind, trials in (("pairs", cal.make_pairs(variant)),
                             ("best of >=2", cal.make_reference_trials(variant)),
                             ("best of >=2, gate", cal.make_reference_trials(variant, gate=cal.GATE))):
            held = cal._summary(trials, splits)["repeated"]
            print(f"  {name:12} {kind:18} webcam-like {cal._fmt(held['webcam'])} | all {cal._fmt(held['overall'])}")
    cohort_figures(weighted(samples, 1.0, 0.0, (1.0, 1.0)), splits)


def cohort_figures(sface: list[cal.FaceSample], splits: list[list[set[str]]]) -> None:
    identities = {s.identity for s in sface}
    for scaled, top, sample, label in COHORTS:
        overall, webcam = [], []
        for folds in splits:
            for fold in folds:
                trials = snorm_trials(sface, identities - fold, top, scaled, sample)
                train = [t for t in trials if not t.identities & fold]
                test = [t for t in trials if t.identities <= fold]
                threshold = cal.choose_threshold(train)
                overall.append(cal.rates(test, threshold))
                webcam.append(cal.rates([t for t in test if t.webcam_like], threshold))
        print(f"  SFace {label:33} best of >=2 webcam-like {cal._fmt(cal.pooled(webcam))} | "
              f"all {cal._fmt(cal.pooled(overall))}")


if __name__ == "__main__":
    arguments = [a for a in sys.argv[1:] if a != "--cohort-only"]
    main(arguments[0] if arguments else "../shared/data/images", cohort_only="--cohort-only" in sys.argv)
