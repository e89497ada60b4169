"""Looking away measured on labelled frames: against each person's baseline, thresholds held out."""

from __future__ import annotations

from typing import Any

from proctoring.analysis import looking_away as m


def analysis(yaw: float, pitch: float = 0.0) -> dict[str, Any]:
    return {"FaceDetails": [{"Pose": {"Yaw": yaw, "Pitch": pitch, "Roll": 0.0}}]}


ROWS = [{"file": f, "identity": person, "source": source} for f, person, source in (
    ("a1", "ann", "s1"), ("a2", "ann", "s1"), ("a3", "ann", "s1"),
    ("b1", "bo", "s2"), ("b2", "bo", "s2"), ("c1", "", "s3"), ("d1", "", "s4"))]
LABELS = {"a1": False, "a2": False, "a3": True, "b1": False, "b2": True, "c1": False, "d1": True}


def test_it_judges_each_frame_against_its_own_persons_frontal_frames() -> None:
    analyses = {"a1": analysis(30.0), "a2": analysis(28.0), "a3": analysis(-5.0),  # Ann's camera is to one side
                "b1": analysis(0.0), "b2": analysis(40.0), "c1": analysis(15.0), "d1": None}
    frames = {f.file: f for f in m.frames(analyses, ROWS, LABELS)}
    assert round(frames["a3"].deviation, 1) == 34.0  # facing the camera is away from how Ann sits
    assert frames["a1"].deviation == 2.0 and frames["b2"].deviation == 40.0
    assert frames["c1"].deviation == 15.0  # nobody else of theirs: judged against the camera's axis
    assert frames["d1"].deviation is None  # no face: never flagged, so a miss
    (hits, away), (false, fine) = m.rates(list(frames.values()), lambda f: 20.0)
    assert (hits, away, false, fine) == (2, 3, 0, 4)


def test_it_chooses_the_lowest_cut_that_keeps_false_flags_within_the_target() -> None:
    frames = [m.Frame(file=str(i), source="s", away=False, deviation=float(i)) for i in range(40)]
    frames += [m.Frame(file="x", source="s", away=True, deviation=50.0)]
    cut = m.choose_cut(frames, max_false=0.05)
    assert cut == 37.0 and sum(f.deviation > cut for f in frames if not f.away) == 2  # 2/40 = 5%


def test_it_keeps_each_source_whole_in_one_fold() -> None:
    frames = [m.Frame(file=r["file"], source=r["source"], away=LABELS[r["file"]], deviation=0.0) for r in ROWS]
    folds = m.source_folds(frames, k=2)
    assert sorted(map(sorted, folds)) == [["s1", "s4"], ["s2", "s3"]]  # 4 frames and 3, no source split
