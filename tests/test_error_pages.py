"""An AppError raised from a page renders its message and status; the API keeps its envelope."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from accounts.errors import Conflict
from accounts.middleware import AppErrorPageMiddleware
from exams.models import ExamSession
from tests.conftest import Tenant, page_client_for


def _raise(request: object) -> None:
    raise Conflict("You already submitted this exam.", code="invalid_transition")


def test_it_renders_an_app_errors_message_on_a_page() -> None:
    middleware = AppErrorPageMiddleware(lambda request: None)  # type: ignore[arg-type, return-value]
    request = RequestFactory().post("/sessions/1/submit")
    try:
        _raise(request)
    except Conflict as exc:
        response = middleware.process_exception(request, exc)
    assert response is not None and response.status_code == 409
    assert "You already submitted this exam." in response.content.decode()


@pytest.mark.django_db
def test_it_answers_a_double_submit_with_a_message_not_a_500(tenant_a: Tenant) -> None:
    ExamSession.unscoped.filter(pk=tenant_a.session.pk).update(status="in_progress")
    client = page_client_for(tenant_a.student)
    path = f"/sessions/{tenant_a.session.pk}/submit"
    assert client.post(path).status_code == 302
    again = client.post(path, follow=True)
    assert again.status_code in (200, 409)
    assert "cannot become submitted" in again.content.decode()


@pytest.mark.django_db
def test_it_renders_the_same_404_page_for_another_students_session(tenant_a: Tenant) -> None:
    from accounts import services

    other = services.user_create(institution=tenant_a.institution, email="other@alpha.test", role="student",
                                 full_name="Other")
    response = page_client_for(other).get(f"/sessions/{tenant_a.session.pk}/exam")
    missing = page_client_for(other).get("/sessions/999999/exam")
    assert response.status_code == missing.status_code == 404
    assert "Not found" in response.content.decode()
