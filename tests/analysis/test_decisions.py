"""Decisions over frames: k-of-n rules on webcam frames, cross-validated by identity."""

from __future__ import annotations

import numpy as np
import pytest

from proctoring.analysis import calibration as c
from proctoring.analysis import decisions as d


def unit(*values: float) -> np.ndarray:
    v = np.asarray(values, dtype=np.float32)
    return v / np.linalg.norm(v)


def frame(file: str, identity: str, vector: np.ndarray | None, origin: str = "", **tags: str) -> c.FaceSample:
    tags.setdefault("capture", "webcam")
    return c.FaceSample(file, identity, origin or file, tuple(sorted(tags.items())), vector)


def cos(a: c.FaceSample, b: c.FaceSample) -> float:
    return float(a.vector @ b.vector)


def among(value: float, scores: list[float | None]) -> bool:
    return any(s is not None and abs(s - value) < 1e-6 for s in scores)


def test_it_takes_the_kth_best_frame_and_a_frame_without_a_face_never_passes() -> None:
    assert d.kth_best([0.2, None, 0.9], 1) == 0.9
    assert d.kth_best([0.2, None, 0.9], 2) == 0.2
    assert d.kth_best([0.2, None, 0.9], 3) is None
    with pytest.raises(ValueError):
        d.make_decision_trials([], 3, 2)


def test_it_never_scores_a_frame_against_itself_or_its_fellow_frames() -> None:
    a1, a2, a3 = (frame(f"a{i}", "ann", unit(1, 0.3 * i)) for i in range(3))
    b1, b2 = frame("b1", "bob", unit(0.2, 1)), frame("b2", "bob", unit(0.1, 1))
    trials = d.make_decision_trials([a1, a2, a3, b1, b2], k=2, n=2)
    genuine = [t for t in trials if t.genuine]
    # ann: 3 pairs of frames, each against the one capture left; bob: no capture left to be a reference
    assert len(genuine) == 3 and all(t.identities == {"ann"} for t in genuine)
    assert sorted(t.score for t in genuine) == pytest.approx(sorted([
        min(cos(a1, a3), cos(a2, a3)), min(cos(a1, a2), cos(a3, a2)), min(cos(a2, a1), cos(a3, a1)),
    ]))
    # impostors: bob's one pair against all of ann's captures; ann's three pairs against bob's two
    impostor = [t for t in trials if not t.genuine]
    assert len(impostor) == 4
    bob_as_ann = min(max(cos(b, a) for a in (a1, a2, a3)) for b in (b1, b2))
    assert among(bob_as_ann, [t.score for t in impostor])


def test_it_counts_two_copies_of_one_capture_as_one_frame() -> None:
    samples = [
        frame("a1", "ann", unit(1, 0)), frame("a1_crop", "ann", unit(1, 0.01), origin="a1"),
        frame("a2", "ann", unit(1, 0.2)), frame("a3", "ann", unit(1, 0.4)),
    ]
    genuine = [t for t in d.make_decision_trials(samples, 2, 2) if t.genuine]
    assert len(genuine) == 3  # {a1, a2}, {a1, a3}, {a2, a3}; never {a1, a1_crop}
    assert all(t.score < 0.9999 for t in genuine)  # a1's copy is never a1's reference


def test_a_rule_of_k_frames_needs_k_frames_to_pass() -> None:
    ann = [frame(f"a{i}", "ann", unit(1, 0.05 * i)) for i in range(3)]
    eve = [frame("e1", "eve", unit(1, 0.1)), frame("e2", "eve", unit(0, 1))]  # e1 looks like ann, e2 doesn't
    best_of = [max(cos(e, a) for a in ann) for e in eve]
    one_of_two = [t.score for t in d.make_decision_trials(ann + eve, 1, 2) if not t.genuine]
    two_of_two = [t.score for t in d.make_decision_trials(ann + eve, 2, 2) if not t.genuine]
    assert max(best_of) > 0.99 and min(best_of) < 0.1
    assert among(max(best_of), one_of_two)  # eve as ann passes 1 of 2 ...
    assert among(min(best_of), two_of_two)  # ... and is scored by her worse frame for 2 of 2
    assert not among(max(best_of), two_of_two)


