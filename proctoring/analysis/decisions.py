"""Decisions over frames: identity judged on several webcam frames, not one.

The product never decides on a single frame: the gate can require k of the last n frames to
match, and a "someone else" incident needs consecutive failing frames. A *decision trial* is
what such a rule sees: n webcam-like captures of one person (the frames) scored against the
claimed identity's references, each frame by its best reference cosine (the product's rule).
The rule "k of n" accepts when at least k frames reach the threshold, i.e. when the k-th best
frame score does, so a decision trial is a ``Trial`` whose score is that k-th best score and the
whole of ``calibration`` (rates, thresholds, identity folds) applies unchanged.

- A *session* is h distinct captures (``origin``) of one person's webcam-like photos; its frames
  are n of them. A genuine trial's references are the claimed identity's captures outside the
  session, never one of its frames; an impostor trial's are all of another identity's captures.
  Rules compared side by side share h, so they are measured on the same sessions and the same
  references (a one-frame rule is each frame of the session alone).
- Honesty about the counts: every split into folds holds each trial out at most once, so the
  unique held-out counts (and their 95% upper bounds) are the first split's; the figures pooled
  over all splits count each trial about ``repeats`` times and only smooth the fold luck.
- Our frames of one person are separate photos or clip frames; real consecutive frames are far
  more alike, so an error that one frame makes its neighbours tend to make too. What a k-of-n
  rule gains here over one frame is an upper bound of what it gains in a session.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations

from .calibration import (
    GATE,
    FaceSample,
    Gate,
    Rates,
    Trial,
    _cosine,
    _groups,
    best,
    cross_validate,
    held_out_group_rates,
    judge_all,
    pooled,
    rates,
    upper_bound,
)

# (k, n, h): accept when k of n frames match, in sessions of h captures. (1, 3, 3) is the
# incident's view: a "someone else" incident needs 3 failing frames, so a genuine student is
# flagged only when none of 3 passes, and an impostor escapes when any one does.
RULES: tuple[tuple[int, int, int], ...] = (
    (1, 1, 2), (2, 2, 2), (1, 2, 2),
    (1, 1, 3), (2, 3, 3), (3, 3, 3), (1, 3, 3),
)
# The same with frames the quality gate refuses left out: what an incident that counts only
# clear frontal faces as "not matching" (turned away is its own kind) would see.
GATED_RULES: tuple[tuple[int, int, int], ...] = ((1, 1, 2), (2, 2, 2), (1, 2, 2))


def kth_best(scores: Sequence[float | None], k: int) -> float | None:
    """The k-th highest score; a frame without a face (None) never counts as passing."""
    present = sorted((s for s in scores if s is not None), reverse=True)
    return present[k - 1] if len(present) >= k else None


def make_decision_trials(
    samples: Sequence[FaceSample],
    k: int,
    n: int,
    fuse: Callable[[list[float]], float] = best,
    min_references: int = 1,
    session: int | None = None,
    gate: Gate = judge_all,
) -> list[Trial]:
    """Every n of every ``session`` (default n) webcam-like captures of one person against every
    claimed identity that keeps ``min_references`` captures outside the session. A frame that
    ``gate`` refuses to judge (turned away, too small, blurred) is never one of a session's."""
    h = n if session is None else session
    if not 1 <= k <= n <= h:
        raise ValueError(f"a rule needs 1 <= k <= n <= session, got {k} of {n} in {h}")
    by_identity: dict[str, list[FaceSample]] = {}
    for sample in samples:
        by_identity.setdefault(sample.identity, []).append(sample)
    trials = []
    for person, photos in sorted(by_identity.items()):
        webcam = _one_per_capture([p for p in photos if p.webcam_like and (not p.found or gate(p))])
        for held in combinations(webcam, h):
            origins = {f.origin for f in held}
            for claimed, candidates in sorted(by_identity.items()):
                refs = [r for r in candidates if r.found and r.origin not in origins]
                if len(refs) < min_references:
                    continue
                for frames in combinations(held, n):
                    scores = [
                        fuse([_cosine(f.vector, r.vector) for r in refs]) if f.vector is not None else None
                        for f in frames
                    ]
                    trials.append(Trial(
                        identities=frozenset({person, claimed}),
                        genuine=person == claimed,
                        score=kth_best(scores, k),
                        webcam_like=True,
                        groups=_groups([*frames, *refs]),
                    ))
    return trials


def _one_per_capture(photos: list[FaceSample]) -> list[FaceSample]:
    """Two photos derived from one capture are one frame, not two."""
    seen: dict[str, FaceSample] = {}
    for photo in photos:
        seen.setdefault(photo.origin, photo)
    return list(seen.values())


