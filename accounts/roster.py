"""The institution's people: adding students and proctors, CSV import, invite links, institution settings."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet
from django.urls import reverse

from accounts.deletion import Erasure, erase_dependents
from accounts.errors import AppError, Conflict
from accounts.mail import token_query
from accounts.models import Institution, Role, User
from accounts.selectors import has_reference_face
from accounts.services import user_create
from accounts.timezones import validate_time_zone

MAX_IMPORT_BYTES = 1024 * 1024
MAX_IMPORT_ROWS = 5000
IMPORT_COLUMNS = ("email", "name", "student_number")


# --- reads -----------------------------------------------------------------------------------------


def student_list(*, search: str = "", missing_face: bool = False) -> QuerySet[User]:
    """The institution's students, each with ``has_face`` (a reference face is registered) and
    ``has_accommodation``."""
    students = (User.objects.in_scope().filter(role=Role.STUDENT).annotate(
        has_face=has_reference_face(),
        # exams.Accommodation, through its reverse name (accounts does not import exams)
        has_accommodation=ExpressionWrapper(Q(accommodation__isnull=False), output_field=BooleanField()),
    ).order_by("full_name", "email"))
    if search:
        students = students.filter(
            Q(full_name__icontains=search) | Q(email__icontains=search) | Q(student_number__icontains=search)
        )
    return students.filter(has_face=False) if missing_face else students


def person_add(
    *, institution: Institution, role: str, email: str, full_name: str, student_number: str = "",
    password: str | None = None, invite_base_url: str | None = None, actor: User | None = None,
) -> User:
    """A student or proctor; without a password the account waits for an invite link, mailed to them
    when ``invite_base_url`` is given."""
    if role not in (Role.STUDENT, Role.PROCTOR):
        raise AppError("Only students and proctors are added here.", code="invalid_role")
    return user_create(institution=institution, email=email, role=role, full_name=full_name.strip(),
                       student_number=student_number.strip(), password=password or None,
                       invite_base_url=invite_base_url, actor=actor)


@transaction.atomic
def user_delete(*, user: User, actor: User | None) -> None:
    """Delete a person with their sessions, erasing their biometric data everywhere (accounts.deletion).

    The audit event keeps the id and role only: the person's name and email go with them, from the earlier events
    too (accounts.audit.audit_forget_person, called by the eraser, proctoring.erasure).
    """
    if actor is not None and user.pk == actor.pk:
        raise AppError("You cannot delete your own account.", code="self_deletion")
    erase_dependents(Erasure(user_ids=(user.pk,)))
    if user.institution_id is not None:
        from accounts.audit import audit

        audit(institution_id=user.institution_id, actor=actor, action="user.delete", target=user,
              data={"role": user.role})
    user.delete()


@transaction.atomic
def institution_delete(*, institution: Institution) -> None:
    """Delete a tenant with everything it owns, erasing all its biometric data everywhere."""
    erase_dependents(Erasure(institution_id=institution.pk))
    institution.delete()


# --- invite links ----------------------------------------------------------------------------------


def invite_resend(*, user: User, actor: User, base_url: str) -> None:
    """Mail the person their invite link again (audited)."""
    from accounts.audit import audit
    from accounts.mail import queue_invite

    if user.has_usable_password():
        raise Conflict("This person has already chosen a password.", code="password_already_set")
    if not user.is_active:
        raise Conflict("This account is deactivated.", code="inactive")
    queue_invite(user=user, base_url=base_url)
    audit(institution_id=user.institution_id, actor=actor, action="user.invite", target=user, data={})


def invite_path(*, user: User) -> str:
    """A one-time link to choose a password (Django's reset token: it dies once a password is set)."""
    if user.has_usable_password():
        raise AppError("This person has already chosen a password.", code="password_already_set")
    return f"{reverse('password-set')}?{urlencode(token_query(user))}"


# --- CSV import ------------------------------------------------------------------------------------


@dataclass
class ImportRow:
    line: int
    email: str
    name: str
    student_number: str
    errors: list[str] = field(default_factory=list)
    skipped: bool = False  # the person has an account here already, and the import was asked to leave them


@dataclass
class ImportResult:
    """What an import found: a file-level problem, per-row errors, or the students it created."""

    problem: str = ""
    rows: list[ImportRow] = field(default_factory=list)
    created: list[User] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)  # headers of columns the import does not read

    @property
    def invalid_rows(self) -> list[ImportRow]:
        return [row for row in self.rows if row.errors]

    @property
    def skipped(self) -> list[ImportRow]:
        return [row for row in self.rows if row.skipped]

    @property
    def ok(self) -> bool:
        return not self.problem and not self.invalid_rows