def test_a_frame_the_quality_gate_refuses_is_never_a_frame_of_a_session() -> None:
    ann = [frame(f"a{i}", "ann", unit(1, 0.05 * i)) for i in range(3)]
    turned = c.FaceSample("a3", "ann", "a3", (("capture", "webcam"),), unit(0, 1), height=200, sharpness=90, yaw=70)
    clear = [c.FaceSample(s.file, s.identity, s.origin, s.tags, s.vector, height=200, sharpness=90) for s in ann]
    everything = d.make_decision_trials([*clear, turned], 1, 1, session=2)
    gated = d.make_decision_trials([*clear, turned], 1, 1, session=2, gate=c.GATE)
    assert min(t.score for t in everything if t.genuine) < 0.2  # the turned frame fails ...
    assert min(t.score for t in gated if t.genuine) > 0.9  # ... and is left out, not failed
    assert len([t for t in gated if t.genuine]) == 2 * 3  # 3 sessions of the 3 clear frames, 2 frames each


def people(count: int, captures: int = 3) -> list[c.FaceSample]:
    """``count`` people, far apart, each with ``captures`` close webcam frames."""
    rng = np.random.default_rng(0)
    samples = []
    for p in range(count):
        centre = np.zeros(count + 1, dtype=np.float32)
        centre[p] = 1.0
        for i in range(captures):
            v = centre + 0.15 * rng.standard_normal(count + 1).astype(np.float32)
            samples.append(frame(f"p{p}_{i}", f"p{p:02d}", v / np.linalg.norm(v), tone="light" if p % 2 else "dark"))
    return samples


def test_it_counts_each_trial_once_for_the_bounds_and_pools_the_splits_apart() -> None:
    samples = people(10)
    folds = c.identity_folds(samples, k=5)
    figures = d.decision_report(samples, [folds, folds, folds], default_cosine=0.5, rules=[(2, 2, 2)], gated_rules=[])
    (f,) = figures
    assert (f.k, f.n) == (2, 2)
    assert f.genuine == 10 * 3  # three pairs of frames per person, each against the capture left
    assert f.impostor == 10 * 3 * 9  # each pair against the 9 other people
    assert f.first_split.genuine == 30  # every genuine trial is inside one fold: held out once
    assert f.first_split.impostor < f.impostor  # pairs of people across folds are never held out
    assert f.repeated.genuine == 3 * f.first_split.genuine  # the same split thrice: counted thrice
    assert (f.first_split.false_rejects, f.first_split.false_matches) == (0, 0)
    assert {name for name in f.groups} >= {("tone", "light"), ("tone", "dark")}


def test_it_reports_decisions_with_their_counts_and_bounds() -> None:
    samples = people(10)
    folds = c.identity_folds(samples, k=5)
    figures = d.decision_report(samples, [folds], 0.5, rules=[(2, 2, 2), (1, 3, 3)], gated_rules=[])
    lines = d.format_decisions(figures, 0.5, 2.0)
    text = "\n".join(lines)
    assert "decisions over frames" in text
    assert "2 of 2 (sessions of 2 captures): 30 genuine / 270 impostor decision trials" in text
    assert "1 of 3 (sessions" not in text  # a session of 3 leaves no reference of 3 captures: no trials
    assert "FNMR   0.0% (0/30, <=" in text
    assert d.format_decisions([], 0.5, 2.0) == []


def test_a_verdict_bounds_the_fmr_with_each_trial_counted_once() -> None:
    pooled_over_splits = c.Rates(1000, 10, 30000, 0)
    one_split = c.Rates(100, 1, 3000 // 3, 0)
    assert c.verdict(pooled_over_splits).startswith("MEETS")
    assert c.verdict(pooled_over_splits, one_split).startswith("meets FMR<=0.1% with FNMR<=2% as seen, but too few")
