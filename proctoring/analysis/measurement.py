"""Detection measured as an exam runs it, fitted on the dev set and held out by source.

Every image goes through the product's own path (``services.analyze_image`` without the ORM):
``engine.analyze(Image, MinConfidence=policy.min_confidence, FaceMatchThreshold=...)`` and then
``checks.evaluate(analysis, policy)``, under ``checks.Policy()``, the default every new exam gets.
A session frame of a student with other photos is verified 1:1 against them (``References``):
their other captures, indexed as registration does it (MaxFaces 1, QualityFilter MEDIUM, no second
face); a photo registration refuses is no reference. A student without any (no other capture, or
all refused) could not sit an exam: their frames' recognition is not judged, and counted apart.

Figures (ground truth from the manifest; an image that fails to decode or analyse counts against
every figure it is in: a miss, a wrong count, a false flag):

- face count exact: Face Detection's count equals ``num_clear_faces``, on images with a clear face;
- person count exact: Person Detection's count equals ``num_people``;
- object recall per class (phone, laptop, book/notes), and false objects: images that show none of
  them where any is found. The default policy watches phones only; laptop and book are measured
  as an exam that lists them would see them (the same check, the same MinConfidence);
- clean webcam frames flagged: webcam-like frames (G photos, frames of the webcam clips) of one
  person with one clear face and nothing on the desk, outside category F (hard cases), the student
  alone (no ``bystander`` tag) and facing the camera (not ``head=away``); flagged
  when any enabled check fails. Person Recognition is judged on the frames whose student has
  another capture to register; the four detection checks on all of them;
- unsafe false positives: every dev photo is safe, so any failed Unsafe Content check.

Held out: images are split into folds by the manifest's ``source`` (so frames of one clip or one
photo set never straddle folds). Where a constant can be chosen by a simple rule, it is chosen on
the training folds and measured on the held-out fold:

- per object class, the label confidence from which the object counts: the lowest cutoff that
  keeps false objects of that class at or below the target on the training images;
- the Person instance confidence from which a person counts: the cutoff with the most exact
  counts on the training images (ties: the highest, the strictest).

The product's cut is the MinConfidence 85, which ``objects.calibrated`` puts, per class, at the raw
score in ``objects.CONFIDENCE_85``: these rules' choice on all dev images (the "fitted" column,
whose cutoffs the table shows at 85.0). A fold's rule compares each held-out score with the cut
chosen on the other folds, which is what a map putting that cut at 85 would do (maps are monotone):
the held-out column is the product as it would be had its calibration never seen the fold.

The label scores come from a second call, ``analyze(MinConfidence=0)``, the same models on
the same pixels (YOLO skipped on the same frames: ``local.combined.needs_yolo``). Face counting
(the clear-face rule in ``faces.py``) and the unsafe-content threshold are tuned constants this
measurement cannot re-fit: their held-out column is the fitted figure, marked so.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from exams import policy as p

from . import objects
from .calibration import WEBCAM_CAPTURES, identity_of, origin_of, tags_of, threshold_for, upper_bound

FOLDS = 5
COLLECTION = "evaluation"
# The target kinds: their recall is pooled, and "false objects" is on images without any of them.
OBJECT_CLASSES: dict[str, tuple[re.Pattern[str], str]] = {
    "phone": (re.compile(r"\b(mobile |cell )?phones?\b"), "Mobile Phone"),
    "laptop": (re.compile(r"\blaptops?\b"), "Laptop"),
    # Paper notes have no class of their own: the product can only find them as Book.
    "book/notes": (re.compile(r"\b(note)?books?\b|\bmagazines?\b|\bnotes\b|\bpapers?\b"), "Book"),
}
# A second screen and tablets (issue 10), each under the label a policy names, as Rekognition names it.
# Measured beside the three with the same rule and the same false-object share, outside their pooled rows.
# COCO has no tablet class: the local engine never answers "Tablet Computer" (a tablet is found, if at
# all, as a phone, laptop or monitor), so its row says what Rekognition would have to find.
SCREEN_CLASSES: dict[str, tuple[re.Pattern[str], str]] = {
    "monitor/tv": (re.compile(r"\b(monitors?|tvs?|screens?)\b"), "Monitor"),
    "tablet": (re.compile(r"\btablets?\b"), "Tablet Computer"),
}
KINDS = {**OBJECT_CLASSES, **SCREEN_CLASSES}
COCO_OF: dict[str, str | None] = {
    "Mobile Phone": "cell phone", "Laptop": "laptop", "Book": "book", "Monitor": "tvmonitor", "Tablet Computer": None,
}


@dataclass(frozen=True)
class Target:
    at_least: float | None = None  # a rate in [0, 1]
    at_most: float | None = None
    count_at_most: int | None = None

    def text(self) -> str:
        if self.count_at_most is not None:
            return f"<= {self.count_at_most}"
        if self.at_least is not None:
            return f">= {100 * self.at_least:g}%"
        return f"<= {100 * (self.at_most or 0):g}%"


TARGETS = {  # issue 10, "Targets"
    "face_count": Target(at_least=0.95),
    "person_count": Target(at_least=0.90),
    "object_recall": Target(at_least=0.85),
    "false_objects": Target(at_most=0.05),
    "clean_flagged": Target(at_most=0.02),
    "unsafe": Target(count_at_most=0),
}


# -- one image, as an exam sees it -----------------------------------------------------------


@dataclass(frozen=True)
class Observation:
    """One image: its labels, the product's answer and verdicts, and the label scores at 0."""

    file: str
    source: str
    faces_truth: int
    people_truth: int
    objects_truth: frozenset[str]
    clean: bool  # a clean single-student webcam frame
    analysis: dict[str, Any] | None = None  # None: it failed to decode or analyse
    checks: dict[str, tuple[bool, Any]] = field(default_factory=dict)  # TestName -> (Success, Details)
    probe: list[dict[str, Any]] = field(default_factory=list)  # Labels at MinConfidence 0
    # Every face YuNet finds: (score, whether it passes the clear-face rule but for the score).
    face_probe: tuple[tuple[float, bool], ...] | None = None  # None: the backend is not local
    recognition_judged: bool = False  # Person Recognition had the student's references
    unregistrable: bool = False  # the student has other captures, but registration refused them all
    error: str = ""

    @property
    def failed(self) -> bool:
        return self.analysis is None


