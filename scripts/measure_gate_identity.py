"""How often the camera check lets someone else in, and how long it keeps the right student waiting: printed, never
asserted.

    env -u DATABASE_URL -u REDIS_URL .venv/bin/python scripts/measure_gate_identity.py [--images ../shared/data/images]
        [--frames 150] [--similarity 90 80]

The gate lets a student start once their identity passed (exams.taking.session_start_check). One frame's pass was
enough until settings.IDENTITY_PASS_FRAMES: now that frame and at least IDENTITY_PASS_FRAMES of the latest
IDENTITY_PASS_WINDOW frames analysed in full must pass (proctoring.selectors.identity_held). At the check a frame
goes every 2 s, so a look-alike has many tries: --frames 150 is 5 minutes of them.

The dev set's webcam-like photos (webcam frames, clip frames, phone selfies) are embedded as the engine does
(proctoring.analysis.calibration, the same trials as evaluate_engine's "best of >=2 references": a probe photo
against every other capture of the claimed person, scored by the best). For each pair of a person at the camera and
a claimed student, q is the share of the person's photos that pass at the threshold. A session's frames are drawn
from the person's photos at random, each independently: a model, not a recording (a real look-alike's frames are
alike, so a person whose photos pass often passes either way; the rule cuts the lucky frame). Printed per rule and
threshold: impostors, the mean and largest chance of passing within --frames frames and how many pairs could pass at
all; the right students, the chance of passing within 1, 2, 3 and 5 frames (the mean over people) and the people
who might never pass. The thresholds are the product's (similarity 90) and a looser one, where impostor frames do
pass on these photos: the dev set's few look-alikes never reach 90. Then the same chance for a look-alike whose
frames pass independently with a small chance q (the regime of the per-frame FMR, which these photos cannot show).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

from proctoring.analysis import calibration, faces  # noqa: E402
from proctoring.analysis.evaluation import read_manifest  # noqa: E402


def never_within(q: float, frames: int, *, needed: int, window: int) -> float:
    """The chance that ``frames`` independent frames, each passing with chance ``q``, never make a frame that passes
    with at least ``needed`` passes among the latest ``window`` (it included): the rule's state is the outcomes of
    the ``window - 1`` frames before, so an exact sum over them."""
    if needed <= 1 or window <= 1:
        return (1 - q) ** frames
    states: dict[tuple[bool, ...], float] = {(False,) * (window - 1): 1.0}
    for _ in range(frames):
        after: dict[tuple[bool, ...], float] = defaultdict(float)
        for state, chance in states.items():
            if q < 1 and chance:  # this frame fails
                after[(*state[1:], False)] += chance * (1 - q)
            if q > 0 and 1 + sum(state) < needed:  # it passes, but the identity has not held yet
                after[(*state[1:], True)] += chance * q
            # (it passes and held: the student starts, so that path leaves)
        states = after
    return sum(states.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", default=str(ROOT.parent / "shared" / "data" / "images"))
    parser.add_argument("--frames", type=int, default=150, help="frames an impostor tries (2 s apart at the check)")
    parser.add_argument("--similarity", type=float, nargs="+", default=[90.0, 80.0])
    args = parser.parse_args()

    rows = read_manifest(args.images)
    samples = calibration.load_samples(Path(args.images), rows)
    trials = [t for t in calibration.make_reference_trials(samples) if t.webcam_like]
    person_in = {sample.file: sample.identity for sample in samples}
    scores: dict[tuple[str, str], list[float | None]] = defaultdict(list)
    for trial in trials:
        probe_file, claimed = trial.name.split(" ~ ")
        scores[(person_in[probe_file], claimed)].append(trial.score)
    impostors = {pair: s for pair, s in scores.items() if pair[0] != pair[1]}
    genuine = {pair: s for pair, s in scores.items() if pair[0] == pair[1]}
    print(f"{len(samples)} photos; webcam-like probes against >= 2 references: {len(impostors)} impostor pairs "
          f"(person at the camera, claimed student), {len(genuine)} people against their own references; "
          f"{len(trials)} trials; an impostor tries {args.frames} frames")
    rules = [("one frame (before)", 1, 1),
             (f"{settings.IDENTITY_PASS_FRAMES} of the latest {settings.IDENTITY_PASS_WINDOW} (product)",
              settings.IDENTITY_PASS_FRAMES, settings.IDENTITY_PASS_WINDOW)]
    for similarity in args.similarity:
        cut = faces.cosine_for_similarity(similarity)

        def share(values: list[float | None], cut: float = cut) -> float:
            return sum(v is not None and v >= cut for v in values) / len(values)

        print(f"\nsimilarity {similarity:g} (cosine {cut:.3f}):")
        for name, needed, window in rules:
            chances = {pair: 1 - never_within(share(v), args.frames, needed=needed, window=window)
                       for pair, v in impostors.items()}
            worst = max(chances, key=chances.get)
            mean = sum(chances.values()) / len(chances)
            passing = sum(c > 0 for c in chances.values())
            within = {k: sum(1 - never_within(share(v), k, needed=needed, window=window) for v in genuine.values())
                      / len(genuine) for k in (1, 2, 3, 5)}
            stuck = sorted(person for (person, _), v in genuine.items() if share(v) == 0)
            print(f"  {name:28s} impostor passes within {args.frames} frames: mean {mean:.4%}, largest "
                  f"{chances[worst]:.2%} ({worst[0]} as {worst[1]}), {passing} of {len(chances)} pairs can pass")
            print(f"  {'':28s} right student passes within 1 / 2 / 3 / 5 frames: "
                  + " / ".join(f"{within[k]:.1%}" for k in (1, 2, 3, 5))
                  + f"; never on these photos: {len(stuck)} ({', '.join(stuck) or 'none'})")

    print(f"\na look-alike whose frames pass with chance q, each independently (the per-frame FMR: issue 9's target is "
          f"0.1%), within {args.frames} frames:")
    for q in (0.001, 0.003, 0.01, 0.03):
        print(f"  q {q:.1%}: " + "; ".join(f"{name} {1 - never_within(q, args.frames, needed=n, window=w):.3%}"
                                          for name, n, w in rules))


if __name__ == "__main__":
    main()
