from __future__ import annotations

from django.urls import path

from exams.lti import proctoring, views

urlpatterns = [
    path("lti/login", views.oidc_login, name="lti-login"),
    path("lti/launch", views.launch, name="lti-launch"),
    path("lti/jwks.json", views.jwks, name="lti-jwks"),
    path("lti/link", views.link_exam, name="lti-link"),
    path("lti/start-assessment", proctoring.start_assessment, name="lti-start-assessment"),
]
