"""Forms of the exam pages: they parse and validate input; services do the writing."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet

from accounts.models import User
from exams import policy
from exams.authoring import MAX_CHOICES
from exams.models import Exam, Question, QuestionKind
from exams.services import KEEP

MAX_OBJECTS = 50


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


class ExamForm(forms.Form):
    """An exam's description, schedule and proctoring policy."""

    title = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    opens_at = forms.DateTimeField(required=False, widget=DateTimeLocalInput(), label="Opens at",
                                   help_text="Leave empty to open as soon as it is published.")
    closes_at = forms.DateTimeField(required=False, widget=DateTimeLocalInput(), label="Closes at",
                                    help_text="Leave empty for no closing time.")
    duration_minutes = forms.IntegerField(min_value=1, max_value=24 * 60, initial=60, label="Duration (minutes)")

    checks_enabled = forms.MultipleChoiceField(
        choices=[(check, check) for check in policy.ALL_CHECKS], required=False,
        widget=forms.CheckboxSelectMultiple, initial=policy.default_checks, label="Checks",
    )
    min_confidence = forms.FloatField(
        min_value=0, max_value=100, initial=policy.DEFAULT_MIN_CONFIDENCE, label="Minimum confidence (%)",
        help_text="Objects, people and unsafe content count only above this confidence.",
    )
    face_match_threshold = forms.FloatField(
        min_value=0, max_value=100, initial=policy.DEFAULT_FACE_MATCH_THRESHOLD, label="Face match threshold (%)",
        help_text="How similar a face must be to the student's reference face.",
    )
    objects_of_interest = forms.CharField(
        required=False, max_length=2000, initial=", ".join(policy.DEFAULT_OBJECTS_OF_INTEREST),
        label="Objects of interest", help_text="Comma-separated labels, e.g. Mobile Phone, Cell Phone, Book.",
    )
    debounce_frames = forms.IntegerField(
        min_value=1, max_value=100, initial=2, label="Frames before an incident",
        help_text=("An incident opens when its condition holds on this many of the latest 2×N−1 frames "
                   "(an object of interest or a second person also on 2×N of the latest 6×N)…"),
    )
    debounce_seconds = forms.IntegerField(
        min_value=0, max_value=3600, initial=0, label="Seconds before an incident",
        help_text="…or for this many seconds (0: frames only).",
    )
    capture_interval_seconds = forms.IntegerField(
        min_value=1, max_value=300, initial=5, label="Capture interval (seconds)",
        help_text="How often the student's webcam sends a frame.",
    )

    watch_looking_away = forms.BooleanField(
        required=False, initial=policy.DEFAULT_LOOKING_AWAY, label="Watch for looking away",
        help_text="A low-severity incident when the student's head stays turned away from how they sat at "
                  "the start of the exam (a glance is not one).",
    )
    require_photo_id = forms.BooleanField(
        required=False, initial=False, label="Require a photo ID from every student",
        help_text="Before the exam starts, a proctor compares each student's photo ID with their live camera "
                  "image and registered photo (with the Person Recognition check on).",
    )

    microphone = forms.BooleanField(
        required=False, initial=policy.MICROPHONE_FOR_NEW_EXAMS, label="Listen through the microphone",
        help_text="Speech heard during the exam is kept as short clips for review; students consent to it "
                  "separately. Silence and room noise never leave the student's computer.",
    )
    speech_window_seconds = forms.IntegerField(
        min_value=10, max_value=3600, initial=policy.DEFAULT_SPEECH_WINDOW_SECONDS, required=False,
        label="Talking window (seconds)",
        help_text="Talking is judged over this many seconds…",
    )
    speech_max_seconds = forms.IntegerField(
        min_value=1, max_value=600, initial=policy.DEFAULT_SPEECH_MAX_SECONDS, required=False,
        label="Speech allowed (seconds)",
        help_text="…and more speech than this within it opens a low-severity talking incident.",
    )

    POLICY_FIELDS = ("checks_enabled", "min_confidence", "face_match_threshold", "objects_of_interest",
                     "debounce_frames", "debounce_seconds", "capture_interval_seconds", "require_photo_id",
                     "watch_looking_away", "microphone", "speech_window_seconds", "speech_max_seconds")

    @classmethod
    def initial_for(cls, exam: Exam) -> dict[str, Any]:
        names = [name for name in cls.base_fields if name != "objects_of_interest"]
        initial = {name: getattr(exam, name) for name in names}
        initial["objects_of_interest"] = ", ".join(exam.objects_of_interest)
        return initial

    def clean_speech_window_seconds(self) -> int:
        value = self.cleaned_data["speech_window_seconds"]  # left empty: the default
        return policy.DEFAULT_SPEECH_WINDOW_SECONDS if value is None else value

    def clean_speech_max_seconds(self) -> int:
        value = self.cleaned_data["speech_max_seconds"]
        return policy.DEFAULT_SPEECH_MAX_SECONDS if value is None else value

    def clean_checks_enabled(self) -> list[str]:
        chosen = set(self.cleaned_data["checks_enabled"])
        return [check for check in policy.ALL_CHECKS if check in chosen]  # the sample's order

    def clean_objects_of_interest(self) -> list[str]:
        names: list[str] = []
        for raw in self.cleaned_data["objects_of_interest"].split(","):
            name = " ".join(raw.split())
            if name and name.lower() not in {n.lower() for n in names}:
                names.append(name)
        if len(names) > MAX_OBJECTS:
            raise forms.ValidationError(f"List at most {MAX_OBJECTS} objects.")
        if any(len(name) > 100 for name in names):
            raise forms.ValidationError("Each object name must be at most 100 characters.")
        return names

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        opens_at, closes_at = data.get("opens_at"), data.get("closes_at")
        if opens_at and closes_at and closes_at <= opens_at:
            self.add_error("closes_at", "The exam must close after it opens.")
        if policy.CHECK_OBJECTS in data.get("checks_enabled", []) and data.get("objects_of_interest") == []:
            self.add_error("objects_of_interest", "Name at least one object, or turn off the Objects of Interest "
                                                  "check.")
        return data


