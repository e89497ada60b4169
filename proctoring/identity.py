"""What a student is told about the identity check of their frame, one sentence per reason."""

from __future__ import annotations

REASON_MESSAGES = {
    "match": "Matches your registered photo.",
    "no_reference": "You have no registered photo yet: ask your institution to register one.",
    "no_face": "We can't see your face: look at the camera.",
    "several_faces": "More than one face is in view.",
    "too_dark": "It is too dark: add light in front of you.",
    "too_far": "Come closer to the camera.",
    "turned_away": "Face the camera.",
    "blurred": "Hold still: the picture is blurred.",
    "not_matching": "This doesn't match your registered photo.",
    # At the camera check only: this frame matches, but the identity has not held over enough frames yet
    # (settings.IDENTITY_PASS_FRAMES; proctoring.selectors.identity_held).
    "confirming": "Matches your registered photo: hold still while we confirm it.",
}
