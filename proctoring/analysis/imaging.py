"""Decode Rekognition ``Image`` arguments once, safely, into a working BGR frame.

Rekognition accepts JPEG and PNG up to 5 MB. We read the header first (Pillow's ``open`` is lazy)
so that absurd pixel counts are refused before any pixel is decoded, then decode JPEGs at a
reduced DCT scale when the frame is larger than the working size, honour EXIF orientation, and
normalise every colour mode (CMYK, alpha, palette, 16-bit, grayscale) to 8-bit BGR for OpenCV.
Coordinates leave the engine as 0..1 ratios, so the working size never shows in a response.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageOps

from .errors import IMAGE_TOO_LARGE, INVALID_IMAGE_FORMAT, INVALID_PARAMETER, client_error

MAX_BYTES = 5 * 1024 * 1024  # Rekognition's limit for Image.Bytes
MAX_PIXELS = 40_000_000  # refuse before decoding: a 5 MB PNG can hold a decompression bomb
MIN_SIDE = 80  # Rekognition's documented minimum image dimension
DEFAULT_WORK_SIDE = 1280
ACCEPTED_FORMATS = frozenset({"JPEG", "PNG"})


@dataclass(frozen=True)
class Frame:
    """A decoded image: ``bgr`` is the working copy (possibly downscaled), uint8 HxWx3."""

    bgr: np.ndarray
    width: int  # size after EXIF orientation, before downscaling
    height: int

    @property
    def scale(self) -> float:
        """Working pixels per original pixel."""
        return self.bgr.shape[1] / self.width


def image_bytes(image: Any, operation: str) -> bytes:
    """Extract ``Image.Bytes``; the local engine cannot read ``S3Object``."""
    if not isinstance(image, Mapping):
        raise client_error(INVALID_PARAMETER, "Image must be a dict with Bytes.", operation)
    if "S3Object" in image and "Bytes" not in image:
        raise client_error(
            INVALID_PARAMETER, "The local backend accepts Image.Bytes only, not S3Object.", operation
        )
    data = image.get("Bytes")
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    if not isinstance(data, bytes):
        raise client_error(INVALID_PARAMETER, "Image.Bytes must be bytes.", operation)
    if not data:
        raise client_error(INVALID_IMAGE_FORMAT, "Request has invalid image format", operation)
    if len(data) > MAX_BYTES:
        raise client_error(IMAGE_TOO_LARGE, "Image size is too large.", operation)
    return data


def decode(image: Any, operation: str, work_side: int = DEFAULT_WORK_SIDE) -> Frame:
    """Decode an ``Image`` argument. Raises Rekognition-coded ClientErrors only."""
    data = image_bytes(image, operation)
    pil = _open_header(data, operation)
    width, height = pil.size
    if width * height > MAX_PIXELS:
        raise client_error(IMAGE_TOO_LARGE, "Image dimensions are too large.", operation)
    if min(width, height) < MIN_SIDE:
        raise client_error(
            INVALID_PARAMETER, f"Image must be at least {MIN_SIDE}x{MIN_SIDE} pixels.", operation
        )
    if pil.format == "JPEG" and max(width, height) > work_side:
        # DCT-domain downscale: decodes a 4000 px photo in a fraction of the time and memory.
        shrink = max(width, height) / work_side
        pil.draft(pil.mode, (int(width / shrink) + 1, int(height / shrink) + 1))
    try:
        pil.load()
    except Exception as exc:  # Pillow raises many types on corrupt data; all mean "bad image"
        raise client_error(INVALID_IMAGE_FORMAT, "Request has invalid image format", operation) from exc
    loaded = pil.size
    pil = _oriented(pil)
    turned = pil.size != loaded  # a 90-degree EXIF rotation swaps width and height
    full_w, full_h = (height, width) if turned else (width, height)
    rgb = _to_rgb8(pil)
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    bgr = _fit(bgr, work_side)
    return Frame(bgr=bgr, width=full_w, height=full_h)


def _open_header(data: bytes, operation: str) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            pil = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise client_error(IMAGE_TOO_LARGE, "Image dimensions are too large.", operation) from exc
    except Exception as exc:
        raise client_error(INVALID_IMAGE_FORMAT, "Request has invalid image format", operation) from exc
    if pil.format not in ACCEPTED_FORMATS:
        raise client_error(INVALID_IMAGE_FORMAT, "Request has invalid image format", operation)
    return pil


def _oriented(pil: Image.Image) -> Image.Image:
    try:
        return ImageOps.exif_transpose(pil)
    except Exception:  # noqa: BLE001 - a corrupt EXIF block must not lose an otherwise good frame
        return pil


def _to_rgb8(pil: Image.Image) -> np.ndarray:
    mode = pil.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(pil).astype(np.float32)
        top = float(arr.max()) if arr.size else 0.0
        if top > 255.0:
            arr = arr * (255.0 / (65535.0 if top <= 65535.0 else top))
        gray = np.clip(arr, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    if mode == "P" and "transparency" in pil.info:
        pil = pil.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "La", "RGBa", "PA"):
        # Transparent pixels have no colour of their own: lay them on white, as a viewer would.
        rgba = pil.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        pil = Image.alpha_composite(background, rgba)
    if pil.mode != "RGB":
        pil = pil.convert("RGB")
    return np.asarray(pil, dtype=np.uint8)


def _fit(bgr: np.ndarray, work_side: int) -> np.ndarray:
    h, w = bgr.shape[:2]
    side = max(h, w)
    if side <= work_side:
        return np.ascontiguousarray(bgr)
    scale = work_side / side
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