def objects_of(row: dict[str, str]) -> frozenset[str]:
    text = (row.get("objects") or "").lower()
    return frozenset(key for key, (pattern, _) in KINDS.items() if pattern.search(text))


def is_clean_webcam_frame(row: dict[str, str]) -> bool:
    """One person, one clear face, nothing on the desk, a webcam-like capture, not a hard case;
    the student alone (no ``bystander`` tag: nobody else's limb in the frame) and facing the
    camera (not ``head=away``: a near-profile frame is a student looking away, not a clean one)."""
    tags = dict(tags_of(row))
    return (
        tags.get("capture") in WEBCAM_CAPTURES and row.get("category") != "F"
        and "bystander" not in tags and tags.get("head") != "away"
        and _int(row.get("num_people")) == 1 and _int(row.get("num_clear_faces")) == 1
        and not (row.get("objects") or "").strip()
    )


def capture_of(row: dict[str, str]) -> str:
    """The capture an image comes from: a clip (all its frames), the photo it was derived from, or itself."""
    path = row.get("source_path") or ""
    if " frame " in path:
        return f"{row.get('source', '')}:{path.split(' frame ')[0]}"
    return origin_of(row)


def _int(value: str | None) -> int:
    return int(value or 0)


def observe(
    row: dict[str, str],
    data: bytes | None,
    backend: Any,
    policy: Any,
    references: Sequence[str] | None = None,
) -> Observation:
    """Analyse one image exactly as ``services.analyze_image`` does, then probe its label scores."""
    from proctoring import checks  # needs Django's apps: imported here, the analysis package stays pure

    base = Observation(
        file=row["file"], source=row.get("source") or row["file"],
        faces_truth=_int(row.get("num_clear_faces")), people_truth=_int(row.get("num_people")),
        objects_truth=objects_of(row), clean=is_clean_webcam_frame(row),
    )
    options: dict[str, Any] = {}
    if references is not None:  # a session frame: verified 1:1 against the student's own faces
        options = {"CollectionId": COLLECTION, "References": [{"FaceId": f} for f in references]}
    try:
        if data is None:
            raise ValueError("unreadable file")
        interest = list(policy.objects_of_interest)
        analysis = backend.analyze(Image={"Bytes": data}, MinConfidence=policy.min_confidence,
                                   FaceMatchThreshold=policy.face_match_threshold,
                                   LabelsOfInterest=interest, **options)
        # the same labels (the same models run, or skipped, as in the product) at every confidence
        probe = backend.analyze(Image={"Bytes": data}, MinConfidence=0, LabelsOfInterest=interest)["Labels"]
        face_probe = probe_faces(data, backend)
    except (ClientError, ValueError) as exc:
        return replace(base, error=str(exc))
    outcome = checks.evaluate(analysis, policy, name_of=lambda _: None, own_name=row.get("identity") or None)
    verdicts = {r["TestName"]: (r["Success"], r["Details"]) for r in outcome.results}
    return replace(base, analysis=analysis, checks=verdicts, probe=probe, face_probe=face_probe,
                   recognition_judged=references is not None)


