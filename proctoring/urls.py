from __future__ import annotations

from django.urls import path

import config.converters  # noqa: F401  (registers <id:...>)
from exams import views_grading, views_student
from proctoring import views, views_identity, views_record

urlpatterns = [
    path("sessions/<id:pk>/start", views_student.session_start, name="session-start"),
    path("sessions/<id:pk>/consent", views_student.session_consent, name="session-consent"),
    path("sessions/<id:pk>/check", views_student.session_check, name="session-check"),
    path("sessions/<id:pk>/exam", views_student.session_exam, name="session-exam"),
    path("sessions/<id:pk>/submit", views_student.session_submit, name="session-submit"),
    path("sessions/<id:pk>/done", views_student.session_done, name="session-done"),
    path("sessions/<id:pk>/report", views.session_report, name="session-report"),
    path("sessions/<id:pk>/answers", views_grading.session_answers, name="session-answers"),
    path("sessions/<id:pk>/record", views_record.session_record, name="session-record"),
    path("record/frames/<id:pk>.jpg", views_record.record_frame, name="record-frame"),
    path("record/incidents/<id:pk>/appeal", views_record.incident_appeal, name="incident-appeal"),
    path("record/my-data.zip", views_record.my_data, name="my-data"),
    path("appeals/", views_record.appeal_queue, name="appeal-queue"),
    path("appeals/<id:pk>/", views_record.appeal_detail, name="appeal-detail"),
    path("exams/<id:pk>/live", views.live, name="exam-live"),
    path("exams/<id:pk>/report", views.exam_report, name="exam-report"),
    path("exams/<id:pk>/report.csv", views.exam_report_csv, name="exam-report-csv"),
    path("review/", views.review_queue, name="review-queue"),
    path("review/bulk", views.review_bulk, name="review-bulk"),
    path("incidents/<id:pk>/", views.incident_detail, name="incident-detail"),
    path("identity/", views_identity.identity_queue, name="identity-queue"),
    path("identity/<id:pk>/", views_identity.identity_request, name="identity-request"),
    path("identity/<id:pk>/<str:which>.jpg", views_identity.identity_photo, name="identity-photo"),
    path("identity/<id:pk>/references/<id:number>.jpg", views_identity.identity_reference,
         name="identity-reference"),
]