@dataclass(frozen=True)
class RuleFigures:
    k: int
    n: int
    session: int
    gated: bool  # frames the quality gate refuses are left out of the sessions
    genuine: int  # unique decision trials
    impostor: int
    first_split: Rates  # held out once each: the counts the bounds rest on
    repeated: Rates  # pooled over every split (each trial about ``repeats`` times)
    median_threshold: float
    at_default: Rates  # in-sample, at the product's default cosine
    groups: dict[tuple[str, str], Rates]  # held out, first split
    refused_frames: int = 0  # webcam-like frames the gate left out (gated rules only)


def decision_report(
    samples: Sequence[FaceSample],
    splits: Sequence[Sequence[set[str]]],
    default_cosine: float,
    rules: Sequence[tuple[int, int, int]] = RULES,
    gated_rules: Sequence[tuple[int, int, int]] = GATED_RULES,
) -> list[RuleFigures]:
    """Each rule's threshold chosen on training folds for a decision FMR <= 0.1%, measured held
    out; rules without both genuine and impostor trials are left out."""
    figures = []
    runs_of = [(rule, False) for rule in rules] + [(rule, True) for rule in gated_rules]
    for (k, n, h), gated in runs_of:
        trials = make_decision_trials(samples, k, n, session=h, gate=GATE if gated else judge_all)
        genuine = sum(t.genuine for t in trials)
        if not genuine or genuine == len(trials):
            continue
        runs = [cross_validate(trials, folds) for folds in splits]
        every = [fold for run in runs for fold in run]
        thresholds = sorted(f.threshold for f in every)
        figures.append(RuleFigures(
            k, n, h, gated, genuine, len(trials) - genuine,
            first_split=pooled(f.overall for f in runs[0]),
            repeated=pooled(f.overall for f in every),
            median_threshold=thresholds[len(thresholds) // 2],
            at_default=rates(trials, default_cosine),
            groups=held_out_group_rates(trials, splits[0]),
            refused_frames=sum(s.webcam_like and s.found and not GATE(s) for s in samples) if gated else 0,
        ))
    return figures


def _counts(r: Rates) -> str:
    fnmr = f"{100 * r.fnmr:5.1f}%" if r.fnmr is not None else "  n/a"
    fmr = f"{100 * r.fmr:5.2f}%" if r.fmr is not None else "  n/a"
    text = f"FNMR {fnmr} ({r.false_rejects}/{r.genuine}"
    if r.genuine:
        text += f", <={100 * upper_bound(r.false_rejects, r.genuine):.1f}%"
    text += f")  FMR {fmr} ({r.false_matches}/{r.impostor}"
    if r.impostor:
        text += f", <={100 * upper_bound(r.false_matches, r.impostor):.2f}%"
    return text + ")"


def format_decisions(figures: Sequence[RuleFigures], default_cosine: float, group_factor: float) -> list[str]:
    if not figures:
        return []
    lines = [
        "  decisions over frames (webcam-like frames of one person, each by its best reference; "
        "threshold for decision FMR<=0.1% chosen on training folds):",
        "    counts are unique trials held out once (first split); <= is the 95% upper bound.",
        "    Frames here are separate captures: real consecutive frames are more alike, so a rule's",
        "    gain over one frame is an upper bound. (1 of 3) is the incident's view: no frame of 3 passes.",
    ]
    for f in figures:
        lines += [
            f"    {f.k} of {f.n} (sessions of {f.session} captures{', quality gate' if f.gated else ''}): "
            f"{f.genuine} genuine / "
            f"{f.impostor} impostor decision trials; median fold threshold cosine {f.median_threshold:.3f}"
            + (f"; {f.refused_frames} frames refused by the gate (a reason, not a verdict)" if f.gated else ""),
            f"      held out        {_counts(f.first_split)}",
            f"      all splits      FNMR {_pct(f.repeated.fnmr)}  FMR {_pct(f.repeated.fmr)}"
            "  (pooled over every split: each trial once per split)",
            f"      at default {default_cosine:.3f} (in-sample) {_counts(f.at_default)}",
        ]
        overall = f.first_split
        for (dim, value), r in f.groups.items():
            if not r.genuine and not r.impostor:
                continue
            flag = " "
            if (r.fnmr or 0) > group_factor * (overall.fnmr or 0) and r.false_rejects:
                flag = "!"
            if (r.fmr or 0) > group_factor * (overall.fmr or 0) and r.false_matches:
                flag = "!"
            lines.append(f"       {flag}{dim + '=' + value:20s} {_counts(r)}")
    return lines


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}%"

