"""The Rekognition backend passes calls through to boto3; Stubber stands at the network edge."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from proctoring.analysis.rekognition import RekognitionBackend, default_client
from tests.analysis.rekognition_shapes import validate_analyze, validate_output

IMAGE = {"Bytes": b"\xff\xd8\xff\xe0 jpeg bytes"}
BOX = {"Width": 0.2, "Height": 0.3, "Left": 0.4, "Top": 0.1}
FACE_ID = "11111111-2222-4333-8444-555555555555"
IMAGE_ID = "66666666-7777-4888-9999-000000000000"

LABELS = {
    "Labels": [
        {"Name": "Person", "Confidence": 99.1, "Instances": [{"BoundingBox": BOX, "Confidence": 99.1}],
         "Parents": [], "Aliases": [{"Name": "Human"}], "Categories": [{"Name": "Person Description"}]},
        {"Name": "Mobile Phone", "Confidence": 91.4, "Instances": [{"BoundingBox": BOX, "Confidence": 91.4}],
         "Parents": [{"Name": "Electronics"}, {"Name": "Phone"}], "Aliases": [{"Name": "Cell Phone"}],
         "Categories": [{"Name": "Technology and Computing"}]},
    ],
    "LabelModelVersion": "3.0",
}
FACES = {
    "FaceDetails": [{
        "BoundingBox": BOX,
        "Landmarks": [{"Type": "eyeLeft", "X": 0.45, "Y": 0.2}, {"Type": "eyeRight", "X": 0.55, "Y": 0.2}],
        "Pose": {"Roll": 1.5, "Yaw": -3.2, "Pitch": 4.0},
        "Quality": {"Brightness": 80.1, "Sharpness": 92.3},
        "Confidence": 99.9,
    }],
}
MODERATION = {"ModerationLabels": [], "ModerationModelVersion": "7.0"}
MATCHES = {
    "SearchedFaceBoundingBox": BOX,
    "SearchedFaceConfidence": 99.9,
    "FaceMatches": [{"Similarity": 98.7, "Face": {
        "FaceId": FACE_ID, "BoundingBox": BOX, "ImageId": IMAGE_ID, "ExternalImageId": "student-7", "Confidence": 99.9,
    }}],
    "FaceModelVersion": "7.0",
}


@pytest.fixture
def client() -> Any:
    return boto3.client(
        "rekognition", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )


@pytest.fixture
def stubbed(client: Any) -> Iterator[tuple[RekognitionBackend, Stubber]]:
    # One worker: Stubber answers in queue order, so analyze's calls must not race here.
    # test_it_runs_analyze_calls_in_parallel covers the parallelism itself.
    with Stubber(client) as stubber:
        yield RekognitionBackend(client, max_workers=1), stubber
        stubber.assert_no_pending_responses()


def test_it_passes_calls_through_with_rekognition_arguments(stubbed: tuple[RekognitionBackend, Stubber]) -> None:
    backend, stubber = stubbed
    stubber.add_response("create_collection", {"StatusCode": 200, "CollectionArn": "aws:rekognition:c",
                                               "FaceModelVersion": "7.0"}, {"CollectionId": "exam-1"})
    stubber.add_response("index_faces", {"FaceRecords": [{"Face": {"FaceId": FACE_ID, "BoundingBox": BOX,
                                                                   "ImageId": IMAGE_ID, "Confidence": 99.0}}],
                                         "FaceModelVersion": "7.0", "UnindexedFaces": []},
                         {"CollectionId": "exam-1", "Image": IMAGE, "ExternalImageId": "student-7", "MaxFaces": 1,
                          "QualityFilter": "AUTO", "DetectionAttributes": ["DEFAULT"]})
    stubber.add_response("list_faces", {"Faces": [], "FaceModelVersion": "7.0"},
                         {"CollectionId": "exam-1", "MaxResults": 10})
    stubber.add_response("delete_faces", {"DeletedFaces": [FACE_ID]}, {"CollectionId": "exam-1", "FaceIds": [FACE_ID]})
    stubber.add_response("detect_moderation_labels", MODERATION, {"Image": IMAGE, "MinConfidence": 60})
    stubber.add_response("delete_collection", {"StatusCode": 200}, {"CollectionId": "exam-1"})

    assert backend.create_collection(CollectionId="exam-1")["StatusCode"] == 200
    indexed = backend.index_faces(CollectionId="exam-1", Image=IMAGE, ExternalImageId="student-7", MaxFaces=1,
                                  QualityFilter="AUTO", DetectionAttributes=["DEFAULT"])
    assert indexed["FaceRecords"][0]["Face"]["FaceId"] == FACE_ID
    assert backend.list_faces(CollectionId="exam-1", MaxResults=10)["Faces"] == []
    assert backend.delete_faces(CollectionId="exam-1", FaceIds=[FACE_ID])["DeletedFaces"] == [FACE_ID]
    assert backend.detect_moderation_labels(Image=IMAGE, MinConfidence=60)["ModerationLabels"] == []
    assert backend.delete_collection(CollectionId="exam-1")["StatusCode"] == 200


def test_it_analyzes_with_four_calls(stubbed: tuple[RekognitionBackend, Stubber]) -> None:
    backend, stubber = stubbed
    stubber.add_response("detect_labels", LABELS, {"Image": IMAGE, "MinConfidence": 70})
    stubber.add_response("detect_faces", FACES, {"Image": IMAGE})
    stubber.add_response("detect_moderation_labels", MODERATION, {"Image": IMAGE, "MinConfidence": 70})
    stubber.add_response("search_faces_by_image", MATCHES,
                         {"Image": IMAGE, "CollectionId": "exam-1", "FaceMatchThreshold": 90})
    response = backend.analyze(Image=IMAGE, CollectionId="exam-1", MinConfidence=70, FaceMatchThreshold=90)
    validate_analyze(response)
    assert [label["Name"] for label in response["Labels"]] == ["Person", "Mobile Phone"]
    assert response["FaceMatches"][0]["Face"]["ExternalImageId"] == "student-7"


def test_it_answers_no_matches_when_rekognition_finds_no_face(stubbed: tuple[RekognitionBackend, Stubber]) -> None:
    backend, stubber = stubbed
    stubber.add_response("detect_labels", {"Labels": []}, {"Image": IMAGE})
    stubber.add_response("detect_faces", {"FaceDetails": []}, {"Image": IMAGE})
    stubber.add_response("detect_moderation_labels", MODERATION, {"Image": IMAGE})
    stubber.add_client_error("search_faces_by_image", "InvalidParameterException",
                             "There are no faces in the image. Should be at least 1.", 400)
    response = backend.analyze(Image=IMAGE, CollectionId="exam-1")
    validate_analyze(response)
    assert response["FaceMatches"] == [] and response["FaceDetails"] == []


def test_it_skips_the_search_without_a_collection(stubbed: tuple[RekognitionBackend, Stubber]) -> None:
    backend, stubber = stubbed
    stubber.add_response("detect_labels", LABELS, {"Image": IMAGE})
    stubber.add_response("detect_faces", FACES, {"Image": IMAGE})
    stubber.add_response("detect_moderation_labels", MODERATION, {"Image": IMAGE})
    assert backend.analyze(Image=IMAGE)["FaceMatches"] == []


def test_it_leaves_moderation_out_when_asked(stubbed: tuple[RekognitionBackend, Stubber]) -> None:
    backend, stubber = stubbed  # a DetectModerationLabels call would find no stubbed response and fail
    stubber.add_response("detect_labels", LABELS, {"Image": IMAGE, "MinConfidence": 70})
    stubber.add_response("detect_faces", FACES, {"Image": IMAGE})
    response = backend.analyze(Image=IMAGE, MinConfidence=70, Moderation=False)
    assert set(response) == {"Labels", "FaceDetails", "FaceMatches"}
    assert [label["Name"] for label in response["Labels"]] == ["Person", "Mobile Phone"]


def test_it_lets_other_errors_through(stubbed: tuple[RekognitionBackend, Stubber]) -> None:
    backend, stubber = stubbed
    stubber.add_response("detect_labels", LABELS, {"Image": IMAGE})
    stubber.add_response("detect_faces", FACES, {"Image": IMAGE})
    stubber.add_response("detect_moderation_labels", MODERATION, {"Image": IMAGE})
    stubber.add_client_error(
        "search_faces_by_image", "ResourceNotFoundException", "The collection id: x does not exist"
    )
    with pytest.raises(ClientError) as error:
        backend.analyze(Image=IMAGE, CollectionId="x")
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert error.value.operation_name == "SearchFacesByImage"


REFERENCE = {"Bytes": b"\xff\xd8\xff\xe0 reference photo"}
OTHER_REFERENCE = {"Bytes": b"\xff\xd8\xff\xe0 another reference photo"}
OTHER_FACE_ID = "22222222-2222-4333-8444-555555555555"
COMPARED_FACE = {key: FACES["FaceDetails"][0][key] for key in ("BoundingBox", "Confidence", "Landmarks", "Pose",
                                                                "Quality")}


def compared(similarity: float) -> dict:
    return {"SourceImageFace": {"BoundingBox": BOX, "Confidence": 99.9},
            "FaceMatches": [{"Similarity": similarity, "Face": COMPARED_FACE}], "UnmatchedFaces": []}


def test_it_passes_compare_faces_through(stubbed: tuple[RekognitionBackend, Stubber]) -> None:
    backend, stubber = stubbed
    stubber.add_response("compare_faces", compared(97.5), {"SourceImage": IMAGE, "TargetImage": REFERENCE,
                                                           "SimilarityThreshold": 90, "QualityFilter": "AUTO"})
    response = backend.compare_faces(SourceImage=IMAGE, TargetImage=REFERENCE, SimilarityThreshold=90,
                                     QualityFilter="AUTO")
    validate_output("CompareFaces", response)
    assert response["FaceMatches"][0]["Similarity"] == 97.5


def test_it_verifies_with_one_compare_faces_per_reference_and_no_search(
    stubbed: tuple[RekognitionBackend, Stubber],
) -> None:
    backend, stubber = stubbed
    stubber.add_response("detect_labels", LABELS, {"Image": IMAGE, "MinConfidence": 70})
    stubber.add_response("detect_faces", FACES, {"Image": IMAGE})
    stubber.add_response("detect_moderation_labels", MODERATION, {"Image": IMAGE, "MinConfidence": 70})
    stubber.add_response("compare_faces", compared(42.0),
                         {"SourceImage": IMAGE, "TargetImage": REFERENCE, "SimilarityThreshold": 0})
    stubber.add_response("compare_faces", compared(96.5),
                         {"SourceImage": IMAGE, "TargetImage": OTHER_REFERENCE, "SimilarityThreshold": 0})
    response = backend.analyze(Image=IMAGE, CollectionId="exam-1", MinConfidence=70, FaceMatchThreshold=90,
                               References=[{"FaceId": FACE_ID, "Image": REFERENCE},
                                           {"FaceId": OTHER_FACE_ID, "Image": OTHER_REFERENCE}])
    validate_analyze(response)
    assert response["Verification"] == {"Passed": True, "Reason": "match", "Similarity": 96.5,
                                        "FaceId": OTHER_FACE_ID}
    assert [(m["Similarity"], m["Face"]["FaceId"]) for m in response["FaceMatches"]] == [(96.5, OTHER_FACE_ID)]


def test_it_answers_why_a_frame_is_not_verified(stubbed: tuple[RekognitionBackend, Stubber]) -> None:
    backend, stubber = stubbed
    for references, compare, reason in (
        ([{"FaceId": FACE_ID, "Image": REFERENCE}], compared(41.0), "not_matching"),
        ([{"FaceId": FACE_ID, "Image": REFERENCE}], None, "no_face"),
        ([], None, "no_reference"),
    ):
        faces = FACES if reason != "no_face" else {"FaceDetails": []}
        stubber.add_response("detect_labels", LABELS, {"Image": IMAGE})
        stubber.add_response("detect_faces", faces, {"Image": IMAGE})
        stubber.add_response("detect_moderation_labels", MODERATION, {"Image": IMAGE})
        if references and compare is not None:
            stubber.add_response("compare_faces", compare,
                                 {"SourceImage": IMAGE, "TargetImage": REFERENCE, "SimilarityThreshold": 0})
        elif references:
            stubber.add_client_error("compare_faces", "InvalidParameterException",
                                     "There are no faces in the image. Should be at least 1.", 400)
        response = backend.analyze(Image=IMAGE, References=references)
        validate_analyze(response)
        assert response["Verification"]["Reason"] == reason and response["Verification"]["Passed"] is False
        assert response["FaceMatches"] == []


class BarrierClient:
    """Each call waits until all four have started: only parallel calls get through."""

    def __init__(self) -> None:
        self.barrier = threading.Barrier(4, timeout=10)

    def _wait(self, answer: dict) -> dict:
        self.barrier.wait()
        return answer

    def detect_labels(self, **_: Any) -> dict:
        return self._wait(LABELS)

    def detect_faces(self, **_: Any) -> dict:
        return self._wait(FACES)

    def detect_moderation_labels(self, **_: Any) -> dict:
        return self._wait(MODERATION)

    def search_faces_by_image(self, **_: Any) -> dict:
        return self._wait(MATCHES)


def test_it_runs_analyze_calls_in_parallel() -> None:
    response = RekognitionBackend(BarrierClient()).analyze(Image=IMAGE, CollectionId="exam-1")
    validate_analyze(response)


def test_it_takes_the_region_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert default_client().meta.region_name == "eu-west-1"
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    assert default_client().meta.region_name == "eu-central-1"
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    assert default_client().meta.region_name == "us-east-1"