def students_import(*, institution: Institution, data: bytes, invite_base_url: str | None = None,
                    actor: User | None = None, skip_existing: bool = False) -> ImportResult:
    """Import students from CSV (header ``email,name,student_number``): every row, or none; with
    ``invite_base_url`` each new student is mailed an invite once the import commits.

    Every row is validated first (email, duplicates in the file, existing accounts); any error
    imports nothing and the result lists each bad row. With ``skip_existing``, a row whose email has an account in
    the institution already is left out (``skipped``), not an error: a new term's list holds last term's students
    too (an audit's list of 152, 150 of them imported the term before, was refused whole).
    """
    result = _parse(data, institution=institution, skip_existing=skip_existing)
    if not result.ok:
        return result
    try:
        with transaction.atomic():
            result.created = [
                user_create(institution=institution, email=row.email, role=Role.STUDENT, full_name=row.name,
                            student_number=row.student_number, invite_base_url=invite_base_url, actor=actor)
                for row in result.rows if not row.skipped
            ]
    except AppError as error:  # an account appeared between validation and creation
        result.created = []
        result.problem = f"Nothing was imported: {error.message}"
    return result


def _parse(data: bytes, *, institution: Institution, skip_existing: bool = False) -> ImportResult:
    if len(data) > MAX_IMPORT_BYTES:
        return ImportResult(problem=f"The file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return ImportResult(problem="The file is not UTF-8 text. Save it as “CSV UTF-8” and try again.")
    try:
        lines = list(csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text)))
    except csv.Error as exc:
        return ImportResult(problem=f"The file is not valid CSV: {exc}.")
    if not lines or not any(cell.strip() for cell in lines[0]):
        return ImportResult(problem="The file is empty. The first row must be: email,name,student_number.")
    header = [_column(cell) for cell in lines[0]]
    missing = [column for column in IMPORT_COLUMNS[:2] if column not in header]  # a student number is optional
    if missing:
        return ImportResult(problem=f"The header row lacks {', '.join(missing)}. "
                                    f"The first row must be: email,name,student_number (separated by commas or "
                                    f"semicolons; student_number may be left out).")
    index = {column: header.index(column) if column in header else -1 for column in IMPORT_COLUMNS}
    # Said on the result page: a student number under a header not known here was dropped without a word (a re-audit).
    ignored = [cell.strip() for position, cell in enumerate(lines[0])
               if cell.strip() and position not in index.values()]
    rows = [
        ImportRow(line=line, email=_cell(cells, index["email"]), name=_cell(cells, index["name"]),
                  student_number=_cell(cells, index["student_number"]))
        for line, cells in enumerate(lines[1:], start=2)
        if any(cell.strip() for cell in cells)
    ]
    if not rows:
        return ImportResult(problem="The file has a header row but no students.")
    if len(rows) > MAX_IMPORT_ROWS:
        return ImportResult(problem=f"The file has {len(rows)} students; import at most {MAX_IMPORT_ROWS} at once.")
    _validate(rows, institution=institution, skip_existing=skip_existing)
    return ImportResult(rows=rows, ignored_columns=ignored)


def _cell(cells: list[str], position: int) -> str:
    return cells[position].strip() if 0 <= position < len(cells) else ""


# Header names registrars' files use for the three columns (an audit: "Full Name" and "Student ID" were refused).
HEADER_NAMES = {
    "e_mail": "email", "email_address": "email", "mail": "email",
    "full_name": "name", "student_name": "name", "fullname": "name",
    "student_id": "student_number", "student_no": "student_number", "id_number": "student_number",
    "matriculation_number": "student_number", "number": "student_number",
}


def _column(cell: str) -> str:
    """The column a header cell names: "Student ID" -> student_number, "E-mail" -> email, "Name" -> name."""
    name = cell.strip().lower().replace(" ", "_").replace("-", "_")
    return HEADER_NAMES.get(name, name)


def _delimiter(text: str) -> str:
    """The header row's separator: a semicolon where it has more of them than commas (what a spreadsheet saves as
    CSV in many European locales; an audit's file was refused as lacking all three columns), else a comma."""
    first = text.split("\n", 1)[0]
    return ";" if first.count(";") > first.count(",") else ","


EMAIL_MAX = 254  # User.email's column


def _control_characters(text: str) -> bool:
    """Whether ``text`` holds a control character (a NUL, which PostgreSQL refuses in text, a tab, a line break):
    no name, email or student number has one."""
    return any(ord(c) < 32 or ord(c) == 127 for c in text)


