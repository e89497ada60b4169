"""Forms of proctoring's pages: they parse input; proctoring.services does the writing."""

from __future__ import annotations

from typing import Any

from django import forms

from accounts.errors import AppError
from proctoring.images import MAX_IMAGE_BYTES, decode_base64


class FaceForm(forms.Form):
    """A reference photo: an uploaded file, or a webcam capture sent as a base64 data URL."""

    photo = forms.FileField(required=False, label="Upload a photo",
                            help_text="A JPEG or PNG of the student alone, facing the camera, in good light.")
    captured = forms.CharField(required=False, widget=forms.HiddenInput)
    # Sent by the duplicate warning's "register anyway" button, with the same photo in ``captured``.
    confirm_duplicate = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        photo, captured = data.get("photo"), data.get("captured")
        if photo:
            if photo.size > MAX_IMAGE_BYTES:
                raise forms.ValidationError(f"The photo is larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MB.")
            data["image"] = photo.read()
        elif captured:
            try:
                data["image"] = decode_base64(captured)
            except AppError as exc:
                raise forms.ValidationError(exc.message) from exc
        else:
            raise forms.ValidationError("Upload a photo or take one with the webcam.")
        return data
