"""The local engine answers Rekognition's operations with Rekognition's shapes."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import numpy as np
import pytest
from botocore.exceptions import ClientError
from PIL import Image, ImageFilter

from proctoring.analysis import faces
from proctoring.analysis.local import LocalEngine
from tests.analysis.conftest import encode, fixture_bytes, fixture_image
from tests.analysis.rekognition_shapes import validate_analyze, validate_output

SIGNER1_A = {"Bytes": fixture_bytes("signer1_a.jpg")}
SIGNER1_B = {"Bytes": fixture_bytes("signer1_b.jpg")}
SIGNER2 = {"Bytes": fixture_bytes("signer2_a.jpg")}
HOPPER = {"Bytes": fixture_bytes("grace_hopper.jpg")}
DESK = {"Bytes": fixture_bytes("desk_laptop.jpg")}
EMPTY_ROOM = {"Bytes": fixture_bytes("empty_room.jpg")}


def names(response: dict) -> set[str]:
    return {label["Name"] for label in response["Labels"]}


def test_it_finds_one_face_with_landmarks_pose_and_quality(engine: LocalEngine) -> None:
    response = engine.detect_faces(Image=SIGNER1_A, Attributes=["DEFAULT"])
    validate_output("DetectFaces", response)
    (face,) = response["FaceDetails"]
    assert [lm["Type"] for lm in face["Landmarks"]] == ["eyeLeft", "eyeRight", "nose", "mouthLeft", "mouthRight"]
    assert face["Confidence"] > 84
    assert abs(face["Pose"]["Yaw"]) < 25 and abs(face["Pose"]["Roll"]) < 15
    box = face["BoundingBox"]
    eye_left = face["Landmarks"][0]
    assert box["Left"] < eye_left["X"] < box["Left"] + box["Width"]


@pytest.mark.parametrize(("fixture", "yaw_sign"),
                         [("headpose_woman_her_right.jpg", -1), ("headpose_woman_her_left.jpg", 1)])
def test_it_gives_a_turned_head_its_yaw_and_pitch_in_rekognitions_shape(
        engine: LocalEngine, fixture: str, yaw_sign: int) -> None:
    response = engine.detect_faces(Image={"Bytes": fixture_bytes(fixture)}, Attributes=["DEFAULT"])
    validate_output("DetectFaces", response)  # Pose: Roll, Yaw, Pitch, each in [-180, 180]
    pose = response["FaceDetails"][0]["Pose"]
    assert set(pose) == {"Roll", "Yaw", "Pitch"} and yaw_sign * pose["Yaw"] > 20  # Yaw > 0: nose to image-right


def test_it_counts_a_close_up_face_it_is_least_sure_of_at_full_size(engine: LocalEngine) -> None:
    # A selfie-close face, 560 px tall: YuNet scores it 0.76 at that size (under faces.CLEAR_SCORE)
    # and over 0.9 once re-scored on a crop scaled to faces.RESCORE_HEIGHT.
    image = fixture_image("headpose_woman_front2.jpg")
    (face,) = faces.detect(np.asarray(image)[:, :, ::-1].copy())
    x, y, w, h = face.box
    side = 1.4 * h
    crop = image.crop((round(x + w / 2 - side / 2), round(y + h / 2 - side / 2),
                       round(x + w / 2 + side / 2), round(y + h / 2 + side / 2)))
    close_up = crop.resize((round(crop.width * 560 / h), round(crop.height * 560 / h)), Image.Resampling.BICUBIC)
    response = engine.detect_faces(Image={"Bytes": encode(close_up)})
    (detail,) = response["FaceDetails"]
    assert detail["Confidence"] > faces.CLEAR_SCORE * 100


def test_it_finds_no_face_in_an_empty_room(engine: LocalEngine) -> None:
    response = engine.detect_faces(Image=EMPTY_ROOM)
    validate_output("DetectFaces", response)
    assert response["FaceDetails"] == []


def test_it_labels_a_person_with_an_instance(engine: LocalEngine) -> None:
    response = engine.detect_labels(Image=SIGNER1_A)
    validate_output("DetectLabels", response)
    (person,) = [label for label in response["Labels"] if label["Name"] == "Person"]
    assert len(person["Instances"]) == 1


def test_it_labels_a_laptop_with_rekognition_parents(engine: LocalEngine) -> None:
    response = engine.detect_labels(Image=DESK, MinConfidence=55)
    validate_output("DetectLabels", response)
    laptop = next(label for label in response["Labels"] if label["Name"] == "Laptop")
    assert {"Name": "Computer"} in laptop["Parents"] and laptop["Instances"]
    assert "Computer" in names(response)  # parents are labels of their own, as in Rekognition
    assert "Person" not in names(response)


def test_it_respects_min_confidence_and_max_labels(engine: LocalEngine) -> None:
    everything = engine.detect_labels(Image=DESK, MinConfidence=0)
    assert all(label["Confidence"] >= 0 for label in everything["Labels"])
    strict = engine.detect_labels(Image=DESK, MinConfidence=99.9)
    assert strict["Labels"] == []
    two = engine.detect_labels(Image=DESK, MinConfidence=0, MaxLabels=2)
    assert len(two["Labels"]) == 2


def test_it_reports_no_unsafe_content_in_a_classroom_photo(engine: LocalEngine) -> None:
    response = engine.detect_moderation_labels(Image=HOPPER)
    validate_output("DetectModerationLabels", response)
    assert response["ModerationLabels"] == []
    scored = engine.detect_moderation_labels(Image=HOPPER, MinConfidence=0)
    (label,) = scored["ModerationLabels"]
    assert label["Name"] == "Explicit Nudity" and label["Confidence"] < 50


def test_it_matches_the_same_person_and_not_another(
    engine: LocalEngine, collection: Callable[[str], str]
) -> None:
    collection_id = collection("roundtrip")
    indexed = engine.index_faces(
        CollectionId=collection_id, Image=SIGNER1_A, ExternalImageId="signer1", MaxFaces=1,
        QualityFilter="AUTO", DetectionAttributes=["DEFAULT"],
    )
    validate_output("IndexFaces", indexed)
    (record,) = indexed["FaceRecords"]
    assert uuid.UUID(record["Face"]["FaceId"]).version == 4
    assert uuid.UUID(record["Face"]["ImageId"]).version == 4
    engine.index_faces(CollectionId=collection_id, Image=HOPPER, ExternalImageId="hopper")

    same = engine.search_faces_by_image(CollectionId=collection_id, Image=SIGNER1_B, FaceMatchThreshold=90)
    validate_output("SearchFacesByImage", same)
    assert [m["Face"]["ExternalImageId"] for m in same["FaceMatches"]] == ["signer1"]
    assert same["FaceMatches"][0]["Similarity"] >= 90

    other = engine.search_faces_by_image(CollectionId=collection_id, Image=SIGNER2, FaceMatchThreshold=90)
    assert other["FaceMatches"] == []
    scored = engine.search_faces_by_image(CollectionId=collection_id, Image=SIGNER2, FaceMatchThreshold=0)
    assert all(m["Similarity"] < 90 for m in scored["FaceMatches"])


def test_it_analyzes_everything_from_one_call(engine: LocalEngine, collection: Callable[[str], str]) -> None:
    collection_id = collection("analyze")
    engine.index_faces(CollectionId=collection_id, Image=SIGNER1_A, ExternalImageId="signer1")
    response = engine.analyze(Image=SIGNER1_B, CollectionId=collection_id)
    validate_analyze(response)
    assert len(response["FaceDetails"]) == 1
    assert "Person" in names(response)
    assert response["FaceMatches"][0]["Face"]["ExternalImageId"] == "signer1"
    assert response["ModerationLabels"] == []


def test_it_analyzes_without_a_collection_or_a_face(engine: LocalEngine) -> None:
    response = engine.analyze(Image=DESK)
    validate_analyze(response)
    assert response["FaceDetails"] == [] and response["FaceMatches"] == []
    assert "Laptop" in names(response)


def test_it_leaves_unsafe_content_out_when_asked(engine: LocalEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    from proctoring.analysis import moderation

    runs: list[int] = []
    model = moderation.unsafe_probability

    def counted(bgr: np.ndarray) -> float:
        runs.append(1)
        return model(bgr)

    monkeypatch.setattr(moderation, "unsafe_probability", counted)
    whole = engine.analyze(Image=DESK)
    assert len(runs) == 1
    without = engine.analyze(Image=DESK, Moderation=False)
    assert len(runs) == 1  # open_nsfw did not run
    assert "ModerationLabels" not in without
    assert without == {key: value for key, value in whole.items() if key != "ModerationLabels"}
    with pytest.raises(ClientError) as error:
        engine.analyze(Image=DESK, Moderation="no")
    assert error.value.response["Error"]["Code"] == "InvalidParameterException"


def test_it_answers_no_faces_in_the_image_when_searching_an_empty_room(
    engine: LocalEngine, collection: Callable[[str], str]
) -> None:
    with pytest.raises(ClientError) as error:
        engine.search_faces_by_image(CollectionId=collection("empty"), Image=EMPTY_ROOM)
    assert error.value.response["Error"]["Code"] == "InvalidParameterException"
    assert error.value.operation_name == "SearchFacesByImage"


def test_it_lists_pages_and_deletes_faces(engine: LocalEngine, collection: Callable[[str], str]) -> None:
    collection_id = collection("pages")
    for image in (SIGNER1_A, SIGNER1_B, SIGNER2):
        engine.index_faces(CollectionId=collection_id, Image=image)
    first = engine.list_faces(CollectionId=collection_id, MaxResults=2)
    validate_output("ListFaces", first)
    second = engine.list_faces(CollectionId=collection_id, MaxResults=2, NextToken=first["NextToken"])
    assert "NextToken" not in second
    ids = [f["FaceId"] for f in first["Faces"] + second["Faces"]]
    assert len(set(ids)) == 3

    deleted = engine.delete_faces(CollectionId=collection_id, FaceIds=[ids[0], str(uuid.uuid4())])
    validate_output("DeleteFaces", deleted)
    assert deleted["DeletedFaces"] == [ids[0]]
    assert len(engine.list_faces(CollectionId=collection_id)["Faces"]) == 2


def test_it_keeps_the_largest_faces_up_to_max_faces(engine: LocalEngine, collection: Callable[[str], str]) -> None:
    signer, hopper = fixture_image("signer1_a.jpg"), fixture_image("grace_hopper.jpg")
    both = Image.new("RGB", (signer.width + hopper.width, max(signer.height, hopper.height)), "white")
    both.paste(signer, (0, 0))
    both.paste(hopper, (signer.width, 0))
    response = engine.index_faces(CollectionId=collection("max"), Image={"Bytes": encode(both)}, MaxFaces=1)
    validate_output("IndexFaces", response)
    (kept,) = response["FaceRecords"]
    assert kept["Face"]["BoundingBox"]["Left"] > 0.5  # Grace Hopper's face, the larger one
    assert [u["Reasons"] for u in response["UnindexedFaces"]] == [["EXCEEDS_MAX_FACES"]]


def test_it_refuses_blurred_faces_under_a_high_quality_filter(
    engine: LocalEngine, collection: Callable[[str], str]
) -> None:
    blurred = fixture_image("signer1_a.jpg").filter(ImageFilter.GaussianBlur(3))
    collection_id = collection("blur")
    strict = engine.index_faces(CollectionId=collection_id, Image={"Bytes": encode(blurred)}, QualityFilter="HIGH")
    validate_output("IndexFaces", strict)
    assert strict["FaceRecords"] == []
    assert strict["UnindexedFaces"]
    assert all("LOW_SHARPNESS" in u["Reasons"] for u in strict["UnindexedFaces"])
    loose = engine.index_faces(CollectionId=collection_id, Image={"Bytes": encode(blurred)}, QualityFilter="NONE")
    assert loose["FaceRecords"] and loose["UnindexedFaces"] == []


def test_it_names_rekognition_reasons_for_unindexed_faces() -> None:
    from proctoring.analysis.imaging import decode
    from proctoring.analysis.local import quality

    frame = decode(SIGNER1_A, "IndexFaces")
    (face,) = faces.detect(frame.bgr)
    detail = faces.face_detail(face, frame.bgr)
    tiny = quality.QualityBar(1000, 101, 0, 0, 0, 0.99)
    reasons = quality.quality_reasons(face, detail, frame, tiny)
    assert set(reasons) == {"LOW_CONFIDENCE", "SMALL_BOUNDING_BOX", "LOW_SHARPNESS", "EXTREME_POSE"}


def test_it_refuses_duplicate_and_missing_collections(engine: LocalEngine, collection: Callable[[str], str]) -> None:
    collection_id = collection("dupe")
    with pytest.raises(ClientError) as duplicate:
        engine.create_collection(CollectionId=collection_id)
    assert duplicate.value.response["Error"]["Code"] == "ResourceAlreadyExistsException"
    for call in (
        lambda: engine.delete_collection(CollectionId="no-such-collection"),
        lambda: engine.list_faces(CollectionId="no-such-collection"),
        lambda: engine.index_faces(CollectionId="no-such-collection", Image=SIGNER1_A),
        lambda: engine.search_faces_by_image(CollectionId="no-such-collection", Image=SIGNER1_A),
        lambda: engine.delete_faces(CollectionId="no-such-collection", FaceIds=[str(uuid.uuid4())]),
        lambda: engine.analyze(Image=SIGNER1_A, CollectionId="no-such-collection"),
    ):
        with pytest.raises(ClientError) as missing:
            call()
        assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_it_validates_parameters_as_the_real_client_does(engine: LocalEngine) -> None:
    for call in (
        lambda: engine.detect_labels(Image=DESK, MaxLabels="ten"),
        lambda: engine.detect_labels(Image=DESK, MinConfidence="high"),
        lambda: engine.create_collection(CollectionId=""),
        lambda: engine.index_faces(CollectionId="x", Image=SIGNER1_A, QualityFilter="BEST"),
        lambda: engine.list_faces(CollectionId="x", MaxResults=-1),
    ):
        with pytest.raises(ClientError) as error:
            call()
        assert error.value.response["Error"]["Code"] == "InvalidParameterException", error.value


def test_it_analyzes_the_same_when_passes_run_in_sequence(
    engine: LocalEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from proctoring.analysis.local import combined

    monkeypatch.setattr(combined, "thread_count", lambda: 1024)  # models would use every core
    sequential = LocalEngine(store=engine.store)
    assert isinstance(sequential._pool, combined.InlineExecutor)
    expected = engine.analyze(Image=DESK)
    assert sequential.analyze(Image=DESK) == expected


def test_it_works_in_a_forked_worker(engine: LocalEngine) -> None:
    import multiprocessing

    global _FORKED_ENGINE
    engine.analyze(Image=DESK)  # the parent's helper threads exist now
    _FORKED_ENGINE = engine  # inherited by the forked child, not pickled
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.apply_async(_count_faces).get(timeout=30) == 1


_FORKED_ENGINE: LocalEngine | None = None


def _count_faces() -> int:
    assert _FORKED_ENGINE is not None
    return len(_FORKED_ENGINE.analyze(Image=SIGNER1_A)["FaceDetails"])