def probe_faces(data: bytes, backend: Any) -> tuple[tuple[float, bool], ...] | None:
    """The local engine's faces before the clear-face score cut: its decode, YuNet and
    ``faces.is_clear`` with CLEAR_SCORE at 0 (so the score cut can be chosen per fold)."""
    from unittest import mock

    from . import faces as face_ops
    from .imaging import decode

    work_side = getattr(backend, "work_side", None)
    if work_side is None:
        return None
    frame = decode({"Bytes": data}, "DetectFaces", work_side)
    found = face_ops.detect(frame.bgr)
    with mock.patch.object(face_ops, "CLEAR_SCORE", 0.0):
        return tuple((f.score, face_ops.is_clear(f, found[0], frame.scale)) for f in found)


def observe_all(
    root: Path, rows: Sequence[dict[str, str]], backend: Any, policy: Any
) -> list[Observation]:
    """Registers each student's usable photos, then observes every image (see ``observe``)."""
    registered = register_references(root, rows, backend)
    result = []
    for row in rows:
        path = root / row["file"]
        data = path.read_bytes() if path.is_file() else None
        identity, capture = identity_of(row), capture_of(row)
        # An exam's student has a registered photo: where none of theirs (other captures of them)
        # could be registered, recognition is not judged (``unregistrable`` says how often).
        refs = [face_id for other, face_id in registered.get(identity, []) if other != capture and face_id]
        observation = observe(row, data, backend, policy, refs or None)
        unregistrable = not refs and any(other != capture for other, _ in registered.get(identity, []))
        result.append(replace(observation, unregistrable=unregistrable))
    return result


def register_references(
    root: Path, rows: Sequence[dict[str, str]], backend: Any
) -> dict[str, list[tuple[str, str]]]:
    """Every single-identity photo indexed as registration indexes one: identity -> [(capture,
    FaceId)], the FaceId empty where registration refused the photo (no usable face)."""
    try:
        backend.create_collection(CollectionId=COLLECTION)
    except ClientError:
        pass  # it exists: a second run on the same store
    from proctoring.services import another_face  # registration's own rule

    registered: dict[str, list[tuple[str, str]]] = {}
    for row in rows:
        identity = identity_of(row)
        path = root / row["file"]
        if not identity or not path.is_file():
            continue
        try:
            indexed = backend.index_faces(CollectionId=COLLECTION, Image={"Bytes": path.read_bytes()},
                                          MaxFaces=1, QualityFilter="MEDIUM", DetectionAttributes=["DEFAULT"])
        except ClientError:
            indexed = {}
        records = indexed.get("FaceRecords", [])
        if records and another_face(records[0], indexed.get("UnindexedFaces", [])):
            records = []  # registration refuses a photo with a second person in it
        registered.setdefault(identity, []).append((capture_of(row), records[0]["Face"]["FaceId"] if records else ""))
    return registered


# -- folds -----------------------------------------------------------------------------------


def source_folds(observations: Sequence[Any], k: int = FOLDS) -> list[set[str]]:
    """``k`` disjoint sets of sources (of anything with a ``source``: images, labelled frames), about
    equal in size: the largest source goes to the emptiest fold first. ``k`` at or above the number
    of sources: leave one source out."""
    sizes: dict[str, int] = {}
    for o in observations:
        sizes[o.source] = sizes.get(o.source, 0) + 1
    if k >= len(sizes):
        return [{source} for source in sorted(sizes)]
    folds: list[set[str]] = [set() for _ in range(k)]
    load = [0] * k
    for source in sorted(sizes, key=lambda s: (-sizes[s], s)):
        emptiest = min(range(k), key=lambda i: (load[i], i))
        folds[emptiest].add(source)
        load[emptiest] += sizes[source]
    return folds