class QuestionForm(forms.Form):
    kind = forms.ChoiceField(choices=QuestionKind.choices, widget=forms.RadioSelect,
                             initial=QuestionKind.MULTIPLE_CHOICE, label="Type")
    prompt = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=5000, label="Question")
    choices = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 4}), label="Options",
        help_text="Multiple choice: one option per line.",
    )
    correct_choice = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_CHOICES, label="Correct option",
        help_text="The number of the right option (1 is the first line). Answers are scored against it; "
                  "changing it re-scores every student's answer.",
    )
    points = forms.IntegerField(min_value=0, max_value=1000, initial=1)

    @classmethod
    def initial_for(cls, question: Question) -> dict[str, Any]:
        return {
            "kind": question.kind, "prompt": question.prompt, "choices": "\n".join(question.choices),
            "correct_choice": None if question.correct_choice is None else question.correct_choice + 1,
            "points": question.points,
        }

    def clean_choices(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["choices"].splitlines() if line.strip()]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("kind") != QuestionKind.MULTIPLE_CHOICE:
            data["choices"], data["correct_choice"] = [], None
            return data
        choices = data.get("choices")
        if choices is not None and not 2 <= len(choices) <= MAX_CHOICES:
            self.add_error("choices", f"Give 2 to {MAX_CHOICES} options, one per line.")
        elif choices is not None and "correct_choice" in data:
            correct = data["correct_choice"]
            if correct is None or correct > len(choices):
                self.add_error("correct_choice", f"Pick a number from 1 to {len(choices)}.")
        return data

    def service_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        correct = data["correct_choice"]
        if correct is not None and correct == self.initial.get("correct_choice"):
            key = KEEP  # the number left as it was: the right option keeps its text where the options moved
        else:
            key = None if correct is None else correct - 1
        return {"kind": data["kind"], "prompt": data["prompt"].strip(), "choices": data["choices"],
                "correct_choice": key, "points": data["points"]}


class EnrolForm(forms.Form):
    students = forms.ModelMultipleChoiceField(
        queryset=User.objects.none(), widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Pick at least one student."},
    )

    def __init__(self, *args: Any, candidates: QuerySet[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["students"]
        field.queryset = candidates  # type: ignore[attr-defined]
        field.label_from_instance = _student_label  # type: ignore[attr-defined]


def _student_label(student: User) -> str:
    name = student.full_name or student.email
    number = f" · {student.student_number}" if student.student_number else ""
    return f"{name} ({student.email}){number}"


class AccommodationForm(forms.Form):
    reason = forms.CharField(max_length=300, help_text="Proctors see it with the accommodation badge.")
    extra_minutes = forms.IntegerField(min_value=0, max_value=24 * 60, initial=0, label="Extra minutes")
    extra_percent = forms.IntegerField(min_value=0, max_value=400, initial=0, label="Extra time (% of each exam)",
                                       help_text="Added to the extra minutes; e.g. 50 for time and a half.")
    exempt_checks = forms.MultipleChoiceField(
        choices=list(policy.EXEMPTABLE.items()), required=False, widget=forms.CheckboxSelectMultiple,
        label="Exempt from", help_text="These checks never open an incident for this student.")
