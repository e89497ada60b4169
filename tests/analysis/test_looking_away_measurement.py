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


def test_it_judges_by_the_eyes_only_near_the_cut() -> None:
    near = m.Frame(file="n", source="s", away=False, deviation=22.0, eyes_deviation=5.0)  # head turned, eyes on screen
    far = m.Frame(file="f", source="s", away=True, deviation=40.0, eyes_deviation=5.0)
    assert m.flagged(near, 21.0, 0.0) and not m.flagged(near, 21.0, 4.0)
    assert m.flagged(far, 21.0, 4.0)  # well past the cut: the head alone judges
    no_face = m.Frame(file="x", source="s", away=True, deviation=None, no_face=True)
    assert not m.flagged(no_face, 21.0) and m.flagged(no_face, 21.0, no_face=True)  # caught only as "no face"


def test_it_chooses_the_band_on_the_training_frames_only_where_the_eyes_help() -> None:
    turned = [m.Frame(file=f"t{i}", source="s", away=False, deviation=22.0 + i, eyes_deviation=3.0) for i in range(3)]
    frontal = [m.Frame(file=f"f{i}", source="s", away=False, deviation=float(i % 10)) for i in range(37)]
    away = [m.Frame(file="a", source="s", away=True, deviation=19.0, eyes_deviation=30.0)]
    # the head alone would have to flag the turned heads to catch the away frame; with the eyes, neither
    assert m.choose_rule(turned + frontal + away, bands=(0.0, 8.0)) == (19.0, 8.0)
    assert m.choose_rule(frontal + away, bands=(0.0, 8.0)) == (9.0, 0.0)  # nothing gained: the narrowest band


def test_it_reads_the_eyes_only_when_the_heads_deviation_is_near_the_cut() -> None:
    from proctoring import attention

    calls = []

    def eyes() -> float:
        calls.append(1)
        return -15.0  # the eyes turned back towards the screen
    assert attention.judged_deviation((45.0, 0.0), (0.0, 0.0), (0.0, 0.0), eyes, band=4.0) == (45.0, None)
    assert attention.judged_deviation((2.0, 0.0), (0.0, 0.0), (0.0, 0.0), eyes, band=4.0) == (2.0, None)
    assert attention.judged_deviation((22.0, 0.0), (0.0, 0.0), (0.0, 0.0), eyes, band=0.0) == (22.0, None)  # off
    assert calls == []
    assert attention.judged_deviation((22.0, 0.0), (0.0, 0.0), (0.0, 0.0), eyes, band=4.0) == (7.0, -15.0)
    assert attention.judged_deviation((22.0, 0.0), (0.0, 0.0), (0.0, 0.0), lambda: None, band=4.0) == (22.0, None)
    assert attention.gaze_baseline_of([[10.0, 0.0, -10.0], [12.0, 2.0, -8.0]]) == (2.0, 1.0)
    assert attention.gaze_baseline_of([[10.0, 0.0, -10.0], [12.0, 2.0]]) == (11.0, 1.0)  # a frame without eyes


def test_it_turns_frame_rates_into_the_chance_of_an_incident() -> None:
    assert m.window_rates(1.0, 0.0) == {"sustained": 1.0, "glance": 0.0, "attentive": 0.0}
    w = m.window_rates(0.9, 0.05)
    assert round(w["sustained"], 4) == 0.9914 and round(w["attentive"], 5) == 0.00116 and w["glance"] < 0.02


def test_it_reads_no_eyes_on_a_face_cut_by_the_frames_edge() -> None:
    import cv2
    import numpy as np

    from proctoring.analysis import faces, landmarks
    from tests.analysis.conftest import fixture_bytes

    bgr = cv2.imdecode(np.frombuffer(fixture_bytes("headpose_woman_front.jpg"), np.uint8), cv2.IMREAD_COLOR)
    x, _, w, _ = faces.detect(bgr)[0].box
    for cut in (False, True):  # whole; the frame's right edge cuts her face
        frame = np.ascontiguousarray(bgr[:, : int(x + 0.75 * w)]) if cut else bgr
        detail = faces.face_detail(faces.detect(frame)[0], frame)
        turn = landmarks.eye_yaw(cv2.imencode(".jpg", frame)[1].tobytes(), detail)
        assert (turn is None) is cut  # whole: ~11 degrees; cut, the mesh read -2 to -16 there
