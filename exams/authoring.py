"""Writes of exam authoring: questions, their order, publishing and enrolment."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from django.db import transaction
from django.db.models import Case, Count, Max, Value, When

from accounts.errors import AppError, Conflict, NotFound
from accounts.models import User
from exams.models import Answer, Exam, ExamSession, ExamStatus, Question, QuestionKind
from exams.services import KEEP, audit, session_create, session_delete
from exams.statuses import ACCEPTS_FRAMES, EXAM_TRANSITIONS, SessionStatus

MAX_CHOICES = 20


def _check_question(kind: str, choices: list[str], correct_choice: int | None) -> None:
    if kind not in QuestionKind.values:
        raise AppError(f"Unknown question kind '{kind}'.", code="invalid", details={"kind": ["Unknown kind."]})
    if kind != QuestionKind.MULTIPLE_CHOICE:
        return
    if not 2 <= len(choices) <= MAX_CHOICES:
        raise AppError(f"A multiple-choice question needs 2 to {MAX_CHOICES} options.", code="invalid",
                       details={"choices": ["Give 2 or more options, one per line."]})
    seen: dict[str, int] = {}
    for number, choice in enumerate(choices, start=1):
        if _normal(choice) in seen:  # a student who picked the other one was marked wrong (an audit)
            raise AppError(f"Options {seen[_normal(choice)]} and {number} are the same.", code="invalid",
                           details={"choices": [f"Options {seen[_normal(choice)]} and {number} are the same."]})
        seen[_normal(choice)] = number
    if correct_choice is None or not 0 <= correct_choice < len(choices):
        # (0-based here, as the API takes it; the page's form numbers options from 1 and says so itself)
        raise AppError("Say which option is correct.", code="invalid",
                       details={"correct_choice": [f"Give the correct option's index, from 0 (the first option) "
                                                   f"to {len(choices) - 1}."]})


# Compatibility forms that mean something else in an answer: "2³" is not "23", nor "H₂O" "H2O", nor "½" "1⁄2".
_MEANINGFUL = ("<super>", "<sub>", "<fraction>")


def _fold(char: str) -> str:
    return char if unicodedata.decomposition(char).startswith(_MEANINGFUL) else unicodedata.normalize("NFKC", char)


def _normal(choice: str) -> str:
    """An option as compared with others: composed ("é" and "e" + accent alike), compatibility forms folded
    ("Ⅳ" and "IV", full-width "２" and "2") but not superscripts, subscripts or fractions, without invisible format
    characters (a zero-width space), spaces collapsed, case folded (a re-audit found each of these making two
    options that read the same; a second, that NFKC made "2³" and "23" the same)."""
    choice = unicodedata.normalize("NFC", "".join(_fold(char) for char in unicodedata.normalize("NFC", choice)))
    return " ".join("".join(char for char in choice if unicodedata.category(char) != "Cf").split()).casefold()


def _keep_answers(question: Question, kind: str, choices: list[str]) -> None:
    """What students answered keeps its meaning when the question is edited (an audit: options reordered after
    students answered moved their answers to other options, and grades with them; a question made multiple choice
    showed written answers as no answer). Answers store the option's index: reordered or fewer options, each answer
    follows its option's text to its new place; an option someone chose cannot go, and while students sit the exam
    (their pages show the options as they were) options are only corrected in place or added at the end."""
    answers = Answer.objects.filter(question=question)
    if kind != question.kind:
        if answers.exists():
            raise Conflict("Students have already answered this question; its type cannot change.",
                           code="question_answered")
        return
    if kind != QuestionKind.MULTIPLE_CHOICE:
        return
    old, new = [_normal(c) for c in question.choices], [_normal(c) for c in choices]
    # A "correction" that reads as another option also corrected (a re-audit: "Paris", "Berlin" became "Berlin
    # (Germany)", "Paris (France)", and the answers stayed on their numbers, swapped) is refused where students
    # answered: moves follow the text, so an edit that moves options keeps their text, and another corrects it. (A
    # heuristic on whole words and numbers: "15 m/s" corrected to "12.5 m/s" beside "5 m/s", unchanged, is a
    # correction; a second re-audit found such honest edits refused when any option's words counted.)
    corrected = {i for i, (was, now) in enumerate(zip(old, new, strict=False))
                 if was != now and was not in new and now not in old}
    words = [set(re.findall(r"\d+(?:[.,]\d+)*|\w+", text)) for text in [*old, *new]]
    for index in sorted(corrected):
        now_words = words[len(old) + index]
        other = next((j for j in sorted(corrected) if j != index and words[j] and words[j] <= now_words
                      and not (words[index] and words[index] <= now_words)), None)
        if other is not None and answers.exists():
            raise Conflict(f"Option {index + 1}'s new text (“{choices[index]}”) reads like option {other + 1} "
                           f"(“{question.choices[other]}”), and students have answered. To move options, keep their "
                           f"text in one edit (the answers follow it), then correct the text in another.",
                           code="question_answered")
    if len(new) >= len(old) and all(o == n or o not in new for o, n in zip(old, new, strict=False)):
        return  # corrected in place, or added to: every index means what it meant
    if ExamSession.objects.filter(exam_id=question.exam_id, status__in=ACCEPTS_FRAMES).exists():
        raise Conflict("Students are sitting this exam right now: until they finish, options can be corrected in "
                       "place or added at the end, not moved or removed.", code="question_in_use")
    moved = {index: new.index(text) for index, text in enumerate(old) if text in new}
    chosen = dict(answers.filter(choice__isnull=False).order_by().values_list("choice").annotate(n=Count("pk")))
    # (an answer whose index names no option, left by an edit before this check, points nowhere either way)
    gone = sorted(index for index in chosen if index < len(old) and index not in moved)
    if gone:
        which = "; ".join(f"option {index + 1} (“{question.choices[index]}”) by {chosen[index]}" for index in gone)
        raise Conflict(f"Students chose what this edit removes: {which}. Keep that option's text; you may move "
                       f"it or add others.", code="question_answered")
    remap = {index: to for index, to in moved.items() if index != to and index in chosen}
    if remap:  # one statement: each row's choice is read before any is written
        answers.filter(choice__in=list(remap)).update(
            choice=Case(*[When(choice=index, then=Value(to)) for index, to in remap.items()]))


def _key_moved(question: Question, choices: list[str]) -> int | None:
    """Where the right option is among ``choices``, for an edit that did not say (an audit: options reordered
    took the answers with their text, but the key stayed on its number and marked the right answer wrong): the
    option with its text, else the same number where that option was corrected in place; refused where it went."""
    key = question.correct_choice
    if key is None or question.kind != QuestionKind.MULTIPLE_CHOICE or not 0 <= key < len(question.choices):
        return key
    old, new = [_normal(c) for c in question.choices], [_normal(c) for c in choices]
    if old[key] in new:
        return new.index(old[key])
    if key < len(new) and new[key] not in old:
        return key  # corrected in place
    raise AppError(f"This edit removes the right option (“{question.choices[key]}”): say which option is right now.",
                   code="key_removed", details={"correct_choice": ["Say which option is right now."]})


def question_create(
    *, exam: Exam, kind: str, prompt: str, choices: list[str], correct_choice: int | None, points: int = 1
) -> Question:
    """Append a question at the end of the exam. ``correct_choice`` is a 0-based index."""
    _check_question(kind, choices, correct_choice)
    if kind != QuestionKind.MULTIPLE_CHOICE:
        choices, correct_choice = [], None
    last = Question.objects.filter(exam=exam).aggregate(last=Max("position"))["last"]
    return Question.objects.create(
        institution_id=exam.institution_id, exam=exam, position=(last or 0) + 1, kind=kind, prompt=prompt,
        choices=choices, correct_choice=correct_choice, points=points,
    )


@transaction.atomic
def question_update(
    *, question: Question, kind: str = KEEP, prompt: str = KEEP, choices: list[str] = KEEP,
    correct_choice: int | None = KEEP, points: int = KEEP,
) -> Question:
    """Change a question (arguments left out keep their value, read under the row's lock: two edits at once each
    keep the other's fields). ``correct_choice`` left out follows its option's text where the options moved."""
    question = Question.objects.select_for_update(of=("self",)).get(pk=question.pk)
    kind = question.kind if kind is KEEP else kind
    prompt = question.prompt if prompt is KEEP else prompt
    points = question.points if points is KEEP else points
    choices = question.choices if choices is KEEP else choices
    if correct_choice is KEEP:
        correct_choice = _key_moved(question, choices) if kind == QuestionKind.MULTIPLE_CHOICE else None
    _check_question(kind, choices, correct_choice)
    if kind != QuestionKind.MULTIPLE_CHOICE:
        choices, correct_choice = [], None
    _keep_answers(question, kind, choices)
    question.kind, question.prompt, question.points = kind, prompt, points
    question.choices, question.correct_choice = choices, correct_choice
    question.save(update_fields=["kind", "prompt", "points", "choices", "correct_choice"])
    return question


@transaction.atomic
def question_delete(*, question: Question) -> None:
    """Remove a question nobody has answered yet, and close the gap in the numbering."""
    if Answer.objects.filter(question=question).exists():
        raise Conflict("Students have already answered this question; it cannot be deleted.",
                       code="question_answered")
    exam = question.exam
    question.delete()
    _renumber(exam, list(Question.objects.filter(exam=exam)))


@transaction.atomic
def question_move(*, question: Question, offset: int) -> None:
    """Move a question ``offset`` places (negative: earlier); positions stay 1..n."""
    questions = list(Question.objects.select_for_update(of=("self",)).filter(exam_id=question.exam_id))
    index = next(i for i, q in enumerate(questions) if q.pk == question.pk)
    target = min(max(index + offset, 0), len(questions) - 1)
    questions.insert(target, questions.pop(index))
    _renumber(question.exam, questions)


def _renumber(exam: Exam, questions: list[Question]) -> None:
    changed = []
    for position, question in enumerate(questions, start=1):
        if question.position != position:
            question.position = position
            changed.append(question)
    Question.objects.bulk_update(changed, ["position"])


@transaction.atomic
def exam_set_status(*, exam_id: int, to: str, actor: User) -> Exam:
    """Publish, unpublish or archive an exam: row lock, transition table, audit event.

    The one way an exam's status changes: the API's status endpoint, the /manage/ pages and the
    admin's actions call it; elsewhere the status is read-only.
    """
    exam = Exam.objects.select_for_update(of=("self",)).get(pk=exam_id)
    if to not in EXAM_TRANSITIONS[exam.status]:
        raise Conflict(f"A {exam.get_status_display().lower()} exam cannot become {to}.",
                       code="invalid_transition", details={"from": exam.status, "to": to})
    if to == ExamStatus.PUBLISHED and not Question.objects.filter(exam=exam).exists():
        raise AppError("Add at least one question before publishing.", code="exam_has_no_questions")
    if exam.status == ExamStatus.PUBLISHED and ExamSession.objects.filter(
        exam=exam, status__in=ACCEPTS_FRAMES
    ).exists():
        raise Conflict("Students are sitting this exam right now; it cannot be taken offline.",
                       code="exam_in_progress")
    previous = exam.status
    exam.status = to
    exam.save(update_fields=["status", "updated_at"])
    audit(institution_id=exam.institution_id, actor=actor, action="exam.status", target=exam,
          data={"from": previous, "to": to})
    return exam


@transaction.atomic
def enrolment_add(*, exam: Exam, students: Iterable[User], actor: User) -> list[ExamSession]:
    """Enrol students (idempotent per student: an existing session is kept)."""
    if exam.status == ExamStatus.ARCHIVED:
        raise AppError("An archived exam takes no new students.", code="exam_archived")
    sessions = [session_create(exam=exam, student=student) for student in students]
    if sessions:
        audit(institution_id=exam.institution_id, actor=actor, action="exam.enrol", target=exam,
              data={"students": [s.student_id for s in sessions]})
    return sessions


@transaction.atomic
def enrolment_remove(*, exam: Exam, student: User, actor: User) -> None:
    """Un-enrol a student whose sitting has not begun (no consent, frames or answers yet). A sitting that
    began is kept: deleting it (and its evidence) is ``session_delete``, a separate, deliberate act."""
    session = ExamSession.objects.select_for_update(of=("self",)).filter(exam=exam, student=student).first()
    if session is None:
        raise NotFound("Not found.")  # as for a student who does not exist
    if session.status != SessionStatus.SCHEDULED:
        raise Conflict("This student has begun the exam; delete the session itself to remove it with its data.",
                       code="session_begun", details={"session": session.pk, "status": session.status})
    audit(institution_id=exam.institution_id, actor=actor, action="exam.unenrol", target=exam,
          data={"student": student.pk})
    session_delete(session=session, actor=actor)
