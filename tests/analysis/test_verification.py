"""CompareFaces and 1:1 verification on the local engine: Rekognition's shapes, one person's faces only."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from botocore.exceptions import ClientError
from PIL import Image

from proctoring.analysis import verification
from proctoring.analysis.local import LocalEngine
from tests.analysis.conftest import fixture_bytes
from tests.analysis.rekognition_shapes import validate_analyze, validate_output

SIGNER1_A = {"Bytes": fixture_bytes("signer1_a.jpg")}
SIGNER1_B = {"Bytes": fixture_bytes("signer1_b.jpg")}
SIGNER2 = {"Bytes": fixture_bytes("signer2_a.jpg")}
EMPTY_ROOM = {"Bytes": fixture_bytes("empty_room.jpg")}


def two_signers() -> dict:
    images = [Image.open(io.BytesIO(fixture_bytes(name))).convert("RGB") for name in ("signer1_a.jpg", "signer2_a.jpg")]
    canvas = Image.new("RGB", (sum(i.width for i in images), max(i.height for i in images)))
    canvas.paste(images[0], (0, 0))
    canvas.paste(images[1], (images[0].width, 0))
    out = io.BytesIO()
    canvas.save(out, format="JPEG", quality=90)
    return {"Bytes": out.getvalue()}


def index(engine: LocalEngine, collection_id: str, image: dict, external_id: str) -> str:
    indexed = engine.index_faces(CollectionId=collection_id, Image=image, ExternalImageId=external_id, MaxFaces=1)
    return str(indexed["FaceRecords"][0]["Face"]["FaceId"])


def test_it_compares_faces_with_rekognitions_shape(engine: LocalEngine) -> None:
    same = engine.compare_faces(SourceImage=SIGNER1_B, TargetImage=SIGNER1_A)
    validate_output("CompareFaces", same)
    assert len(same["FaceMatches"]) == 1 and same["UnmatchedFaces"] == []
    assert same["FaceMatches"][0]["Similarity"] >= 90
    assert set(same["FaceMatches"][0]["Face"]) == {"BoundingBox", "Confidence", "Landmarks", "Pose", "Quality"}
    assert set(same["SourceImageFace"]) == {"BoundingBox", "Confidence"}

    other = engine.compare_faces(SourceImage=SIGNER2, TargetImage=SIGNER1_A, SimilarityThreshold=90)
    validate_output("CompareFaces", other)
    assert other["FaceMatches"] == [] and len(other["UnmatchedFaces"]) == 1


def test_it_compares_the_sources_largest_face_with_every_target_face(engine: LocalEngine) -> None:
    response = engine.compare_faces(SourceImage=SIGNER1_B, TargetImage=two_signers(), SimilarityThreshold=90)
    validate_output("CompareFaces", response)
    assert len(response["FaceMatches"]) == 1 and len(response["UnmatchedFaces"]) == 1
    assert response["FaceMatches"][0]["Face"]["BoundingBox"]["Left"] < 0.5  # signer 1 is on the left


def test_it_refuses_a_comparison_without_a_face_or_with_bad_arguments(engine: LocalEngine) -> None:
    for call in (
        lambda: engine.compare_faces(SourceImage=EMPTY_ROOM, TargetImage=SIGNER1_A),
        lambda: engine.compare_faces(SourceImage=SIGNER1_A, TargetImage=EMPTY_ROOM),
        lambda: engine.compare_faces(SourceImage=SIGNER1_A, TargetImage=SIGNER1_B, SimilarityThreshold=-1),
        lambda: engine.compare_faces(SourceImage=SIGNER1_A, TargetImage=SIGNER1_B, QualityFilter="BEST"),
        lambda: engine.compare_faces(SourceImage=SIGNER1_A),  # type: ignore[call-arg]
    ):
        with pytest.raises((ClientError, TypeError)) as error:
            call()
        if isinstance(error.value, ClientError):
            assert error.value.response["Error"]["Code"] == "InvalidParameterException"


def test_it_verifies_a_frame_against_one_persons_references_only(
    engine: LocalEngine, collection: Callable[[str], str]
) -> None:
    collection_id = collection("verify")
    own = index(engine, collection_id, SIGNER1_A, "signer1")
    other = index(engine, collection_id, SIGNER2, "signer2")

    passed = engine.analyze(Image=SIGNER1_B, CollectionId=collection_id, References=[{"FaceId": own}])
    validate_analyze(passed)
    assert passed["Verification"]["Passed"] is True and passed["Verification"]["Reason"] == "match"
    assert passed["Verification"]["FaceId"] == own and passed["Verification"]["Similarity"] >= 90
    assert [m["Face"]["FaceId"] for m in passed["FaceMatches"]] == [own]

    # signer 2 is in the collection, but the frame is compared with signer 1's face only.
    failed = engine.analyze(Image=SIGNER2, CollectionId=collection_id, References=[{"FaceId": own}])
    validate_analyze(failed)
    assert failed["Verification"] == {"Passed": False, "Reason": "not_matching", "FaceId": own,
                                      "Similarity": failed["Verification"]["Similarity"]}
    assert failed["Verification"]["Similarity"] < 90 and failed["FaceMatches"] == []
    assert other not in str(failed)


def test_it_verifies_against_the_persons_own_copy_when_another_record_holds_the_same_face(
    engine: LocalEngine, collection: Callable[[str], str]
) -> None:
    collection_id = collection("duplicate")
    impostor_record = index(engine, collection_id, SIGNER1_A, "someone-else")  # registered first
    own = index(engine, collection_id, SIGNER1_A, "student")
    response = engine.analyze(Image=SIGNER1_B, CollectionId=collection_id, References=[{"FaceId": own}])
    assert response["Verification"]["Passed"] is True and response["Verification"]["FaceId"] == own
    assert impostor_record not in str(response)


def test_it_answers_the_reason_a_frame_cannot_be_verified(
    engine: LocalEngine, collection: Callable[[str], str]
) -> None:
    collection_id = collection("reasons")
    own = [{"FaceId": index(engine, collection_id, SIGNER1_A, "signer1")}]
    cases = {
        "no_reference": (SIGNER1_B, []),
        "no_face": (EMPTY_ROOM, own),
        "several_faces": (two_signers(), own),
    }
    for reason, (image, references) in cases.items():
        response = engine.analyze(Image=image, CollectionId=collection_id, References=references)
        validate_analyze(response)
        assert response["Verification"]["Reason"] == reason and response["Verification"]["Passed"] is False


def test_it_uses_every_reference_and_ignores_unknown_face_ids(
    engine: LocalEngine, collection: Callable[[str], str]
) -> None:
    collection_id = collection("several")
    references = [{"FaceId": index(engine, collection_id, SIGNER2, "a")},
                  {"FaceId": index(engine, collection_id, SIGNER1_A, "b")},
                  {"FaceId": "11111111-2222-4333-8444-555555555555"}]
    response = engine.analyze(Image=SIGNER1_B, CollectionId=collection_id, References=references)
    assert response["Verification"]["FaceId"] == references[1]["FaceId"] and response["Verification"]["Passed"]


def test_it_refuses_references_that_are_not_face_ids_of_a_collection(
    engine: LocalEngine, collection: Callable[[str], str]
) -> None:
    collection_id = collection("bad-references")
    for call in (
        lambda: engine.analyze(Image=SIGNER1_B, CollectionId=collection_id, References=[{"FaceId": 5}]),
        lambda: engine.analyze(Image=SIGNER1_B, CollectionId=collection_id, References=["face"]),
        lambda: engine.analyze(Image=SIGNER1_B, References=[{"FaceId": "11111111-2222-4333-8444-555555555555"}]),
        lambda: engine.analyze(Image=SIGNER1_B, CollectionId=collection_id,
                               References=[{"FaceId": "11111111-2222-4333-8444-555555555555", "Image": {"Bytes": 5}}]),
    ):
        with pytest.raises(ClientError) as error:
            call()
        assert error.value.response["Error"]["Code"] == "InvalidParameterException"


FRONTAL = {"BoundingBox": {"Width": 0.3, "Height": 0.4, "Left": 0.3, "Top": 0.2},
           "Pose": {"Roll": 0.0, "Yaw": 3.0, "Pitch": 2.0}, "Quality": {"Brightness": 50.0, "Sharpness": 90.0},
           "Confidence": 99.0}


@pytest.mark.parametrize(("change", "reason"), [
    ({}, "not_matching"),
    ({"Quality": {"Brightness": 10.0, "Sharpness": 90.0}}, "too_dark"),
    ({"Quality": {"Brightness": 25.0, "Sharpness": 8.0}}, "too_dark"),  # dim light flattens sharpness too
    ({"BoundingBox": {"Width": 0.05, "Height": 0.08, "Left": 0.3, "Top": 0.2}}, "too_far"),
    ({"Pose": {"Roll": 0.0, "Yaw": 50.0, "Pitch": 2.0}}, "turned_away"),
    ({"Pose": {"Roll": 0.0, "Yaw": 0.0, "Pitch": -40.0}}, "turned_away"),
    ({"Quality": {"Brightness": 50.0, "Sharpness": 10.0}}, "blurred"),
])
def test_it_calls_only_a_clear_frontal_well_lit_face_not_matching(change: dict, reason: str) -> None:
    face = {**FRONTAL, **change}
    answer = verification.verdict(face_details=[face], best=(40.0, "f"), threshold=90, references=1)
    assert answer == {"Passed": False, "Reason": reason, "Similarity": 40.0, "FaceId": "f"}
    # A face that matches passes whatever its quality.
    assert verification.verdict(face_details=[face], best=(95.0, "f"), threshold=90, references=1)["Passed"]
