"""Speech clips: the one audio format we take, and Silero VAD to check that a clip holds speech.

The browser (static/js/listen.js, @ricky0123/vad-web) sends only what its own Silero VAD called
speech, as 16 kHz mono 16-bit PCM WAV. The server decodes that with the standard library and runs
the same model again: what it keeps is what it heard itself, never the browser's word alone.
Opus/WebM would be smaller, but decoding it here needs ffmpeg or PyAV, neither of which the
project ships; a clip of a few seconds of 16 kHz PCM is 32 kB a second, and only speech is sent.

The model: ``silero-vad`` (MIT) ships ``silero_vad/data/silero_vad.onnx`` in its wheel. Its Python
package imports torch at once, so it is installed without dependencies (requirements-nodeps.txt)
and only its file is used: located with ``importlib.util.find_spec``, never imported, and run on
the project's onnxruntime.
"""

from __future__ import annotations

import importlib.util
import io
import struct
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from accounts.errors import AppError
from proctoring.analysis.models import Lazy, ModelInfo

SAMPLE_RATE = 16_000
CHUNK = 512  # samples per model step at 16 kHz (32 ms), as the model was trained
CONTEXT = 64  # samples of the previous chunk the model sees before each one
# Silero's own defaults (get_speech_timestamps): speech starts at 0.5 and lasts until it drops under 0.35.
THRESHOLD = 0.5
NEG_THRESHOLD = 0.35
MAX_CLIP_SECONDS = 30
MAX_CLIP_BYTES = 44 + MAX_CLIP_SECONDS * SAMPLE_RATE * 2 + 1024  # header, PCM, some extra chunks
MIN_CLIP_SECONDS = 0.1


@dataclass(frozen=True)
class Clip:
    samples: np.ndarray  # float32 in [-1, 1]

    @property
    def seconds(self) -> float:
        return len(self.samples) / SAMPLE_RATE


@dataclass(frozen=True)
class Speech:
    """What the model heard in a clip: seconds of speech and the highest speech probability."""

    seconds: float
    probability: float


def model_path() -> Path:
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or spec.origin is None:
        raise RuntimeError("silero-vad is not installed (pip install --no-deps -r requirements-nodeps.txt).")
    return Path(spec.origin).parent / "data" / "silero_vad.onnx"


def _build_model() -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1  # a 32 ms step is tiny: threads cost more than they give
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(model_path()), sess_options=options, providers=["CPUExecutionProvider"])


MODEL: Lazy[Any] = Lazy(_build_model)  # built on first use, once per process

# The model card's entry (proctoring.analysis.model_card.speech_section): outside the image engine's
# CATALOGUE, which holds the models of proctoring.analysis only.
MODEL_INFO = ModelInfo(
    "proctoring.audio:MODEL", "Silero VAD (`silero_vad.onnx`)",
    "voice activity: the server's check that an uploaded clip holds speech (Speech, `talking` incidents);"
    " the browser runs the same model family through @ricky0123/vad-web", "onnxruntime", "silero-vad",
    "snakers4/silero-vad", "MIT", lambda: str(model_path()),
)


def decode_wav(data: bytes) -> Clip:
    """The samples of a 16 kHz mono 16-bit PCM WAV; a clear 4xx for anything else.

    Empty -> 400 ``empty_clip``; over the size or length limit -> 413 ``clip_too_large``; not a
    WAV or another encoding -> 415 ``unsupported_audio``; a WAV shorter than its header says ->
    400 ``truncated_audio``.
    """
    if not data:
        raise AppError("The audio clip is empty.", code="empty_clip")
    if len(data) > MAX_CLIP_BYTES:
        raise AppError(f"An audio clip is at most {MAX_CLIP_SECONDS} seconds.", code="clip_too_large",
                       status_code=413, details={"max_bytes": MAX_CLIP_BYTES})
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise AppError("Send the clip as 16 kHz mono 16-bit PCM WAV.", code="unsupported_audio", status_code=415)
    try:
        with wave.open(io.BytesIO(data), "rb") as reader:
            channels, width, rate, frames = (reader.getnchannels(), reader.getsampwidth(),
                                             reader.getframerate(), reader.getnframes())
            if (channels, width, rate) != (1, 2, SAMPLE_RATE):
                raise AppError(f"Send the clip as 16 kHz mono 16-bit PCM WAV (got {rate} Hz, {channels} "
                               f"channel(s), {8 * width}-bit).", code="unsupported_audio", status_code=415)
            pcm = reader.readframes(frames)
    except (wave.Error, EOFError, struct.error) as exc:
        message = str(exc)
        if "unknown format" in message:
            raise AppError("Send the clip as 16 kHz mono 16-bit PCM WAV.", code="unsupported_audio",
                           status_code=415) from exc
        raise AppError("The audio clip is cut short.", code="truncated_audio") from exc
    # ``wave`` reads what is there: a data chunk shorter than its header declares is a cut upload.
    if len(pcm) < frames * 2 or not frames:
        raise AppError("The audio clip is cut short.", code="truncated_audio",
                       details={"declared_samples": frames, "received_samples": len(pcm) // 2})
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
    if len(samples) < MIN_CLIP_SECONDS * SAMPLE_RATE:
        raise AppError("The audio clip is too short to hold speech.", code="clip_too_short")
    return Clip(samples=samples)


def probabilities(samples: np.ndarray) -> np.ndarray:
    """Silero's speech probability for each 32 ms step of 16 kHz samples (the last step zero-padded)."""
    model = MODEL.get()
    steps = max(1, -(-len(samples) // CHUNK))
    padded = np.zeros(steps * CHUNK, dtype=np.float32)
    padded[:len(samples)] = samples
    state = np.zeros((2, 1, 128), dtype=np.float32)
    context = np.zeros(CONTEXT, dtype=np.float32)
    rate = np.array(SAMPLE_RATE, dtype=np.int64)
    result = np.empty(steps, dtype=np.float32)
    for step in range(steps):
        chunk = padded[step * CHUNK:(step + 1) * CHUNK]
        output, state = model.run(None, {"input": np.concatenate([context, chunk])[None, :], "state": state,
                                         "sr": rate})
        result[step] = float(output[0][0])
        context = chunk[-CONTEXT:]
    return result


def speech_mask(probs: np.ndarray) -> np.ndarray:
    """Which steps are speech, with Silero's hysteresis: in at THRESHOLD, out under NEG_THRESHOLD."""
    mask = np.zeros(len(probs), dtype=bool)
    speaking = False
    for index, probability in enumerate(probs):
        if probability >= THRESHOLD:
            speaking = True
        elif probability < NEG_THRESHOLD:
            speaking = False
        mask[index] = speaking
    return mask


def hear(clip: Clip) -> Speech:
    """Seconds of speech in a clip (per Silero, as the browser judges it) and its peak probability."""
    probs = probabilities(clip.samples)
    return Speech(seconds=round(float(speech_mask(probs).sum()) * CHUNK / SAMPLE_RATE, 3),
                  probability=round(float(probs.max()), 4))


def encode_wav(samples: np.ndarray) -> bytes:
    """16 kHz mono 16-bit PCM WAV of float samples (tests, measurement)."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(SAMPLE_RATE)
        writer.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return buffer.getvalue()
