"""Ingest-time image checks: cheap (header only, no pixel decode) and with clear 4xx errors.

The analysis engine decodes and checks again; this refuses what is obviously wrong before a frame
is stored, so the client hears about it at once.
"""

from __future__ import annotations

import base64
import binascii
import io
import warnings
from typing import Any

from PIL import Image, ImageOps

from accounts.errors import AppError

MAX_IMAGE_BYTES = 5 * 1024 * 1024  # Rekognition's limit
MAX_PIXELS = 40_000_000
# A camera's frame (an exam's frames, the gate's photo-ID capture): at most a 4K camera's, whatever the bytes. The
# page asks for 640x480. A 170 KB PNG of 40 megapixels cost 2.4 CPU-seconds and 500 MB to analyse, and four at once
# took a server from 0.9 to 3-4 GB (an audit); at 4K a frame decodes in about a tenth of that.
FRAME_MAX_PIXELS = 3840 * 2160
MIN_SIDE = 80
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png"}
REENCODE_QUALITY = 95


def decode_base64(value: Any) -> bytes:
    if not isinstance(value, str) or not value:
        raise AppError("'image' must be a non-empty base64 string.", code="invalid_image")
    if value.startswith("data:") and "," in value:  # a data URL from canvas.toDataURL()
        value = value.split(",", 1)[1]
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise AppError("'image' is not valid base64.", code="invalid_base64") from exc


def check_image(data: bytes, *, max_pixels: int = MAX_PIXELS) -> tuple[str, int, int]:
    """Answer (content type, width, height) or raise AppError with the reason; ``max_pixels``: FRAME_MAX_PIXELS for
    what a camera sends."""
    if not data:
        raise AppError("The image is empty.", code="invalid_image")
    if len(data) > MAX_IMAGE_BYTES:
        raise AppError(f"The image is larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MB.", code="image_too_large",
                       status_code=413)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's DecompressionBombWarning: we check below
            image = Image.open(io.BytesIO(data))
            fmt, (width, height) = image.format, image.size
            frames = getattr(image, "n_frames", 1)
    except Image.DecompressionBombError as exc:
        raise AppError("The image has far too many pixels.", code="image_too_large", status_code=413) from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise AppError("The file is not an image we can read (JPEG or PNG).", code="invalid_image") from exc
    if fmt not in FORMATS:
        raise AppError(f"{fmt} images are not supported; send a JPEG or PNG.", code="unsupported_image",
                       status_code=415)
    if frames > 1:
        raise AppError("Animated images are not supported; send one frame.", code="unsupported_image",
                       status_code=415)
    if width * height > max_pixels:
        raise AppError(f"The image is too large ({width}×{height} pixels; at most {max_pixels:,} for this)."
                       .replace(",", " "), code="image_too_large", status_code=413)
    if min(width, height) < MIN_SIDE:
        raise AppError(f"The image is too small; both sides must be at least {MIN_SIDE} pixels.",
                       code="image_too_small")
    if not _complete(fmt, data):
        raise AppError("The image is truncated.", code="invalid_image")
    return FORMATS[fmt], width, height


def _complete(fmt: str, data: bytes) -> bool:
    """A whole file ends with its end marker (JPEG EOI; PNG IEND), give or take trailing padding."""
    tail = data[-64:]
    return b"\xff\xd9" in tail if fmt == "JPEG" else b"IEND" in tail


def _eight_bit(image: Image.Image) -> Image.Image:
    """A grey image of more than 8 bits a pixel scaled to 8 ("I;16" PNGs hold 0-65535)."""
    image = image.convert("I")
    top = image.getextrema()[1]
    scale = 255 / top if isinstance(top, (int, float)) and top > 255 else 1.0
    return image.point(lambda value: value * scale).convert("L")


def reencode(data: bytes) -> bytes:
    """Decode every pixel of a checked image and encode it afresh as a JPEG.

    What is kept is what was decoded, nothing else: no bytes after the end marker, no metadata
    (EXIF location included; the orientation is applied first), no half-written scan that a
    tacked-on end marker made look whole. An image that does not decode in full is refused.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # check_image already refused bombs
            with Image.open(io.BytesIO(data)) as opened:
                opened.load()
                image = ImageOps.exif_transpose(opened)
                if image.mode.startswith("I"):  # 16-bit (or 32-bit) grey: "RGB" clipped it to white (an audit)
                    image = _eight_bit(image)
                if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
                    rgba = image.convert("RGBA")  # transparent pixels on white, as a viewer shows them
                    image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
                image = image.convert("RGB")
    except (OSError, ValueError, SyntaxError) as exc:
        raise AppError("The image is truncated or damaged: it could not be decoded in full.",
                       code="invalid_image") from exc
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=REENCODE_QUALITY)
    return out.getvalue()
