"""1:1 verification calibration: pairs, identity-grouped folds, FMR/FNMR arithmetic, misses."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from proctoring.analysis import calibration as c
from tests.analysis.conftest import FIXTURES, encode


def unit(*values: float) -> np.ndarray:
    v = np.asarray(values, dtype=np.float32)
    return v / np.linalg.norm(v)


def sample(file: str, identity: str, vector: np.ndarray | None, origin: str = "", **tags: str) -> c.FaceSample:
    tags.setdefault("capture", "photo")
    return c.FaceSample(file, identity, origin or file, tuple(sorted(tags.items())), vector)


def trial(ids: str, genuine: bool, score: float | None, webcam: bool = False) -> c.Trial:
    return c.Trial(frozenset(ids.split(",")), genuine, score, webcam, frozenset())


def test_it_pairs_every_two_captures_once_and_skips_derived_copies() -> None:
    samples = [
        sample("a1", "ann", unit(1, 0), tone="light", capture="webcam"),
        sample("a2", "ann", unit(1, 0.1), tone="light"),
        sample("a3", "ann", unit(1, 0.2), origin="a2"),  # a crop of a2: not a second capture
        sample("b1", "bob", unit(0, 1), tone="dark"),
    ]
    pairs = c.make_pairs(samples)
    assert len(pairs) == 5  # 6 unordered pairs less (a2, a3)
    assert sum(t.genuine for t in pairs) == 2
    a1_a2 = next(t for t in pairs if t.genuine and t.webcam_like and ("tone", "light") in t.groups)
    assert a1_a2.score == pytest.approx(float(unit(1, 0) @ unit(1, 0.1)))
    impostor = next(t for t in pairs if t.identities == {"ann", "bob"} and t.webcam_like)
    assert impostor.groups == frozenset()  # light vs dark, webcam vs photo: in no group


def test_it_reads_tags_origin_and_capture_from_the_manifest() -> None:
    g = {"file": "G/G_x_01.jpg", "extra_tags": "capture=webcam;tone=medium", "notes": ""}
    clip = {"file": "A/A_iv_asl_again_f0000.jpg", "extra_tags": "B", "notes": ""}
    derived = {"file": "F/F_fr_obama-240p.jpg", "notes": "DERIVED from obama.jpg (letterboxed)"}
    assert dict(c.tags_of(g)) == {"capture": "webcam", "tone": "medium"}
    assert dict(c.tags_of(clip)) == {"capture": "webcam_clip"}
    assert dict(c.tags_of(derived)) == {"capture": "photo"}
    assert c.origin_of(derived) == "obama"
    assert c.origin_of(g) == "g_x_01"


def test_it_scores_a_probe_by_its_best_reference() -> None:
    samples = [
        sample("a1", "ann", unit(1, 0)),
        sample("a2", "ann", unit(0.6, 0.8)),
        sample("a3", "ann", unit(0, 1)),
        sample("b1", "bob", unit(1, 0.05)),
    ]
    trials = c.make_reference_trials(samples)
    b_as_ann = next(t for t in trials if not t.genuine)
    assert b_as_ann.score == pytest.approx(max(float(unit(1, 0.05) @ s.vector) for s in samples[:3]))
    # bob has one photo: no one is verified against bob with >= 2 references
    assert all(t.identities != {"bob"} for t in trials)
    assert len([t for t in trials if t.genuine]) == 3


def test_it_counts_false_matches_and_false_rejects() -> None:
    trials = [
        trial("a", True, 0.9), trial("a", True, 0.5), trial("a", True, 0.49), trial("a", True, None),
        trial("a,b", False, 0.5), trial("a,b", False, 0.2), trial("a,b", False, 0.1),
        trial("a,b", False, None),
    ]
    r = c.rates(trials, 0.5)
    assert (r.genuine, r.false_rejects, r.impostor, r.false_matches, r.no_face_impostor) == (4, 2, 3, 1, 1)
    assert r.fnmr == 0.5 and r.fmr == pytest.approx(1 / 3)
    assert c.rates(trials, 0.51).false_matches == 0


def test_it_chooses_the_lowest_threshold_that_meets_the_target() -> None:
    impostors = [0.1, 0.2, 0.3, 0.4]
    assert c.threshold_for(impostors, 0.25) > 0.3  # one of four (0.4) may match, not two
    assert c.threshold_for(impostors, 0.25) == pytest.approx(0.3)
    assert c.threshold_for(impostors, 0.001) > 0.4
    trials = [trial("a,b", False, s) for s in [0.1] * 7 + [0.4]] + [trial("a,c", False, 0.35, webcam=True)]
    assert c.threshold_for([t.score for t in trials], 0.25) < 0.35  # 2 of 9 may match overall ...
    assert c.choose_threshold(trials, 0.25) > 0.35  # ... but not 1 of the 1 webcam-like


def test_it_keeps_every_identity_in_one_fold() -> None:
    samples = [sample(f"{p}{n}", p, unit(1, 0), capture="webcam" if p < "f" else "photo")
               for p in "abcdefghijk" for n in range(2)]
    folds = c.identity_folds(samples, k=3)
    assert set().union(*folds) == set("abcdefghijk")
    assert sum(len(f) for f in folds) == 11  # disjoint
    assert all(f & set("abcde") for f in folds)  # webcam-like people in every fold


def test_it_measures_each_fold_on_identities_it_never_chose_on() -> None:
    folds = [{"a", "b"}, {"c", "d"}]
    trials = [
        trial("a", True, 0.9), trial("c", True, 0.9),
        trial("a,b", False, 0.2), trial("c,d", False, 0.3),
        trial("a,c", False, 0.95),  # across the split: neither chosen on nor measured
    ]
    results = c.cross_validate(trials, folds)
    assert [f.train for f in results] == [2, 2]
    assert [(f.overall.genuine, f.overall.impostor) for f in results] == [(1, 1), (1, 1)]
    assert results[0].threshold == pytest.approx(0.3)  # from c,d's impostor only
    # held out, c,d's 0.3 beats the 0.2 that a,b set: a false match the fitted figure would hide
    assert [f.overall.false_matches for f in results] == [0, 1]


def test_it_names_the_trials_a_pooled_held_out_rate_is_made_of() -> None:
    folds = [{"a", "b"}, {"c", "d"}]
    trials = [
        c.Trial(frozenset("a"), True, 0.9, True, frozenset(), name="a1 ~ a"),
        c.Trial(frozenset("c"), True, 0.1, True, frozenset(), name="c1 ~ c"),  # rejected at every split
        c.Trial(frozenset("ab"), False, 0.2, True, frozenset(), name="a1 ~ b"),
        c.Trial(frozenset("cd"), False, 0.3, True, frozenset(), name="c1 ~ d"),  # matched once c,d is held out
    ]
    runs = [c.cross_validate(trials, folds), c.cross_validate(trials, folds[::-1])]
    errors = c._errors_by_trial(runs)
    assert [(t.name, n) for t, n in errors] == [("c1 ~ c", 2), ("c1 ~ d", 2)]
    lines = c._error_lines(errors, 2)
    assert lines == [
        "      held-out false rejects, 1 unique trial(s), in how many splits: c1 ~ c (cosine 0.100, webcam) 2/2",
        "      held-out false matches, 1 unique trial(s), in how many splits: c1 ~ d (cosine 0.300, webcam) 2/2",
    ]


def test_it_counts_a_photo_without_a_face_as_a_miss(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "signer1_a.jpg", tmp_path / "face.jpg")
    shutil.copy(FIXTURES / "empty_room.jpg", tmp_path / "room.jpg")
    rows = [{"file": "face.jpg", "identity": "sam"}, {"file": "room.jpg", "identity": "sam"}]
    samples = c.load_samples(tmp_path, rows)
    assert [s.found for s in samples] == [True, False]
    r = c.rates(c.make_pairs(samples), threshold=-1.0)  # even a threshold that accepts anything
    assert (r.genuine, r.false_rejects) == (1, 1)


def test_it_says_when_too_few_impostors_can_show_the_target() -> None:
    assert c.upper_bound(0, 3000) == pytest.approx(3 / 3000, rel=0.01)  # the rule of three
    assert c.verdict(c.Rates(100, 1, 300, 0)).startswith("meets FMR<=0.1% with FNMR<=2% as seen, but too few")
    assert c.verdict(c.Rates(100, 1, 5000, 0)).startswith("MEETS")
    assert c.verdict(c.Rates(100, 3, 5000, 0)).startswith("MISSES")
    assert c.verdict(c.Rates(100, 1, 5000, 6)).startswith("MISSES")


def test_it_embeds_a_face_and_its_mirror_image_alike_with_the_flip_averaged_embedding() -> None:
    photo = Image.open(FIXTURES / "signer1_a.jpg").convert("RGB")
    original, mirrored = (encode(image) for image in (photo, ImageOps.mirror(photo)))
    plain = [c.embed_photo(data)[0] for data in (original, mirrored)]
    flipped = [c.embed_photo_flipped(data)[0] for data in (original, mirrored)]
    assert all(np.linalg.norm(v) == pytest.approx(1.0, abs=1e-5) for v in flipped)
    assert float(plain[0] @ flipped[0]) < 0.999  # the mirror's SFace vector is not the straight one's
    # averaged over the crop and its mirror, a face is closer to its own mirror image (0.984 against
    # 0.963 plain; not 1: the mirror's landmarks, found anew, differ by a pixel or so)
    assert float(flipped[0] @ flipped[1]) > float(plain[0] @ plain[1]) + 0.01


def test_it_flags_a_group_whose_held_out_rate_is_over_twice_the_rules_own() -> None:
    overall = c.Rates(genuine=100, false_rejects=2, impostor=1000, false_matches=1)
    lines = c._group_lines({
        ("tone", "dark"): c.Rates(genuine=20, false_rejects=1, impostor=100, false_matches=0),  # FNMR 5% > 2 x 2%
        ("tone", "light"): c.Rates(genuine=40, false_rejects=1, impostor=500, false_matches=0),  # 2.5%: not over
        ("capture", "webcam"): c.Rates(genuine=30, false_rejects=0, impostor=300, false_matches=1),  # FMR 0.33%
        ("gender", "woman"): c.Rates(genuine=6, false_rejects=0, impostor=0, false_matches=0),  # no impostors
    }, overall)
    flagged = {line.split()[0].lstrip("!") for line in lines[1:] if line.strip().startswith("!")}
    assert flagged == {"tone=dark", "capture=webcam"}
    assert len(lines) == 5
