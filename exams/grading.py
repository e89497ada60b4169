"""Scores: multiple choice scored from the question's key, short text graded by staff.

A multiple-choice answer is scored whenever it is read, from the question's *current* key and points:
changing the key (the question editor) re-scores every session at once, and nothing stored can go stale.
A short-text answer carries the grade a staff member gave it (``answer_grade``); until every answered
short-text question of a session is graded, the session's score is *pending*. An unanswered question
(no answer, an empty text, no option picked) scores 0 and needs no grading.

Who grades: admins (they own the exam and its key). Proctors read answers and scores, as they read the
reports, but do not grade. Students never see the key nor anyone's score: the exam page renders the
prompts and options only, and the staff answer views refuse students.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.audit import audit
from accounts.errors import AppError, Conflict, NotFound
from accounts.models import Role, User
from exams.models import Answer, ExamSession, Question, QuestionKind
from exams.statuses import FINISHED

COMMENT_MAX = 2000

# The state of one question's answer, as staff see it.
CORRECT, INCORRECT, UNANSWERED, UNGRADED, GRADED = "correct", "incorrect", "unanswered", "ungraded", "graded"
STATE_LABELS = {CORRECT: "Correct", INCORRECT: "Incorrect", UNANSWERED: "No answer", UNGRADED: "To grade",
                GRADED: "Graded"}


@dataclass(frozen=True)
class Score:
    earned: int
    maximum: int
    pending: int  # short-text answers still to grade

    @property
    def graded(self) -> bool:
        return self.pending == 0

    @property
    def state(self) -> str:
        return "graded" if self.graded else "pending"

    def __iter__(self) -> Any:  # (earned, maximum), as the reports' old tuple
        return iter((self.earned, self.maximum))

    def __str__(self) -> str:
        return f"{self.earned} / {self.maximum}" + ("" if self.graded else f" (pending: {self.pending} to grade)")


@dataclass(frozen=True)
class AnswerRow:
    question: Question
    answer: Answer | None
    state: str
    points: int | None  # awarded; None while ungraded

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]

    @property
    def choice_text(self) -> str:
        if self.answer is None or self.answer.choice is None:
            return ""
        choices = self.question.choices or []
        return choices[self.answer.choice] if self.answer.choice < len(choices) else ""

    @property
    def correct_text(self) -> str:
        key, choices = self.question.correct_choice, self.question.choices or []
        return choices[key] if key is not None and key < len(choices) else ""


def _row(question: Question, answer: Answer | None) -> AnswerRow:
    if question.kind == QuestionKind.MULTIPLE_CHOICE:
        if answer is None or answer.choice is None:
            return AnswerRow(question, answer, UNANSWERED, 0)
        right = question.correct_choice is not None and answer.choice == question.correct_choice
        return AnswerRow(question, answer, CORRECT if right else INCORRECT, question.points if right else 0)
    if answer is None or not answer.text.strip():
        return AnswerRow(question, answer, UNANSWERED, 0)
    if answer.points_awarded is None:
        return AnswerRow(question, answer, UNGRADED, None)
    # A grade given before the question's points were lowered counts at most the points it has now.
    return AnswerRow(question, answer, GRADED, min(answer.points_awarded, question.points))


def session_answers(session: ExamSession) -> list[AnswerRow]:
    """Every question of the session's exam, in order, with the student's answer and its state."""
    answers = {a.question_id: a for a in Answer.objects.filter(session=session).select_related("graded_by")}
    return [_row(q, answers.get(q.pk)) for q in Question.objects.filter(exam_id=session.exam_id)]


def score_of(rows: list[AnswerRow]) -> Score:
    return Score(earned=sum(r.points or 0 for r in rows), maximum=sum(r.question.points for r in rows),
                 pending=sum(r.state == UNGRADED for r in rows))


def session_score(session: ExamSession) -> Score:
    return score_of(session_answers(session))


def exam_scores(*, exam_id: int) -> dict[int, Score]:
    """Every session's score of one exam (session id -> Score), in two queries."""
    questions = list(Question.objects.filter(exam_id=exam_id))
    by_session: dict[int, dict[int, Answer]] = {}
    for answer in Answer.objects.filter(session__exam_id=exam_id):
        by_session.setdefault(answer.session_id, {})[answer.question_id] = answer
    return {session_id: score_of([_row(q, by_session.get(session_id, {}).get(q.pk)) for q in questions])
            for session_id in ExamSession.objects.filter(exam_id=exam_id).values_list("pk", flat=True)}


def may_grade(user: User) -> bool:
    return bool(user.is_superuser or getattr(user, "role", None) == Role.ADMIN)


def access_answer_by_id(*, actor: User, answer_id: int, for_update: bool = False) -> Answer:
    """An answer of the actor's institution, for staff; another institution's, or none: the same 404."""
    if getattr(actor, "role", None) == Role.STUDENT and not actor.is_superuser:
        raise NotFound("Not found.")
    answers = Answer.objects.select_related("question", "session")
    if for_update:
        answers = answers.select_for_update(of=("self",))
    answer = answers.filter(pk=answer_id).first()
    if answer is None:
        raise NotFound("Not found.")
    return answer


def _grade_state(answer: Answer) -> dict[str, Any]:
    return {"points": answer.points_awarded, "comment": answer.grade_comment}


@transaction.atomic
def answer_grade(*, actor: User, answer: Answer, points: int, comment: str = "") -> Answer:
    """Grade a short-text answer of a finished session: 0..the question's points, an optional comment.

    Locks the answer, checks the bounds and the session's state, and audits the grade with the one
    before it. Precondition: ``answer`` came from ``access_answer_by_id`` for ``actor``.
    """
    if not may_grade(actor):
        raise AppError("Only admins grade answers.", code="forbidden", status_code=403)
    answer = Answer.objects.select_for_update(of=("self",)).select_related("question", "session").get(pk=answer.pk)
    question, session = answer.question, answer.session
    if question.kind != QuestionKind.SHORT_TEXT:
        raise AppError("Multiple-choice answers are scored from the question's key, not graded by hand.",
                       code="not_gradable", details={"answer": ["Multiple choice."]})
    if session.status not in FINISHED:
        raise Conflict("The exam is still running; grade it once the student has finished.",
                       code="session_not_finished", details={"status": session.status})
    if isinstance(points, bool) or not isinstance(points, int) or not 0 <= points <= question.points:
        raise AppError(f"Give 0 to {question.points} points.", code="invalid",
                       details={"points": [f"From 0 to {question.points}."]})
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX or "\x00" in comment:
        raise AppError(f"A comment is text of at most {COMMENT_MAX} characters.", code="invalid",
                       details={"comment": [f"At most {COMMENT_MAX} characters."]})
    before = _grade_state(answer) if answer.points_awarded is not None else None
    answer.points_awarded, answer.grade_comment = points, comment
    answer.graded_by, answer.graded_at = actor, timezone.now()
    answer.save(update_fields=["points_awarded", "grade_comment", "graded_by", "graded_at"])
    audit(institution_id=answer.institution_id, actor=actor, action="answer.grade", target=answer,
          data={"session": session.pk, "question": question.pk, "before": before, "after": _grade_state(answer)})
    return answer
