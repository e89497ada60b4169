"""Detection measured as an exam runs it: the folds, the arithmetic, failures, the policy."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from proctoring.analysis import measurement as m
from proctoring.analysis.evaluation import default_policy, evaluate, format_report
from proctoring.checks import Policy


def person(*confidences: float) -> dict[str, Any]:
    return {"Name": "Person", "Confidence": max(confidences),
            "Instances": [{"Confidence": c} for c in confidences]}


def label(name: str, confidence: float) -> dict[str, Any]:
    aliases = [{"Name": "Cell Phone"}] if name == "Mobile Phone" else []
    return {"Name": name, "Confidence": confidence, "Aliases": aliases, "Instances": [{"Confidence": confidence}]}


class FakeBackend:
    """Canned answers per image (the image bytes are its name); records every call."""

    def __init__(self, answers: dict[str, tuple[int, list[dict[str, Any]]]], failing: set[str] = frozenset(),
                 refused: set[str] = frozenset()):
        self.answers, self.failing, self.refused, self.calls = answers, failing, refused, []

    def _answer(self, data: bytes) -> tuple[int, list[dict[str, Any]]]:
        name = data.decode()
        if name in self.failing:
            raise ClientError({"Error": {"Code": "InvalidImageFormatException", "Message": "bad"}}, "Analyze")
        return self.answers[name]

    def analyze(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("analyze", kwargs))
        faces, labels = self._answer(kwargs["Image"]["Bytes"])
        minimum = kwargs["MinConfidence"]
        answer = {"Labels": [lab for lab in labels if lab["Confidence"] >= minimum],
                  "FaceDetails": [{}] * faces, "FaceMatches": [], "ModerationLabels": []}
        if "References" in kwargs:
            passed = bool(kwargs["References"]) and faces == 1
            answer["Verification"] = {"Passed": passed, "Reason": "match" if passed else "no_reference"}
        return answer

    def detect_labels(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("detect_labels", kwargs))
        return {"Labels": self._answer(kwargs["Image"]["Bytes"])[1]}

    def create_collection(self, **kwargs: Any) -> dict[str, Any]:
        return {}

    def index_faces(self, **kwargs: Any) -> dict[str, Any]:
        name = kwargs["Image"]["Bytes"].decode()
        if name in self.refused:
            return {"FaceRecords": [], "UnindexedFaces": []}
        return {"FaceRecords": [{"Face": {"FaceId": f"face-{name}", "BoundingBox": {"Height": 0.4}}}],
                "UnindexedFaces": []}


def row(file: str, source: str, faces: int, people: int, objects: str = "", capture: str = "webcam",
        category: str = "G", identity: str = "") -> dict[str, str]:
    return {"file": file, "source": source, "num_clear_faces": str(faces), "num_people": str(people),
            "objects": objects, "extra_tags": f"capture={capture}", "category": category, "identity": identity,
            "split": "dev"}


def observe(rows: list[dict[str, str]], backend: FakeBackend) -> list[m.Observation]:
    return [m.observe(r, r["file"].encode(), backend, Policy()) for r in rows]


def obs(file: str, source: str) -> m.Observation:
    return m.Observation(file=file, source=source, faces_truth=0, people_truth=0,
                         objects_truth=frozenset(), clean=False)


def test_it_never_puts_one_source_in_two_folds() -> None:
    sizes = {"deepface": 27, "yudas": 26, "intel": 21, "simon": 18, "kerns": 13, "tfjs": 10, "skimage": 1}
    observations = [obs(f"{s}_{i}.jpg", s) for s, n in sizes.items() for i in range(n)]
    folds = m.source_folds(observations, 5)
    assert len(folds) == 5
    assert sorted(s for fold in folds for s in fold) == sorted(sizes)  # each source once, none lost
    loads = [sum(sizes[s] for s in fold) for fold in folds]
    assert max(loads) - min(loads) <= 11  # dealt largest first to the emptiest fold
    assert m.source_folds(observations, 7) == [{s} for s in sorted(sizes)]  # leave one source out


def test_it_computes_the_figures_from_the_products_verdicts() -> None:
    rows = [
        row("a.jpg", "s1", 1, 1),  # clean, right
        row("b.jpg", "s1", 1, 1),  # clean, its person only at 70: the product counts 0 people
        row("c.jpg", "s2", 1, 1, "mobile phone", "photo"),  # phone at 90: found
        row("d.jpg", "s2", 1, 1, "phone (at ear)", "photo"),  # phone at 60: missed at 85
        row("e.jpg", "s3", 0, 0, "coffee cup", "photo"),  # a laptop at 88 where there is none
    ]
    backend = FakeBackend({
        "a.jpg": (1, [person(95)]),
        "b.jpg": (1, [person(70)]),
        "c.jpg": (1, [person(90), label("Mobile Phone", 90)]),
        "d.jpg": (1, [person(90), label("Mobile Phone", 60)]),
        "e.jpg": (0, [label("Laptop", 88)]),
    })
    f = m.figures(observe(rows, backend), m.product_decider(Policy()), Policy())
    assert f.face_count == (4, 4)
    assert f.person_count == (4, 5)
    assert f.recall == {"phone": (1, 2), "laptop": (0, 0), "book/notes": (0, 0), "monitor/tv": (0, 0), "tablet": (0, 0)}
    assert f.object_recall == (1, 2)
    assert f.false_objects == (1, 3)  # a, b, e show none of the objects; e "has" a laptop
    assert f.clean_flagged_detection == (1, 2)  # b, by Person Detection
    assert f.flagged_by["Person Detection"] == 1 and f.flagged_by["Objects of Interest"] == 0
    assert f.clean_flagged == (0, 0)  # nobody has a registered photo: recognition is not judged
    assert f.unsafe == 0


def test_it_counts_an_image_that_fails_to_analyse_as_a_miss() -> None:
    rows = [row("clean.jpg", "s1", 1, 1), row("phone.jpg", "s2", 1, 1, "mobile phone", "photo")]
    backend = FakeBackend({}, failing={"clean.jpg", "phone.jpg"})
    observations = observe(rows, backend)
    assert all(o.failed and "InvalidImageFormatException" in o.error for o in observations)
    for decide in (m.product_decider(Policy()), m.chosen_decider(lambda o: m.choose(
            observations, {"s1", "s2"}, Policy(), 0.05), Policy())):
        f = m.figures(observations, decide, Policy())
        assert f.face_count == (0, 2)
        assert f.person_count == (0, 2)
        assert f.recall["phone"] == (0, 1)
        assert f.false_objects == (1, 1)  # the clean one: a failure is never a pass
        assert f.clean_flagged_detection == (1, 1) and f.clean_flagged == (1, 1)
        assert f.flagged_by["failed to analyse"] == 1
    assert len(m.measure(observations, Policy(), 2)["failed"]) == 2


def test_it_verifies_a_clean_frame_against_the_students_other_registered_captures(tmp_path: Path) -> None:
    rows = [
        row("ann_1.jpg", "s1", 1, 1, identity="ann"),
        row("ann_2.jpg", "s1", 1, 1, identity="ann"),  # registration refuses it (say, a profile)
        row("bob_1.jpg", "s2", 1, 1, identity="bob"),  # bob has no other photo
    ]
    for r in rows:
        (tmp_path / r["file"]).write_bytes(r["file"].encode())
    backend = FakeBackend({r["file"]: (1, [person(95)]) for r in rows}, refused={"ann_2.jpg"})
    observations = {o.file: o for o in m.observe_all(tmp_path, rows, backend, Policy())}
    references = {kw["Image"]["Bytes"].decode(): kw.get("References") for name, kw in backend.calls
                  if name == "analyze" and kw["MinConfidence"] != 0}  # not the label probes
    assert references == {"ann_1.jpg": None, "ann_2.jpg": [{"FaceId": "face-ann_1.jpg"}], "bob_1.jpg": None}
    assert observations["ann_2.jpg"].recognition_judged  # never against its own capture
    assert observations["ann_1.jpg"].unregistrable and not observations["ann_1.jpg"].recognition_judged
    assert not observations["bob_1.jpg"].unregistrable
    f = m.figures(observations.values(), m.product_decider(Policy()), Policy())
    assert f.clean_flagged == (0, 1) and f.clean_flagged_detection == (0, 3)


def test_it_never_reports_a_cutoff_on_the_images_that_chose_it() -> None:
    # Only s3 has a false laptop (99): fitted on everything, the cutoff rises above it; held out,
    # s3's cutoff is chosen on s1 and s2, which have no laptop, so s3's false laptop shows.
    rows = [row(f"{s}_{i}.jpg", s, 0, 0, capture="photo") for s in ("s1", "s2", "s3") for i in range(3)]
    answers = {r["file"]: (0, []) for r in rows}
    answers["s3_0.jpg"] = (0, [label("Laptop", 99)])
    result = m.measure(observe(rows, FakeBackend(answers)), Policy(), 3)
    assert result["leave_one_source_out"]
    assert result["fitted_choice"].object_cutoffs["laptop"] > 99
    held_out_s3 = next(c for c in result["folds"] if "s3" in c.sources)
    assert held_out_s3.object_cutoffs["laptop"] < 1
    assert result["fitted"].false_objects == (0, 9)
    assert result["held_out"].false_objects == (1, 9)
    assert result["product"].false_objects == (1, 9)  # 99 >= 85: the product finds it too


def test_it_chooses_the_person_cutoff_with_the_most_exact_counts() -> None:
    rows = [row("one.jpg", "s1", 1, 1), row("two.jpg", "s1", 2, 2), row("three.jpg", "s1", 3, 3)]
    backend = FakeBackend({
        "one.jpg": (1, [person(95, 40)]),  # a weak second box that is nobody
        "two.jpg": (2, [person(95, 70)]),
        "three.jpg": (3, [person(90, 80, 65)]),
    })
    cutoff = m.choose_person_cutoff(observe(rows, backend), Policy())
    assert 40 < cutoff <= 65  # every count exact; the product's 85 gets only one of three
    assert [m.person_count(o, cutoff, Policy()) for o in observe(rows, backend)] == [1, 2, 3]


def test_it_measures_at_the_products_default_policy(tmp_path: Path) -> None:
    # Exams run at MinConfidence 85; figures once came from 55. Measuring anywhere else is not the product.
    assert default_policy() == Policy()
    assert default_policy().min_confidence == 85.0
    assert default_policy().face_match_threshold == 90.0
    assert set(default_policy().objects_of_interest) == {"Mobile Phone", "Cell Phone"}
    images = tmp_path / "images"
    images.mkdir()
    rows = [row("a.jpg", "s1", 1, 1), row("b.jpg", "s2", 1, 1, "mobile phone", "photo")]
    with open(images / "manifest.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    for r in rows:
        (images / r["file"]).write_bytes(r["file"].encode())
    backend = FakeBackend({"a.jpg": (1, [person(95)]), "b.jpg": (1, [person(95), label("Mobile Phone", 70)])})
    report = evaluate(images, backend=backend, verification=False, detection_folds=2)
    analyses = [kwargs for name, kwargs in backend.calls if name == "analyze" and kwargs["MinConfidence"] != 0]
    assert len(analyses) == 2
    assert all(k["MinConfidence"] == 85.0 and k["FaceMatchThreshold"] == 90.0 for k in analyses)
    # the label probes run the models the product runs on the frame: the same LabelsOfInterest
    probes = [kwargs for name, kwargs in backend.calls if name == "analyze" and kwargs["MinConfidence"] == 0]
    assert len(probes) == 2
    assert all(k["LabelsOfInterest"] == ["Mobile Phone", "Cell Phone"] for k in analyses + probes)
    assert report["detection"]["product"].recall["phone"] == (0, 1)  # a phone at 70 is not found at 85
    text = format_report(report)
    assert "MinConfidence 85" in text and "phone recall" in text and ">= 85%" in text


def test_it_breaks_person_ties_towards_the_strictest_cut_not_the_products() -> None:
    # Every cut in (40, 90] counts both images right. The product's 85 now sits at the cut chosen
    # on all images, held-out folds included: a tie-break towards it would let them steer their own cut.
    rows = [row("one.jpg", "s1", 1, 1), row("two.jpg", "s1", 2, 2)]
    backend = FakeBackend({"one.jpg": (1, [person(95, 40)]), "two.jpg": (2, [person(95, 90)])})
    assert m.choose_person_cutoff(observe(rows, backend), Policy()) == 90


def test_it_reports_the_precision_a_label_at_the_cut_stands_for() -> None:
    rows = [row("laptop.jpg", "s1", 1, 1, "laptop", "photo"), row("desk.jpg", "s1", 1, 1, capture="photo"),
            row("crowd.jpg", "s2", 2, 2, capture="photo")]
    backend = FakeBackend({
        "laptop.jpg": (1, [person(95), label("Laptop", 90)]),
        "desk.jpg": (1, [person(95), label("Laptop", 88)]),  # a laptop that is not there
        "crowd.jpg": (2, [person(95, 90, 86)]),  # a third person who is not there
    })
    f = m.figures(observe(rows, backend), m.product_decider(Policy()), Policy())
    assert f.precision["laptop"] == (1, 2)
    assert f.precision["phone"] == (0, 0)
    assert f.precision["person"] == (4, 5)


def test_a_clean_frame_is_one_student_alone_facing_the_camera() -> None:
    assert m.is_clean_webcam_frame(row("a.jpg", "s", faces=1, people=1))
    turned = row("b.jpg", "s", faces=1, people=1)
    turned["extra_tags"] += ";head=away"
    assert not m.is_clean_webcam_frame(turned)
    glancing = row("c.jpg", "s", faces=1, people=1)
    glancing["extra_tags"] += ";head=turned"  # both eyes still visible: still facing the camera
    assert m.is_clean_webcam_frame(glancing)
    beside = row("d.jpg", "s", faces=1, people=1)
    beside["extra_tags"] += ";bystander=limb"
    assert not m.is_clean_webcam_frame(beside)


def test_it_measures_screens_beside_the_three_target_kinds_without_pooling_them() -> None:
    rows = [
        row("wall.jpg", "s1", 1, 1, "tv/monitor", "photo"),  # a second screen, found
        row("side.jpg", "s1", 1, 1, "monitor", "photo"),  # a second screen, missed
        row("slate.jpg", "s2", 0, 0, "tablet, coffee cup", "photo"),  # no COCO class: never found by name
        row("kitchen.jpg", "s2", 1, 1),  # a microwave taken for a monitor: a false screen, not a false object
        row("desk.jpg", "s3", 1, 1, capture="photo"),
    ]
    backend = FakeBackend({
        "wall.jpg": (1, [person(95), label("Monitor", 90)]),
        "side.jpg": (1, [person(95), label("Monitor", 40)]),
        "slate.jpg": (0, [label("Laptop", 30)]),
        "kitchen.jpg": (1, [person(95), label("Monitor", 88)]),
        "desk.jpg": (1, [person(95)]),
    })
    f = m.figures(observe(rows, backend), m.product_decider(Policy()), Policy())
    assert f.recall["monitor/tv"] == (1, 2) and f.recall["tablet"] == (0, 1)
    assert f.object_recall == (0, 0)  # the pooled target row is the three kinds only
    assert f.false_by_kind["monitor/tv"] == (1, 3)  # slate, kitchen, desk; kitchen's "monitor"
    assert f.false_by_kind["laptop"] == (0, 5)  # slate's laptop at 30 is under 85
    assert f.false_objects == (0, 5)  # no phone, laptop or book found anywhere
    # The default policy watches phones: the false monitor does not flag the clean kitchen frame...
    assert f.clean_flagged_detection == (0, 1)
    assert f.clean_found == {"monitor/tv": 1}  # ... but says what listing Monitor would add
    # ... an exam that lists Monitor is flagged on it.
    screens = Policy(objects_of_interest=("Mobile Phone", "Cell Phone", "Monitor"))
    watching = [m.observe(r, r["file"].encode(), backend, screens) for r in rows]
    assert m.figures(watching, m.product_decider(screens), screens).clean_flagged_detection == (1, 1)
    text = m.format_measurement(m.measure(observe(rows, backend), Policy(), 3))
    assert "monitor/tv recall (Monitor)" in text and "false monitor/tv (images without it)" in text
    assert "(no COCO class)" in text  # the tablet's cut stands for no raw score