# -- what a rule decides, per image ----------------------------------------------------------


def _names(label: dict[str, Any]) -> set[str]:
    return {label["Name"], *(a["Name"] for a in label.get("Aliases", []))}


def object_score(o: Observation, key: str) -> float:
    """The highest confidence at which the class's label was found (0: not found)."""
    name = KINDS[key][1]
    return max((label["Confidence"] for label in o.probe if name in _names(label)), default=0.0)


def product_found(o: Observation, key: str, policy: Any) -> bool:
    """Whether the Objects of Interest check, as the product runs it, finds this class.

    Phones are on the default list (the check's verdict is taken as it is); laptop and book are
    judged by the same check on the same answer, with the class as the exam's list.
    """
    from proctoring import checks

    if o.failed:
        return False
    name = KINDS[key][1]
    if name in policy.objects_of_interest:
        return not o.checks[p.CHECK_OBJECTS][0]
    one = replace(policy, objects_of_interest=(name,), checks_enabled=(p.CHECK_OBJECTS,))
    outcome = checks.evaluate(o.analysis or {}, one, name_of=lambda _: None)
    return not outcome.results[0]["Success"]


def person_count(o: Observation, cutoff: float, policy: Any) -> int | None:
    """People counted by the product's Person Detection rule at instance confidence ``cutoff``."""
    from proctoring import checks

    if o.failed:
        return None
    at = replace(policy, min_confidence=cutoff, checks_enabled=(p.CHECK_PERSON_DETECTION,))
    analysis = {"Labels": o.probe, "FaceDetails": [], "FaceMatches": [], "ModerationLabels": []}
    return int(checks.evaluate(analysis, at, name_of=lambda _: None).results[0]["Details"])


def product_count(o: Observation, check: str) -> int | None:
    return None if o.failed else int(o.checks[check][1])


def face_count(o: Observation, cutoff: float) -> int | None:
    """Clear faces with the clear-face score cut at ``cutoff`` (the product's: faces.CLEAR_SCORE)."""
    if o.failed or o.face_probe is None:
        return None
    return sum(ok and score >= cutoff for score, ok in o.face_probe)


# -- per-fold choice rules -------------------------------------------------------------------


def choose_object_cutoff(train: Sequence[Observation], key: str, max_false: float) -> float:
    """The lowest confidence at which at most ``max_false`` of the training images without the
    class show it (the most recall the false-object target allows)."""
    negatives = [object_score(o, key) for o in train if key not in o.objects_truth and not o.failed]
    if not negatives:
        return 0.0
    return max(0.0, threshold_for(negatives, max_false))


def choose_person_cutoff(train: Sequence[Observation], policy: Any) -> float:
    """The instance confidence with the most exact person counts on ``train``; ties: the highest.

    The tie-break is the strictest cut, not the one nearest the product's: the product's 85 now
    sits at the cut this rule chose on every dev image, held-out folds included (``objects.
    CONFIDENCE_85``), so leaning towards it would let a held-out fold's images steer its own cut.
    (Under the earlier map 85 stood above every best cut, and the two tie-breaks chose alike.)
    """
    candidates = {policy.min_confidence, 0.0}
    for o in train:
        for label in o.probe:
            if label["Name"] == "Person":
                candidates |= {float(i["Confidence"]) for i in label.get("Instances", [])}
    candidates |= {c + 1e-4 for c in list(candidates)}  # just above each score too

    def exact(cutoff: float) -> int:
        return sum(person_count(o, cutoff, policy) == o.people_truth for o in train)

    return max(sorted(candidates), key=lambda c: (exact(c), c))


def choose_face_cutoff(train: Sequence[Observation]) -> float | None:
    """The clear-face score cut with the most exact face counts on ``train``; ties: nearest the product's."""
    from . import faces as face_ops

    usable = [o for o in train if o.face_probe is not None]
    if not usable:
        return None
    candidates = {face_ops.CLEAR_SCORE} | {score for o in usable for score, _ in (o.face_probe or ())}
    candidates |= {c + 1e-6 for c in list(candidates)}  # just above each score too

    def exact(cutoff: float) -> int:
        return sum(face_count(o, cutoff) == o.faces_truth for o in usable)

    return max(sorted(candidates), key=lambda c: (exact(c), -abs(c - face_ops.CLEAR_SCORE)))


