from __future__ import annotations

from django.urls import path

import config.converters  # noqa: F401  (registers <id:...>)
from exams import api

urlpatterns = [
    path("exams/", api.ExamListView.as_view(), name="api-exams"),
    path("exams/<id:pk>/", api.ExamDetailView.as_view(), name="api-exam-detail"),
    path("exams/<id:pk>/status", api.ExamStatusView.as_view(), name="api-exam-status"),
    path("exams/<id:pk>/questions", api.QuestionListView.as_view(), name="api-exam-questions"),
    path("exams/<id:pk>/questions/<id:qpk>", api.QuestionDetailView.as_view(), name="api-exam-question-detail"),
    path("exams/<id:pk>/enrolments", api.EnrolmentListView.as_view(), name="api-exam-enrolments"),
    path("exams/<id:pk>/enrolments/<id:student_pk>", api.EnrolmentDetailView.as_view(),
         name="api-exam-enrolment-detail"),
    path("sessions/", api.SessionListView.as_view(), name="api-sessions"),
    path("sessions/<id:pk>/", api.SessionDetailView.as_view(), name="api-session-detail"),
    path("sessions/<id:pk>/transition", api.SessionTransitionView.as_view(), name="api-session-transition"),
    path("sessions/<id:pk>/end", api.SessionEndView.as_view(), name="api-session-end"),
    path("sessions/<id:pk>/reset", api.SessionResetView.as_view(), name="api-session-reset"),
    path("sessions/<id:pk>/unlock", api.SessionUnlockView.as_view(), name="api-session-unlock"),
    path("sessions/<id:pk>/consent", api.ConsentView.as_view(), name="api-session-consent"),
    path("sessions/<id:pk>/answers", api.AnswerView.as_view(), name="api-session-answers"),
    path("answers/<id:pk>/grade", api.AnswerGradeView.as_view(), name="api-answer-grade"),
    path("sessions/<id:pk>/microphone-check", api.MicrophoneCheckView.as_view(), name="api-session-microphone-check"),
    path("students/<id:pk>/accommodation", api.AccommodationView.as_view(), name="api-student-accommodation"),
]
