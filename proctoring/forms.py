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
                raise forms.ValidationError(f"The photo is larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MB: choose a "
                                            "smaller copy (a phone's medium size), or take it with the webcam.")
            data["image"] = photo.read()
        elif captured:
            try:
                data["image"] = decode_base64(captured)
            except AppError as exc:
                raise forms.ValidationError(exc.message) from exc
        else:
            raise forms.ValidationError("Upload a photo or take one with the webcam.")
        return data


STATUS_ALL = "all"


class ReviewFilterForm(forms.Form):
    """The review queue's filters (GET). An exam id is not checked here: another institution's or a
    missing one matches nothing, as the tenancy tests expect of every id."""

    exam = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    kind = forms.ChoiceField(required=False)
    severity = forms.ChoiceField(required=False)
    status = forms.ChoiceField(required=False)
    sort = forms.ChoiceField(required=False, choices=[("risk", "Session risk"), ("recent", "Most recent")])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from proctoring.models import IncidentKind, ReviewStatus, Severity

        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [("", "All kinds"), *IncidentKind.choices]
        self.fields["severity"].choices = [("", "All severities"), *Severity.choices]
        self.fields["status"].choices = [*ReviewStatus.choices, (STATUS_ALL, "Any status")]

    def filters(self) -> dict[str, Any]:
        data = self.cleaned_data
        status = data.get("status") or "pending"
        return {"exam_id": data.get("exam"), "kind": data.get("kind") or "", "severity": data.get("severity") or "",
                "status": "" if status == STATUS_ALL else status}