@dataclass(frozen=True)
class Choice:
    """The constants chosen on some images: one fold's training images, or all of them."""

    sources: frozenset[str]
    object_cutoffs: dict[str, float]
    person_cutoff: float
    face_cutoff: float | None  # None: the backend's faces can't be probed; its own count stands


def choose(train: Sequence[Observation], test_sources: set[str], policy: Any, max_false: float) -> Choice:
    """Each of the target's classes gets an equal share of the false-object budget (the target is on
    their union); each screen kind gets the same share."""
    share = max_false / len(OBJECT_CLASSES)
    return Choice(
        frozenset(test_sources),
        {key: choose_object_cutoff(train, key, share) for key in KINDS},
        choose_person_cutoff(train, policy),
        choose_face_cutoff(train),
    )


# -- figures ---------------------------------------------------------------------------------

Rate = tuple[int, int]  # hits, total


@dataclass
class Figures:
    """One set of figures: fitted (the product's constants) or held out (chosen per fold)."""

    face_count: Rate = (0, 0)
    person_count: Rate = (0, 0)
    recall: dict[str, Rate] = field(default_factory=dict)  # every kind (KINDS)
    false_objects: Rate = (0, 0)  # images without any of the target's three where one is found
    false_by_kind: dict[str, Rate] = field(default_factory=dict)  # images without the kind where it is found
    clean_flagged: Rate = (0, 0)  # all enabled checks, on frames with a reference to verify against
    clean_flagged_detection: Rate = (0, 0)  # the four detection checks, on every clean frame
    flagged_by: dict[str, int] = field(default_factory=dict)
    # Clean frames on which each kind is found, watched or not: what listing it would add to the flags.
    clean_found: dict[str, int] = field(default_factory=dict)
    flagged: list[str] = field(default_factory=list)  # clean frames and the checks that failed on them
    unsafe: int = 0
    misses: list[str] = field(default_factory=list)
    # What a label at the cut stands for: per object class, images where it is found that show
    # it; "person": people counted that are there (sum of min(counted, truth) over counted).
    precision: dict[str, Rate] = field(default_factory=dict)

    @property
    def object_recall(self) -> Rate:
        """The target's three kinds, pooled (the screens have rows of their own)."""
        rates = [rate for key, rate in self.recall.items() if key in OBJECT_CLASSES]
        return (sum(r[0] for r in rates), sum(r[1] for r in rates))


def _add(rate: Rate, hit: bool) -> Rate:
    return (rate[0] + int(hit), rate[1] + 1)


Decider = Callable[[Observation], dict[str, Any]]


def product_decider(policy: Any) -> Decider:
    """The product's verdicts, as they came out of ``checks.evaluate``."""

    def decide(o: Observation) -> dict[str, Any]:
        return {
            "faces": product_count(o, p.CHECK_FACE_DETECTION),
            "people": product_count(o, p.CHECK_PERSON_DETECTION),
            "found": {key for key in KINDS if product_found(o, key, policy)},
        }

    return decide


def chosen_decider(choice_of: Callable[[Observation], Choice], policy: Any) -> Decider:
    """The verdicts under the constants chosen without the image's fold."""

    def decide(o: Observation) -> dict[str, Any]:
        choice = choice_of(o)
        return {
            "faces": product_count(o, p.CHECK_FACE_DETECTION) if choice.face_cutoff is None
            else face_count(o, choice.face_cutoff),
            "people": person_count(o, choice.person_cutoff, policy),
            "found": set() if o.failed else {
                key for key, cutoff in choice.object_cutoffs.items() if object_score(o, key) >= cutoff
            },
        }

    return decide


