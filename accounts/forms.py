"""Forms of the people and settings pages: they parse input; accounts.roster does the writing."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile

from accounts.models import Institution
from accounts.roster import MAX_IMPORT_BYTES
from accounts.timezones import zone_names


def zone_choices() -> list[tuple[str, str]]:
    return [(name, name.replace("_", " ")) for name in zone_names()]


class PersonForm(forms.Form):
    email = forms.EmailField(max_length=254)
    full_name = forms.CharField(max_length=200, label="Full name")
    password = forms.CharField(
        required=False, strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        label="Initial password", help_text="Optional. Leave empty to email them a one-time link instead.",
    )


class StudentForm(PersonForm):
    student_number = forms.CharField(max_length=64, required=False, label="Student number")

    field_order = ["email", "full_name", "student_number", "password"]


class ImportForm(forms.Form):
    file = forms.FileField(label="CSV file", help_text="Columns email,name,student_number with a header row; "
                                                       "at most 1 MB and 5000 students.")

    skip_existing = forms.BooleanField(
        required=False, label="Leave out students who already have an account",
        help_text="For a new term's list: those already here are left as they are; the others are imported.")

    def clean_file(self) -> UploadedFile:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_IMPORT_BYTES:
            raise forms.ValidationError("The file is larger than 1 MB. Split it and import the parts.")
        return upload


class SettingsForm(forms.Form):
    frame_retention_days = forms.IntegerField(
        min_value=1, max_value=3650, label="Keep webcam frames for (days)",
        help_text="Frames older than this are deleted automatically (1–3650).",
    )
    face_retention_days = forms.IntegerField(
        min_value=1, max_value=3650, required=False, label="Keep reference faces for (days)",
        help_text="A student's reference face is erased this many days after their last exam ended "
                  "(faces without exams: after registration) (1–3650).",
    )
    appeal_window_days = forms.IntegerField(
        min_value=0, max_value=365, required=False, label="Appeals accepted for (days)",
        help_text="After an exam, a student may appeal a confirmed incident once, within this many days of the "
                  "reviewer's decision (0: no appeals; 0–365).",
    )
    consent_text = forms.CharField(
        max_length=10000, widget=forms.Textarea(attrs={"rows": 6}), label="Consent text",
        help_text="Students accept this before each exam. Changing it starts a new consent version.",
    )
    time_zone = forms.ChoiceField(
        choices=zone_choices, required=False, label="Time zone",
        help_text="Pages, exports and emails show times in this zone, and exam schedules are entered in it. "
                  "Each person may choose their own.",
    )

    def clean_time_zone(self) -> str | None:
        return self.cleaned_data["time_zone"] or None  # left out: unchanged

    @classmethod
    def initial_for(cls, institution: Institution) -> dict[str, Any]:
        return {"time_zone": institution.time_zone, "frame_retention_days": institution.frame_retention_days,
                "face_retention_days": institution.face_retention_days,
                "appeal_window_days": institution.appeal_window_days, "consent_text": institution.consent_text}


class TimeZoneForm(forms.Form):
    """A person's own time zone; empty follows the institution's."""

    time_zone = forms.ChoiceField(required=False, label="Your time zone")

    def __init__(self, *args: Any, institution_zone: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["time_zone"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", f"Same as the institution ({institution_zone.replace('_', ' ')})"), *zone_choices()]
