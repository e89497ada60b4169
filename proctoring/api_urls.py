from __future__ import annotations

from django.urls import path

from proctoring import api, api_appeals, api_gate, api_live, api_speech

urlpatterns = [
    path("faces/", api.FaceListView.as_view(), name="api-faces"),
    path("faces/<uuid:external_image_id>/", api.FaceDetailView.as_view(), name="api-face-detail"),
    path("faces/<uuid:external_image_id>/image", api.FaceImageView.as_view(), name="api-face-image"),
    path("frames/<int:pk>/", api.FrameDetailView.as_view(), name="api-frame-detail"),
    path("frames/<int:pk>/image", api.FrameImageView.as_view(), name="api-frame-image"),
    path("incidents/", api.IncidentListView.as_view(), name="api-incidents"),
    path("incidents/review", api.IncidentBulkReviewView.as_view(), name="api-incidents-review"),
    path("incidents/<int:pk>/", api.IncidentDetailView.as_view(), name="api-incident-detail"),
    path("exams/<int:pk>/live", api.LiveView.as_view(), name="api-exam-live"),
    # A browser event becomes an incident, so the endpoint lives with incidents (exams never imports proctoring).
    path("sessions/<int:pk>/events", api.EventView.as_view(), name="api-session-events"),
    path("sessions/<int:pk>/messages", api_live.SessionMessagesView.as_view(), name="api-session-messages"),
    path("messages/<int:pk>/ack", api_live.MessageAcknowledgeView.as_view(), name="api-message-ack"),
    path("sessions/<int:pk>/speech", api_speech.SpeechView.as_view(), name="api-session-speech"),
    path("sessions/<int:pk>/speech-accommodation", api_speech.SpeechAccommodationView.as_view(),
         name="api-session-speech-accommodation"),
    path("speech/<int:pk>/clip", api_speech.SpeechClipView.as_view(), name="api-speech-clip"),
    path("sessions/<int:pk>/record", api_appeals.SessionRecordView.as_view(), name="api-session-record"),
    path("record/frames/<int:pk>/image", api_appeals.RecordFrameImageView.as_view(), name="api-record-frame-image"),
    path("incidents/<int:pk>/appeal", api_appeals.IncidentAppealView.as_view(), name="api-incident-appeal"),
    path("appeals/", api_appeals.AppealListView.as_view(), name="api-appeals"),
    path("appeals/<int:pk>/", api_appeals.AppealDetailView.as_view(), name="api-appeal-detail"),
    path("appeals/<int:pk>/decision", api_appeals.AppealDecisionView.as_view(), name="api-appeal-decision"),
    path("sessions/<int:pk>/gate", api_gate.GateStatusView.as_view(), name="api-session-gate"),
    path("sessions/<int:pk>/identity-requests", api_gate.IdentityRequestView.as_view(),
         name="api-session-identity-requests"),
]