def figures(observations: Iterable[Observation], decide: Decider, policy: Any) -> Figures:
    """The figures (see the module doc) of ``decide``'s verdicts; failures count against each."""

    watched = {key for key, (_, name) in KINDS.items()
               if {name.lower()} & {n.lower() for n in policy.objects_of_interest}}
    f = Figures(recall={key: (0, 0) for key in KINDS}, false_by_kind={key: (0, 0) for key in KINDS},
                precision={key: (0, 0) for key in (*KINDS, "person")})
    for o in observations:
        v = decide(o)
        why = f"failed: {o.error}" if o.failed else ""
        for key in v["found"]:
            f.precision[key] = _add(f.precision[key], key in o.objects_truth)
        hits, counted = f.precision["person"]
        people = v["people"] or 0
        f.precision["person"] = (hits + min(people, o.people_truth), counted + people)
        if o.faces_truth > 0:
            f.face_count = _add(f.face_count, v["faces"] == o.faces_truth)
        f.person_count = _add(f.person_count, v["people"] == o.people_truth)
        for key in KINDS:
            if key in o.objects_truth:
                f.recall[key] = _add(f.recall[key], key in v["found"])
            else:
                f.false_by_kind[key] = _add(f.false_by_kind[key], o.failed or key in v["found"])
        if not o.objects_truth & OBJECT_CLASSES.keys():
            f.false_objects = _add(f.false_objects, o.failed or bool(v["found"] & OBJECT_CLASSES.keys()))
        if v["faces"] != o.faces_truth or v["people"] != o.people_truth or v["found"] != set(o.objects_truth):
            f.misses.append(f"{o.file}: faces {v['faces']}/{o.faces_truth} people {v['people']}/"
                            f"{o.people_truth} objects {sorted(v['found'])}/{sorted(o.objects_truth)} {why}")
        unsafe = not o.failed and p.CHECK_UNSAFE in o.checks and not o.checks[p.CHECK_UNSAFE][0]
        f.unsafe += unsafe
        if not o.clean:
            continue
        for key in v["found"]:
            f.clean_found[key] = f.clean_found.get(key, 0) + 1
        failing = {
            p.CHECK_OBJECTS: bool(v["found"] & watched),
            p.CHECK_PERSON_DETECTION: v["people"] != 1,
            p.CHECK_FACE_DETECTION: v["faces"] != 1,
            p.CHECK_UNSAFE: unsafe,
        }
        failing = {name: bad for name, bad in failing.items() if name in policy.checks_enabled}
        detection = o.failed or any(failing.values())
        f.clean_flagged_detection = _add(f.clean_flagged_detection, detection)
        if o.recognition_judged or o.failed:
            recognised = not o.failed and o.checks.get(p.CHECK_PERSON_RECOGNITION, (True, ""))[0]
            f.clean_flagged = _add(f.clean_flagged, detection or not recognised)
            failing[p.CHECK_PERSON_RECOGNITION] = not recognised
        for name, bad in failing.items():
            f.flagged_by[name] = f.flagged_by.get(name, 0) + bad
        if o.failed or any(failing.values()):
            reason = ((o.analysis or {}).get("Verification") or {}).get("Reason")
            names = [f"{n} ({reason})" if n == p.CHECK_PERSON_RECOGNITION and reason else n
                     for n, bad in failing.items() if bad]
            f.flagged.append(f"{o.file}: {', '.join(names) or why}")
        f.flagged_by["failed to analyse"] = f.flagged_by.get("failed to analyse", 0) + o.failed
    return f


def measure(observations: Sequence[Observation], policy: Any, k: int = FOLDS) -> dict[str, Any]:
    """Three columns: the product as shipped (its constants were tuned on these images), the
    choice rules fitted on all images (in-sample), and the rules held out (chosen per fold)."""
    from . import faces as face_ops

    folds = source_folds(observations, k)
    max_false = TARGETS["false_objects"].at_most or 0.0
    choices = []
    for fold in folds:
        train = [o for o in observations if o.source not in fold]
        choices.append(choose(train, fold, policy, max_false))
    everything = choose(observations, {o.source for o in observations}, policy, max_false)

    def choice_of(o: Observation) -> Choice:
        return next(c for c in choices if o.source in c.sources)

    probed = [o for o in observations if o.face_probe is not None]
    # Kept with the figures so a subset of the images (a condition, in the model card) is judged
    # by the very same verdicts, each image by its own fold's cut.
    deciders = {"product": product_decider(policy), "fitted": chosen_decider(lambda o: everything, policy),
                "held_out": chosen_decider(choice_of, policy)}
    return {
        "images": len(observations),
        "failed": [f"{o.file}: {o.error}" for o in observations if o.failed],
        "clean_frames": [o.file for o in observations if o.clean],
        "unregistrable": sum(o.clean and o.unregistrable for o in observations),
        "folds": choices,
        "fitted_choice": everything,
        "leave_one_source_out": k >= len({o.source for o in observations}),
        # The probe must reproduce the product: its count at the product's cut is the product's count.
        "face_probe_agrees": (
            sum(face_count(o, face_ops.CLEAR_SCORE) == product_count(o, p.CHECK_FACE_DETECTION) for o in probed),
            len(probed),
        ),
        "person_probe_agrees": (
            sum(person_count(o, policy.min_confidence, policy) == product_count(o, p.CHECK_PERSON_DETECTION)
                for o in observations if not o.failed),
            sum(not o.failed for o in observations),
        ),
        **{name: figures(observations, decide, policy) for name, decide in deciders.items()},
        "deciders": deciders,
        "observations": list(observations),
        "policy": policy,
    }


