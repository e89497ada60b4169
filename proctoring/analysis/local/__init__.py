"""The embedded engine, along its seams: ``engine`` (Rekognition's operations), ``combined``
(``analyze``, all checks from one decode), ``quality`` (which faces count or may be indexed) and
``shapes`` (validation and answers in Rekognition's wire format)."""

from __future__ import annotations

from .combined import ANALYZE_MATCH_THRESHOLD, DEFAULT_MIN_CONFIDENCE
from .engine import DEFAULT_MATCH_THRESHOLD, LocalEngine
from .quality import QUALITY_BARS, QualityBar

__all__ = ["ANALYZE_MATCH_THRESHOLD", "DEFAULT_MATCH_THRESHOLD", "DEFAULT_MIN_CONFIDENCE", "QUALITY_BARS",
           "LocalEngine", "QualityBar"]
