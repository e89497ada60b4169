"""Institution-admin pages (exams, questions, students, faces, settings)."""

from __future__ import annotations

from django.urls import path

import config.converters  # noqa: F401  (registers <id:...>)
from accounts import views_manage as people
from exams import views_manage as exams
from proctoring import views_manage as proctoring_pages

urlpatterns: list = [
    path("exams/", exams.exam_list, name="manage-exams"),
    path("exams/new", exams.exam_new, name="manage-exam-new"),
    path("exams/<id:pk>/edit", exams.exam_edit, name="manage-exam-edit"),
    path("exams/<id:pk>/questions", exams.exam_questions, name="manage-exam-questions"),
    path("exams/<id:pk>/questions/<id:qpk>/edit", exams.question_edit, name="manage-exam-question-edit"),
    path("exams/<id:pk>/questions/<id:qpk>/delete", exams.question_delete, name="manage-exam-question-delete"),
    path("exams/<id:pk>/publish", exams.exam_publish, name="manage-exam-publish"),
    path("exams/<id:pk>/enrolments", exams.exam_enrolments, name="manage-exam-enrolments"),
    path("exams/<id:pk>/delete", exams.exam_delete, name="manage-exam-delete"),
    path("exams/<id:pk>/sessions/<id:spk>/control", exams.session_control, name="manage-session-control"),
    path("exams/<id:pk>/sessions/<id:spk>/delete", exams.session_delete, name="manage-session-delete"),
    path("students/", people.student_list, name="manage-students"),
    path("students/new", people.student_new, name="manage-student-new"),
    path("students/import", people.students_import, name="manage-students-import"),
    path("students/photos", proctoring_pages.student_photos, name="manage-student-photos"),
    path("students/<id:pk>/face", proctoring_pages.student_face, name="manage-student-face"),
    path("faces/<uuid:external_image_id>/delete", proctoring_pages.face_delete, name="manage-face-delete"),
    path("students/<id:pk>/accommodation", exams.student_accommodation, name="manage-student-accommodation"),
    path("students/<id:pk>/delete", people.student_delete, name="manage-student-delete"),
    path("people/<id:pk>/invite", people.person_invite, name="manage-person-invite"),
    path("settings/", people.settings_page, name="manage-settings"),
    # The invitee's page: uid and token travel in the query string (see people.password_set).
    path("accounts/set-password", people.password_set, name="password-set"),
]