# -- the table -------------------------------------------------------------------------------


def rate_text(rate: Rate) -> str:
    hits, total = rate
    return f"{100.0 * hits / total:5.1f}% ({hits}/{total})" if total else "n/a"


def gap_text(rate: Rate, target: Target) -> str:
    hits, total = rate
    if not total:
        return "n/a"
    value = hits / total
    if target.at_least is not None:
        short = target.at_least - value
        return "meets" if short <= 1e-12 else f"-{100 * short:.1f} pts"
    over = value - (target.at_most or 0.0)
    return "meets" if over <= 1e-12 else f"+{100 * over:.1f} pts"


def _bound(rate: Rate, target: Target) -> str:
    """The 95% one-sided bound on the side the target is on (Clopper-Pearson)."""
    hits, total = rate
    if not total:
        return "n/a"
    if target.at_least is not None:
        return f">= {100 * (1 - upper_bound(total - hits, total)):.0f}%"
    return f"<= {100 * upper_bound(hits, total):.0f}%"


def _choice_text(choice: Choice) -> str:
    cuts = ", ".join(
        f"{key} {cut:.1f} (raw {objects.raw_score(cut, coco):.3f})" if (coco := COCO_OF[KINDS[key][1]])
        else f"{key} {cut:.1f} (no COCO class)"
        for key, cut in choice.object_cutoffs.items()
    )
    face = "product's" if choice.face_cutoff is None else f"{choice.face_cutoff:.3f}"
    person = f"person {choice.person_cutoff:.1f} (raw {objects.raw_score(choice.person_cutoff, 'person'):.3f})"
    return f"{cuts}; {person}; clear-face score {face}"


