from __future__ import annotations

from django.urls import path

import config.converters  # noqa: F401  (registers <id:...>)
from proctoring import api, api_appeals, api_gate, api_live, api_speech

urlpatterns = [
    path("faces/", api.FaceListView.as_view(), name="api-faces"),
    path("faces/<uuid:external_image_id>/", api.FaceDetailView.as_view(), name="api-face-detail"),
    path("faces/<uuid:external_image_id>/image", api.FaceImageView.as_view(), name="api-face-image"),
    path("frames/<id:pk>/", api.FrameDetailView.as_view(), name="api-frame-detail"),
    path("frames/<id:pk>/image", api.FrameImageView.as_view(), name="api-frame-image"),
    path("incidents/", api.IncidentListView.as_view(), name="api-incidents"),
    path("incidents/review", api.IncidentBulkReviewView.as_view(), name="api-incidents-review"),
    path("incidents/<id:pk>/", api.IncidentDetailView.as_view(), name="api-incident-detail"),
    path("exams/<id:pk>/live", api.LiveView.as_view(), name="api-exam-live"),
    # A browser event becomes an incident, so the endpoint lives with incidents (exams never imports proctoring).
    path("sessions/<id:pk>/events", api.EventView.as_view(), name="api-session-events"),
    path("sessions/<id:pk>/messages", api_live.SessionMessagesView.as_view(), name="api-session-messages"),
    path("messages/<id:pk>/ack", api_live.MessageAcknowledgeView.as_view(), name="api-message-ack"),
    path("sessions/<id:pk>/speech", api_speech.SpeechView.as_view(), name="api-session-speech"),
    path("sessions/<id:pk>/speech-accommodation", api_speech.SpeechAccommodationView.as_view(),
         name="api-session-speech-accommodation"),
    path("speech/<id:pk>/clip", api_speech.SpeechClipView.as_view(), name="api-speech-clip"),
    path("sessions/<id:pk>/record", api_appeals.SessionRecordView.as_view(), name="api-session-record"),
    path("record/frames/<id:pk>/image", api_appeals.RecordFrameImageView.as_view(), name="api-record-frame-image"),
    path("incidents/<id:pk>/appeal", api_appeals.IncidentAppealView.as_view(), name="api-incident-appeal"),
    path("appeals/", api_appeals.AppealListView.as_view(), name="api-appeals"),
    path("appeals/<id:pk>/", api_appeals.AppealDetailView.as_view(), name="api-appeal-detail"),
    path("appeals/<id:pk>/decision", api_appeals.AppealDecisionView.as_view(), name="api-appeal-decision"),
    path("sessions/<id:pk>/gate", api_gate.GateStatusView.as_view(), name="api-session-gate"),
    path("sessions/<id:pk>/identity-requests", api_gate.IdentityRequestView.as_view(),
         name="api-session-identity-requests"),
]
