from __future__ import annotations

from django.urls import path

from exams import api

urlpatterns = [
    path("exams/", api.ExamListView.as_view(), name="api-exams"),
    path("exams/<int:pk>/", api.ExamDetailView.as_view(), name="api-exam-detail"),
    path("exams/<int:pk>/status", api.ExamStatusView.as_view(), name="api-exam-status"),
    path("exams/<int:pk>/questions", api.QuestionListView.as_view(), name="api-exam-questions"),
    path("exams/<int:pk>/questions/<int:qpk>", api.QuestionDetailView.as_view(), name="api-exam-question-detail"),
    path("exams/<int:pk>/enrolments", api.EnrolmentListView.as_view(), name="api-exam-enrolments"),
    path("exams/<int:pk>/enrolments/<int:student_pk>", api.EnrolmentDetailView.as_view(),
         name="api-exam-enrolment-detail"),
    path("sessions/", api.SessionListView.as_view(), name="api-sessions"),
    path("sessions/<int:pk>/", api.SessionDetailView.as_view(), name="api-session-detail"),
    path("sessions/<int:pk>/transition", api.SessionTransitionView.as_view(), name="api-session-transition"),
    path("sessions/<int:pk>/end", api.SessionEndView.as_view(), name="api-session-end"),
    path("sessions/<int:pk>/reset", api.SessionResetView.as_view(), name="api-session-reset"),
    path("sessions/<int:pk>/unlock", api.SessionUnlockView.as_view(), name="api-session-unlock"),
    path("sessions/<int:pk>/consent", api.ConsentView.as_view(), name="api-session-consent"),
    path("sessions/<int:pk>/answers", api.AnswerView.as_view(), name="api-session-answers"),
    path("answers/<int:pk>/grade", api.AnswerGradeView.as_view(), name="api-answer-grade"),
    path("sessions/<int:pk>/microphone-check", api.MicrophoneCheckView.as_view(), name="api-session-microphone-check"),
    path("students/<int:pk>/accommodation", api.AccommodationView.as_view(), name="api-student-accommodation"),
]