def format_measurement(m: dict[str, Any], details: bool = True) -> str:
    product, fit, held = m["product"], m["fitted"], m["held_out"]
    policy = m["policy"]
    scheme = "leave one source out" if m["leave_one_source_out"] else f"{len(m['folds'])} folds by source"
    columns = ("figure", "product (fitted on dev)", "rules, fitted on dev", "rules, held out", "target",
               "gap: product | held out", "held out 95%")
    widths = (40, 24, 22, 22, 7, 24, 12)
    header = " ".join(f"{c:{w}s}" for c, w in zip(columns, widths, strict=True))
    agree, probed = m["face_probe_agrees"]
    lines = [
        "Detection at the product's default policy (checks.Policy()): MinConfidence "
        f"{policy.min_confidence:g}, FaceMatchThreshold {policy.face_match_threshold:g}, objects of interest "
        f"{', '.join(policy.objects_of_interest)}; engine.analyze then checks.evaluate, as services.analyze_image.",
        f"{m['images']} images, {len(m['failed'])} failed to decode or analyse (each counts as a miss)"
        + (f": {m['failed']}" if m["failed"] else "") + f"; held out = {scheme}, no source in two folds.",
        header,
        "-" * len(header),
    ]

    def row(name: str, key: str, a: Rate, b: Rate, c: Rate) -> None:
        target = TARGETS[key]
        cells = (name, rate_text(a), rate_text(b), rate_text(c), target.text(),
                 f"{gap_text(a, target)} | {gap_text(c, target)}", _bound(c, target))
        lines.append(" ".join(f"{v:{w}s}" for v, w in zip(cells, widths, strict=True)).rstrip())

    def fig(attr: str) -> tuple[Rate, Rate, Rate]:
        return getattr(product, attr), getattr(fit, attr), getattr(held, attr)

    row("face count exact (clear-face images)", "face_count", *fig("face_count"))
    row("person count exact", "person_count", *fig("person_count"))
    for key in OBJECT_CLASSES:
        row(f"{key} recall", "object_recall", product.recall[key], fit.recall[key], held.recall[key])
    row("phone/laptop/book/notes recall, pooled", "object_recall", *fig("object_recall"))
    row("false objects (images without any)", "false_objects", *fig("false_objects"))
    for key in KINDS:
        row(f"  false {key} (images without it)", "false_objects", product.false_by_kind[key],
            fit.false_by_kind[key], held.false_by_kind[key])
    for key in SCREEN_CLASSES:
        row(f"{key} recall ({KINDS[key][1]})", "object_recall", product.recall[key], fit.recall[key],
            held.recall[key])
    row("clean webcam frames flagged, 5 checks", "clean_flagged", *fig("clean_flagged"))
    row("  ... by the 4 detection checks", "clean_flagged", *fig("clean_flagged_detection"))
    unsafe = TARGETS["unsafe"]
    cells = ("unsafe-content false positives", str(product.unsafe), f"{fit.unsafe} (product's)",
             f"{held.unsafe} (product's)", unsafe.text(),
             "meets" if product.unsafe <= (unsafe.count_at_most or 0) else "MISSED", "")
    lines.append(" ".join(f"{v:{w}s}" for v, w in zip(cells, widths, strict=True)).rstrip())
    lines += [
        "rules: constants chosen by a stated rule, on all dev images (fitted) or on the other folds (held out):",
        "  object class: the lowest label confidence at which at most 5%/3 of the training images without",
        "  the class show it; person: the Person instance confidence with the most exact counts (ties: the",
        "  highest); clear face: the YuNet score cut (faces.CLEAR_SCORE) with the most exact face counts (ties:",
        "  nearest the product's).",
        "  Not re-fitted (tuned on these images, fitted figures only): faces.CLEAR_RELATIVE_HEIGHT,",
        "  CLEAR_MIN_PIXELS, PERSON_FACE_SCORE, the unsafe-content threshold, the verification threshold.",
        f"  the probes reproduce the product's counts at its own constants: faces on {agree}/{probed} images,"
        f" people on {'/'.join(map(str, m['person_probe_agrees']))}.",
        "laptop, book/notes and the screens: the Objects check with the class's label as the exam's list"
        f" (the default lists {', '.join(policy.objects_of_interest)}).",
        "screens: monitor/tv is the label Monitor (COCO tvmonitor, NanoDet and YOLO); tablet is Tablet Computer, which",
        "  COCO and so the local engine lack (a tablet is found only as a phone, laptop or monitor, never by name).",
        "clean frames flagged, by check (product | fitted | held out): " + ", ".join(
            f"{name} {product.flagged_by.get(name, 0)} | {fit.flagged_by.get(name, 0)} | {held.flagged_by.get(name, 0)}"
            for name in sorted(product.flagged_by)
        ),
        "clean frames on which each kind is found, watched or not (what listing it adds to the 4 checks' flags;"
        " product | fitted | held out): " + ", ".join(
            f"{key} {product.clean_found.get(key, 0)} | {fit.clean_found.get(key, 0)} | {held.clean_found.get(key, 0)}"
            for key in KINDS
        ),
        f"clean frames: {len(m['clean_frames'])} webcam-like frames (G photos, webcam clip frames) of 1 person with"
        " 1 clear face and no objects, outside category F, alone and facing the camera (repository labels);",
        f"  5 checks on the {product.clean_flagged[1]} whose student has another capture registered as registration"
        f" does (MEDIUM); {m['unregistrable']} more whose other photos registration refused are left out.",
        "precision at the policy's cut (images where the class is found that show it; person: people counted that",
        "  are there), product | fitted | held out: " + "; ".join(
            f"{key} {rate_text(product.precision[key]).strip()} | {rate_text(fit.precision[key]).strip()} | "
            f"{rate_text(held.precision[key]).strip()}" for key in product.precision
        ),
        "raw = the YOLO-scale score a cutoff stands for under objects.calibrated, which puts each measured class's",
        "  objects.CONFIDENCE_85 at 85: a fitted cutoff at 85.0 means the product's constant is the rule's choice.",
        f"  fitted on all:  {_choice_text(m['fitted_choice'])}",
    ]
    for n, choice in enumerate(m["folds"], 1):
        lines.append(f"  fold {n}: {_choice_text(choice)}")
        lines.append(f"          held out: {'; '.join(sorted(choice.sources))}")
    if details:
        for title, figs in (("product", product), ("rules held out", held)):
            lines += [f"misses ({title}):"] + [f"  {miss}" for miss in figs.misses]
            lines += [f"clean frames flagged ({title}):"] + [f"  {flag}" for flag in figs.flagged]
    return "\n".join(lines)