def _validate(rows: list[ImportRow], *, institution: Institution, skip_existing: bool = False) -> None:
    """Each row's errors: the model's limits (an audit stored a NUL in a name, a 272-character email and a student
    number twice, with no word; PostgreSQL would have refused the first two with a server error), duplicates in
    the file and against the institution's accounts."""
    first_line: dict[str, int] = {}
    number_line: dict[str, int] = {}
    for row in rows:
        row.email = row.email.lower()
        for label, value in (("name", row.name), ("email", row.email), ("student number", row.student_number)):
            if _control_characters(value):
                row.errors.append(f"The {label} holds a control character (a tab, a line break or a NUL).")
        if len(row.email) > EMAIL_MAX:
            row.errors.append(f"The email is longer than {EMAIL_MAX} characters.")
        else:
            try:
                validate_email(row.email)
            except ValidationError:
                row.errors.append(f"“{row.email}” is not a valid email address." if row.email
                                  else "The email is missing.")
        if not row.name:
            row.errors.append("The name is missing.")
        elif len(row.name) > 200:
            row.errors.append("The name is longer than 200 characters.")
        if len(row.student_number) > 64:
            row.errors.append("The student number is longer than 64 characters.")
        if row.email in first_line:
            row.errors.append(f"The email is already on line {first_line[row.email]} of the file.")
        first_line.setdefault(row.email, row.line)
        if row.student_number:
            if row.student_number in number_line:
                row.errors.append(f"The student number is already on line {number_line[row.student_number]} of "
                                  "the file.")
            number_line.setdefault(row.student_number, row.line)
    existing = dict(User.objects.filter(institution=institution, email__in=list(first_line))
                    .values_list("email", "role"))
    numbers = set(User.objects.filter(institution=institution, student_number__in=list(number_line))
                  .values_list("student_number", flat=True))
    for row in rows:
        if row.email in existing and skip_existing and existing[row.email] == Role.STUDENT:
            row.skipped = True
            continue
        if row.email in existing and existing[row.email] != Role.STUDENT:  # (a re-audit: counted as a student)
            row.errors.append("This email belongs to a staff account, not a student's.")
            continue
        if row.email in existing:
            row.errors.append("An account with this email already exists.")
        if row.student_number in numbers:
            row.errors.append("Another account of the institution has this student number.")


# --- institution settings --------------------------------------------------------------------------


@transaction.atomic
def institution_settings_update(
    *, institution_id: int, actor: User, frame_retention_days: int, consent_text: str,
    face_retention_days: int | None = None, time_zone: str | None = None, appeal_window_days: int | None = None,
) -> Institution:
    """Save retention, consent text, time zone and appeal window; a changed consent text is a new consent version.

    ``face_retention_days``, ``time_zone``, ``appeal_window_days``: None keeps the current one."""
    from accounts.audit import audit

    institution = Institution.objects.select_for_update().get(pk=institution_id)
    consent_text = consent_text.strip()
    changed = {}
    if frame_retention_days != institution.frame_retention_days:
        changed["frame_retention_days"] = [institution.frame_retention_days, frame_retention_days]
        institution.frame_retention_days = frame_retention_days
    if face_retention_days is not None and face_retention_days != institution.face_retention_days:
        changed["face_retention_days"] = [institution.face_retention_days, face_retention_days]
        institution.face_retention_days = face_retention_days
    if appeal_window_days is not None and appeal_window_days != institution.appeal_window_days:
        if not 0 <= appeal_window_days <= 365:
            raise AppError("The appeal window is 0 to 365 days.", code="invalid",
                           details={"appeal_window_days": ["From 0 to 365."]})
        changed["appeal_window_days"] = [institution.appeal_window_days, appeal_window_days]
        institution.appeal_window_days = appeal_window_days
    if time_zone is not None and time_zone != institution.time_zone:
        try:
            validate_time_zone(time_zone)
        except ValidationError as exc:
            raise AppError(exc.messages[0], code="invalid_time_zone", details={"time_zone": exc.messages}) from exc
        changed["time_zone"] = [institution.time_zone, time_zone]
        institution.time_zone = time_zone
    if consent_text != institution.consent_text.strip():
        institution.consent_text = consent_text
        institution.consent_version += 1
        changed["consent_version"] = [institution.consent_version - 1, institution.consent_version]
    if changed:
        institution.save(update_fields=["frame_retention_days", "face_retention_days", "consent_text",
                                        "consent_version", "time_zone", "appeal_window_days"])
        audit(institution_id=institution.pk, actor=actor, action="institution.settings", target=institution,
              data=changed)
    return institution
