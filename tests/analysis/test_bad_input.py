"""Every odd image gets a Rekognition-coded ClientError or a correct answer, never another exception."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable

import cv2
import numpy as np
import pytest
from botocore.exceptions import ClientError
from PIL import Image

from proctoring.analysis.local import LocalEngine
from tests.analysis.conftest import encode, fixture_bytes, fixture_image
from tests.analysis.rekognition_shapes import validate_analyze, validate_output


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height: enough to test refusal before decoding."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def truncated_jpeg() -> bytes:
    data = fixture_bytes("signer1_a.jpg")
    return data[: len(data) // 3]


def tiny_png() -> bytes:
    return encode(Image.new("RGB", (1, 1), "white"), "PNG")


def gif() -> bytes:
    return encode(fixture_image("signer1_a.jpg"), "GIF")


REFUSED: dict[str, tuple[Callable[[], bytes], str]] = {
    "empty bytes": (lambda: b"", "InvalidImageFormatException"),
    "random bytes": (lambda: np.random.default_rng(7).bytes(4096), "InvalidImageFormatException"),
    "truncated jpeg": (truncated_jpeg, "InvalidImageFormatException"),
    "gif": (gif, "InvalidImageFormatException"),
    "1x1 image": (tiny_png, "InvalidParameterException"),
    "10000x10000 image": (lambda: png_header_only(10_000, 10_000), "ImageTooLargeException"),
    "over 5 MB": (lambda: b"\xff\xd8" + b"\0" * (5 * 1024 * 1024), "ImageTooLargeException"),
    "decompression bomb": (lambda: png_header_only(200_000, 200_000), "ImageTooLargeException"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
@pytest.mark.parametrize("operation", ["detect_faces", "detect_labels", "detect_moderation_labels", "analyze"])
def test_it_refuses_bad_images_with_rekognition_codes(engine: LocalEngine, case: str, operation: str) -> None:
    make, code = REFUSED[case]
    with pytest.raises(ClientError) as error:
        getattr(engine, operation)(Image={"Bytes": make()})
    assert error.value.response["Error"]["Code"] == code


def test_it_refuses_bad_images_when_indexing(engine: LocalEngine, collection: Callable[[str], str]) -> None:
    collection_id = collection("bad")
    for case, (make, code) in REFUSED.items():
        with pytest.raises(ClientError) as error:
            engine.index_faces(CollectionId=collection_id, Image={"Bytes": make()})
        assert error.value.response["Error"]["Code"] == code, case
        assert error.value.operation_name == "IndexFaces"


@pytest.mark.parametrize(
    "image",
    [None, "bytes", {"S3Object": {"Bucket": "b", "Name": "n"}}, {"Bytes": "not bytes"}],
)
def test_it_refuses_image_arguments_it_cannot_read(engine: LocalEngine, image: object) -> None:
    with pytest.raises(ClientError) as error:
        engine.detect_faces(Image=image)  # type: ignore[arg-type]
    assert error.value.response["Error"]["Code"] == "InvalidParameterException"


def cmyk_jpeg() -> bytes:
    return encode(fixture_image("signer1_a.jpg").convert("CMYK"), "JPEG", quality=90)


def alpha_png() -> bytes:
    rgba = fixture_image("signer1_a.jpg").convert("RGBA")
    alpha = np.full((rgba.height, rgba.width), 255, np.uint8)
    alpha[:, :40] = 0  # a transparent margin
    rgba.putalpha(Image.fromarray(alpha))
    return encode(rgba, "PNG")


def gray16_png() -> bytes:
    gray = np.asarray(fixture_image("signer1_a.jpg").convert("L"), dtype=np.uint16) * 257
    return encode(Image.fromarray(gray), "PNG")


def rgb16_png() -> bytes:
    bgr = cv2.cvtColor(np.asarray(fixture_image("signer1_a.jpg")), cv2.COLOR_RGB2BGR).astype(np.uint16) * 257
    ok, data = cv2.imencode(".png", bgr)
    assert ok
    return data.tobytes()


def grayscale_jpeg() -> bytes:
    return encode(fixture_image("signer1_a.jpg").convert("L"), "JPEG")


def palette_png() -> bytes:
    return encode(fixture_image("signer1_a.jpg").convert("P", palette=Image.Palette.ADAPTIVE), "PNG")


ANSWERED: dict[str, Callable[[], bytes]] = {
    "cmyk jpeg": cmyk_jpeg,
    "png with alpha": alpha_png,
    "16-bit grayscale png": gray16_png,
    "16-bit rgb png": rgb16_png,
    "grayscale jpeg": grayscale_jpeg,
    "palette png": palette_png,
}


@pytest.mark.parametrize("case", sorted(ANSWERED))
def test_it_decodes_unusual_colour_modes_and_still_finds_the_face(engine: LocalEngine, case: str) -> None:
    response = engine.analyze(Image={"Bytes": ANSWERED[case]()})
    validate_analyze(response)
    assert len(response["FaceDetails"]) == 1
    (face,) = response["FaceDetails"]
    assert 0.40 < face["BoundingBox"]["Left"] < 0.50  # where the signer's face is in the fixture


def test_it_decodes_16_bit_png_without_clipping_to_white() -> None:
    from proctoring.analysis.imaging import decode

    frame = decode({"Bytes": gray16_png()}, "DetectFaces")
    assert 40 < float(frame.bgr.mean()) < 215


def exif_rotated(orientation: int, upright: Image.Image) -> bytes:
    """Pixels stored turned, with the EXIF tag that tells a viewer how to turn them back."""
    stored = {6: upright.transpose(Image.Transpose.ROTATE_90), 8: upright.transpose(Image.Transpose.ROTATE_270),
              3: upright.transpose(Image.Transpose.ROTATE_180)}[orientation]
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    stored.save(buffer, "JPEG", quality=90, exif=exif.tobytes())
    return buffer.getvalue()


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_it_honours_exif_orientation(engine: LocalEngine, orientation: int) -> None:
    upright = fixture_image("grace_hopper.jpg")
    expected = engine.detect_faces(Image={"Bytes": fixture_bytes("grace_hopper.jpg")})["FaceDetails"][0]
    response = engine.detect_faces(Image={"Bytes": exif_rotated(orientation, upright)})
    validate_output("DetectFaces", response)
    (face,) = response["FaceDetails"]
    for key in ("Left", "Top", "Width", "Height"):
        assert face["BoundingBox"][key] == pytest.approx(expected["BoundingBox"][key], abs=0.03)
    assert abs(face["Pose"]["Roll"]) < 15  # upright, not lying on its side


def test_it_survives_a_corrupt_exif_block(engine: LocalEngine) -> None:
    image = fixture_image("grace_hopper.jpg")
    data = encode(image, "JPEG", exif=b"Exif\x00\x00MM\x00*garbage")
    with pytest.warns(UserWarning, match="Corrupt EXIF"):  # Pillow's, as it reads the block: said, not raised
        response = engine.detect_faces(Image={"Bytes": data})
    assert len(response["FaceDetails"]) == 1


def test_it_downscales_large_photos_but_reports_ratios(engine: LocalEngine) -> None:
    big = fixture_image("grace_hopper.jpg").resize((2048, 2400))
    small = engine.detect_faces(Image={"Bytes": fixture_bytes("grace_hopper.jpg")})["FaceDetails"][0]
    large = engine.detect_faces(Image={"Bytes": encode(big, quality=80)})["FaceDetails"][0]
    assert large["BoundingBox"]["Left"] == pytest.approx(small["BoundingBox"]["Left"], abs=0.02)
    assert large["BoundingBox"]["Width"] == pytest.approx(small["BoundingBox"]["Width"], abs=0.02)


def test_it_answers_nothing_for_a_blank_frame(engine: LocalEngine) -> None:
    blank = encode(Image.new("RGB", (640, 480), "white"), "PNG")
    response = engine.analyze(Image={"Bytes": blank})
    validate_analyze(response)
    assert response == {"Labels": [], "FaceDetails": [], "FaceMatches": [], "ModerationLabels": []}
