"""The student's side of the record: decided incidents of an ended session with the reason and their own
evidence frames; one appeal per confirmed incident within the institution's window; the staff's queue and
decision; the outcome shown back; everything audited, and nobody else's."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from accounts import services, tenancy
from accounts.audit import AuditEvent
from accounts.models import Institution, Role
from exams.models import ExamSession
from exams.services import session_create
from proctoring.appeals import appeal_decide
from proctoring.models import Appeal, Frame, Incident
from proctoring.review import incident_review
from tests.conftest import PASSWORD, Tenant, api_client_for, page_client_for
from tests.proctoring.conftest import appealed, reviewed

pytestmark = pytest.mark.django_db

JPEG = b"\xff\xd8 not really a jpeg \xff\xd9"


def record(tenant: Tenant, user: Any = None) -> Any:
    return page_client_for(user or tenant.student).get(f"/sessions/{tenant.session.pk}/record")


def appeal_page(tenant: Tenant, note: str = "It was my reflection in the window.", user: Any = None) -> Any:
    return page_client_for(user or tenant.student).post(f"/record/incidents/{tenant.incident.pk}/appeal",
                                                        {"note": note})


def test_it_shows_a_decided_incident_with_its_reason_and_the_students_own_evidence(tenant_a: Tenant) -> None:
    reviewed(tenant_a, note="Someone leaned in from the left.")
    page = record(tenant_a)
    assert page.status_code == 200
    body = page.content.decode()
    assert "No face" in body and "Confirmed" in body and "Someone leaned in from the left." in body
    assert f"/record/frames/{tenant_a.frame.pk}.jpg" in body and "Send appeal" in body
    assert "once a reviewer has decided it" in body  # what "after the review" means, said on the page
    image = page_client_for(tenant_a.student).get(f"/record/frames/{tenant_a.frame.pk}.jpg")
    assert image.status_code == 200 and b"".join(image.streaming_content) == JPEG
    assert image["Cache-Control"] == "private, no-store"
    api = api_client_for(tenant_a.student).get(f"/api/v1/record/frames/{tenant_a.frame.pk}/image")
    assert api.status_code == 200 and b"".join(api.streaming_content) == JPEG


def test_it_links_the_record_from_the_students_dashboard(tenant_a: Tenant) -> None:
    reviewed(tenant_a)
    dashboard = page_client_for(tenant_a.student).get("/")
    assert f"/sessions/{tenant_a.session.pk}/record".encode() in dashboard.content


def test_it_hides_an_undecided_incident_its_frames_and_its_appeal(tenant_a: Tenant) -> None:
    ExamSession.unscoped.filter(pk=tenant_a.session.pk).update(status="submitted", ended_at=timezone.now())
    page = record(tenant_a)
    assert page.status_code == 200 and b"No face" not in page.content and b"No decided incident" in page.content
    client = page_client_for(tenant_a.student)
    assert client.get(f"/record/frames/{tenant_a.frame.pk}.jpg").status_code == 404
    assert appeal_page(tenant_a).status_code == 404
    api = api_client_for(tenant_a.student)
    assert api.get(f"/api/v1/record/frames/{tenant_a.frame.pk}/image").status_code == 404
    assert api.get(f"/api/v1/sessions/{tenant_a.session.pk}/record").json()["incidents"] == []
    assert api.post(f"/api/v1/incidents/{tenant_a.incident.pk}/appeal", {"note": "x"}, format="json"
                    ).status_code == 404
    assert Appeal.unscoped.count() == 0


def test_it_hides_a_decided_incident_while_the_session_runs(tenant_a: Tenant) -> None:
    reviewed(tenant_a)
    ExamSession.unscoped.filter(pk=tenant_a.session.pk).update(status="in_progress", ended_at=None)
    page = record(tenant_a)
    assert b"No face" not in page.content and b"has not ended yet" in page.content
    assert page_client_for(tenant_a.student).get(f"/record/frames/{tenant_a.frame.pk}.jpg").status_code == 404
    assert appeal_page(tenant_a).status_code == 404


def test_it_never_serves_a_frame_of_the_session_that_no_decided_incident_shows(tenant_a: Tenant) -> None:
    reviewed(tenant_a)
    with tenancy.tenant_scope(tenant_a.institution):
        other = Frame(institution=tenant_a.institution, session=tenant_a.session, received_at=timezone.now())
        other.image.save("f.jpg", ContentFile(JPEG))
    assert page_client_for(tenant_a.student).get(f"/record/frames/{other.pk}.jpg").status_code == 404


@pytest.mark.parametrize("path", ["/record/frames/{}.jpg", "/api/v1/record/frames/{}/image", "/api/v1/frames/{}/",
                                  "/api/v1/sessions/{}/gate", "/sessions/{}/check"])
def test_an_id_too_large_for_the_database_is_not_found(tenant_a: Tenant, path: str) -> None:
    # 2**63 is past every database's ids: Django's <int:...> once passed it on, and SQLite failed on it (a 500).
    reviewed(tenant_a)
    assert page_client_for(tenant_a.student).get(path.format(2**63)).status_code == 404
    assert page_client_for(tenant_a.student).get(path.format(10**40)).status_code == 404


def test_it_takes_one_appeal_per_incident(tenant_a: Tenant) -> None:
    reviewed(tenant_a)
    first = appeal_page(tenant_a)
    assert first.status_code == 302 and first["Location"].endswith(f"#incident-{tenant_a.incident.pk}")
    again = appeal_page(tenant_a, note="And another thing.")
    assert again.status_code == 409 and b"an incident is appealed once" in again.content
    api = api_client_for(tenant_a.student).post(f"/api/v1/incidents/{tenant_a.incident.pk}/appeal",
                                                {"note": "Third time."}, format="json")
    assert api.status_code == 409 and api.json()["error"]["code"] == "appeal_exists"
    assert list(Appeal.unscoped.values_list("note", flat=True)) == ["It was my reflection in the window."]


def test_it_refuses_an_appeal_once_the_window_has_closed_with_a_message(tenant_a: Tenant) -> None:
    reviewed(tenant_a, days_ago=15)  # the default window: 14 days
    page = appeal_page(tenant_a)
    assert page.status_code == 409
    assert b"The appeal window (14 days from the decision) has closed." in page.content
    assert b"It was my reflection in the window." in page.content  # the note is given back, not lost
    response = api_client_for(tenant_a.student).post(f"/api/v1/incidents/{tenant_a.incident.pk}/appeal",
                                                     {"note": "x"}, format="json")
    assert response.status_code == 409 and "has closed" in response.json()["error"]["message"]
    assert Appeal.unscoped.count() == 0


def test_it_takes_an_appeal_until_the_window_closes(tenant_a: Tenant) -> None:
    reviewed(tenant_a, days_ago=13.9)
    assert appeal_page(tenant_a).status_code == 302


def test_it_takes_no_appeal_when_the_institution_set_no_window(tenant_a: Tenant) -> None:
    Institution.objects.filter(pk=tenant_a.institution.pk).update(appeal_window_days=0)
    reviewed(tenant_a)
    assert b"Your institution does not take appeals." in record(tenant_a).content
    page = appeal_page(tenant_a)
    assert page.status_code == 409 and b"does not take appeals" in page.content


def test_it_lets_an_admin_set_the_window_on_the_settings_page(tenant_a: Tenant) -> None:
    admin = page_client_for(tenant_a.admin)
    response = admin.post("/settings/", {"form": "settings", "frame_retention_days": "30",
                                         "consent_text": tenant_a.institution.consent_text, "appeal_window_days": "3"})
    assert response.status_code == 302
    assert Institution.objects.get(pk=tenant_a.institution.pk).appeal_window_days == 3
    with tenancy.tenant_scope(tenant_a.institution):
        assert AuditEvent.objects.get(action="institution.settings").data == {"appeal_window_days": [14, 3]}
    refused = admin.post("/settings/", {"form": "settings", "frame_retention_days": "30",
                                        "consent_text": "x", "appeal_window_days": "-1"})
    assert refused.status_code == 200 and b"greater than or equal to 0" in refused.content


def test_it_requires_a_note(tenant_a: Tenant) -> None:
    reviewed(tenant_a)
    page = appeal_page(tenant_a, note="   ")
    assert page.status_code == 400 and b"the note is required" in page.content
    # Said beside the field, which has the focus, and named for its decision (an accessibility audit).
    body = page.content.decode()
    field = re.search(rf'<textarea id="note-{tenant_a.incident.pk}"[^>]*>', body).group(0)
    assert "autofocus" in field and f'aria-describedby="note-error-{tenant_a.incident.pk}"' in field
    assert f'role="alert" id="note-error-{tenant_a.incident.pk}"' in body
    assert "Appeal the decision on “No face" in body
    api = api_client_for(tenant_a.student).post(f"/api/v1/incidents/{tenant_a.incident.pk}/appeal", {},
                                                format="json")
    assert api.status_code == 400
    assert Appeal.unscoped.count() == 0


def test_it_takes_no_appeal_of_a_dismissed_incident(tenant_a: Tenant) -> None:
    reviewed(tenant_a, decision="dismissed", note="Just a shadow.")
    assert b"Dismissed: nothing to appeal." in record(tenant_a).content
    assert appeal_page(tenant_a).status_code == 409


def test_it_answers_another_student_404_for_everything_of_the_record(tenant_a: Tenant) -> None:
    reviewed(tenant_a)
    other = services.user_create(institution=tenant_a.institution, email="other@alpha.test", role=Role.STUDENT,
                                 password=PASSWORD, full_name="Other Student")
    with tenancy.tenant_scope(tenant_a.institution):
        session_create(exam=tenant_a.exam, student=other)
    client = page_client_for(other)
    assert record(tenant_a, other).status_code == 404
    assert client.get(f"/record/frames/{tenant_a.frame.pk}.jpg").status_code == 404
    assert appeal_page(tenant_a, user=other).status_code == 404
    api = api_client_for(other)
    assert api.get(f"/api/v1/sessions/{tenant_a.session.pk}/record").status_code == 404
    assert api.get(f"/api/v1/record/frames/{tenant_a.frame.pk}/image").status_code == 404
    assert api.post(f"/api/v1/incidents/{tenant_a.incident.pk}/appeal", {"note": "x"}, format="json"
                    ).status_code == 404
    assert Appeal.unscoped.count() == 0


def test_it_answers_another_institutions_staff_404_and_changes_nothing(tenant_a: Tenant, tenant_b: Tenant) -> None:
    appeal = appealed(tenant_a)
    for user in (tenant_b.proctor, tenant_b.admin):
        client = page_client_for(user)
        assert client.get(f"/appeals/{appeal.pk}/").status_code == 404
        assert client.post(f"/appeals/{appeal.pk}/", {"decision": "overturned"}).status_code == 404
        api = api_client_for(user)
        assert api.post(f"/api/v1/appeals/{appeal.pk}/decision", {"decision": "overturned"}, format="json"
                        ).status_code == 404
        assert api.get("/api/v1/appeals/").json()["count"] == 0
        assert b"alpha Student" not in client.get("/appeals/?status=all").content
    appeal.refresh_from_db()
    assert appeal.status == "open"
    assert Incident.unscoped.get(pk=tenant_a.incident.pk).review_status == "confirmed"


def test_it_keeps_the_queue_for_staff(tenant_a: Tenant) -> None:
    appeal = appealed(tenant_a)
    assert page_client_for(tenant_a.student).get("/appeals/").status_code == 403
    assert page_client_for(tenant_a.student).get(f"/appeals/{appeal.pk}/").status_code == 403
    assert api_client_for(tenant_a.student).get("/api/v1/appeals/").status_code == 403
    for user in (tenant_a.proctor, tenant_a.admin):
        queue = page_client_for(user).get("/appeals/")
        assert queue.status_code == 200 and f"/appeals/{appeal.pk}/".encode() in queue.content
    detail = page_client_for(tenant_a.proctor).get(f"/appeals/{appeal.pk}/")
    assert b"That was my reflection in the window." in detail.content
    assert f"/api/v1/frames/{tenant_a.frame.pk}/image".encode() in detail.content  # the incident's evidence
    assert b"appeal waiting for a decision" in page_client_for(tenant_a.proctor).get("/").content


def test_it_audits_the_appeal_and_its_decision(tenant_a: Tenant) -> None:
    appeal = appealed(tenant_a)
    page_client_for(tenant_a.proctor).post(f"/appeals/{appeal.pk}/", {"decision": "upheld", "note": "Two faces."})
    with tenancy.tenant_scope(tenant_a.institution):
        events = {e.action: e for e in AuditEvent.objects.filter(target_type="Appeal", target_id=str(appeal.pk))}
    assert set(events) == {"appeal.opened", "appeal.upheld"}
    assert events["appeal.opened"].actor == tenant_a.student
    assert events["appeal.opened"].data == {"incident": tenant_a.incident.pk,
                                            "note": "That was my reflection in the window."}
    assert events["appeal.upheld"].actor == tenant_a.proctor
    assert events["appeal.upheld"].data == {"from": "open", "incident": tenant_a.incident.pk, "note": "Two faces."}


def test_it_shows_an_upheld_appeal_to_the_student(tenant_a: Tenant) -> None:
    appeal = appealed(tenant_a)
    response = page_client_for(tenant_a.admin).post(f"/appeals/{appeal.pk}/",
                                                    {"decision": "upheld", "note": "Two faces are clear."})
    assert response.status_code == 302
    body = record(tenant_a).content.decode()
    assert "Upheld: the decision stands" in body and "Two faces are clear." in body and "Send appeal" not in body
    assert Incident.unscoped.get(pk=tenant_a.incident.pk).review_status == "confirmed"


def test_it_dismisses_the_incident_through_its_review_when_an_appeal_is_overturned(tenant_a: Tenant) -> None:
    appeal = appealed(tenant_a)
    response = api_client_for(tenant_a.proctor).post(f"/api/v1/appeals/{appeal.pk}/decision",
                                                     {"decision": "overturned", "note": "A poster."}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "overturned"
    incident = Incident.unscoped.get(pk=tenant_a.incident.pk)
    assert (incident.review_status, incident.reviewed_by) == ("dismissed", tenant_a.proctor)
    assert incident.review_note == f"Overturned on appeal #{appeal.pk}: A poster."
    with tenancy.tenant_scope(tenant_a.institution):
        assert AuditEvent.objects.filter(action="incident.dismissed", target_id=str(incident.pk)).exists()
    body = record(tenant_a).content.decode()
    assert "Overturned: the incident was dismissed" in body and "A poster." in body
    record_api = api_client_for(tenant_a.student).get(f"/api/v1/sessions/{tenant_a.session.pk}/record").json()
    [item] = record_api["incidents"]
    assert (item["decision"], item["appeal"]["status"], item["can_appeal"]) == ("dismissed", "overturned", False)


@pytest.mark.parametrize(("decision", "against"), [("overturned", "confirmed"), ("upheld", "dismissed")])
def test_a_decided_appeal_binds_the_incident(tenant_a: Tenant, decision: str, against: str) -> None:
    # A reviewer cannot turn an overturned incident back to confirmed (or an upheld one to dismissed): the student
    # could not appeal again, and their record showed a confirmed incident beside an overturned appeal.
    appeal = appealed(tenant_a)
    with tenancy.tenant_scope(tenant_a.institution):
        appeal_decide(appeal_id=appeal.pk, actor=tenant_a.admin, decision=decision)
    review = api_client_for(tenant_a.proctor).post("/api/v1/incidents/review",
                                                   {"ids": [tenant_a.incident.pk], "decision": against}, format="json")
    assert review.status_code == 409 and review.json()["error"]["code"] == "appeal_decided"
    assert Incident.unscoped.get(pk=tenant_a.incident.pk).review_status != against


def test_it_decides_an_appeal_once(tenant_a: Tenant) -> None:
    appeal = appealed(tenant_a)
    with tenancy.tenant_scope(tenant_a.institution):
        appeal_decide(appeal_id=appeal.pk, actor=tenant_a.proctor, decision="upheld")
    again = api_client_for(tenant_a.admin).post(f"/api/v1/appeals/{appeal.pk}/decision",
                                                {"decision": "overturned"}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "appeal_decided"
    assert Incident.unscoped.get(pk=tenant_a.incident.pk).review_status == "confirmed"
    refused = api_client_for(tenant_a.admin).post(f"/api/v1/appeals/{appeal.pk}/decision", {"decision": "maybe"},
                                                  format="json")
    assert refused.status_code == 400


def test_it_lists_appeals_by_status_in_the_api(tenant_a: Tenant) -> None:
    appeal = appealed(tenant_a)
    api = api_client_for(tenant_a.proctor)
    assert [a["id"] for a in api.get("/api/v1/appeals/?status=open").json()["results"]] == [appeal.pk]
    assert api.get("/api/v1/appeals/?status=upheld").json()["count"] == 0
    assert api.get("/api/v1/appeals/?status=nonsense").status_code == 400


def test_it_does_not_uphold_an_appeal_of_an_incident_a_reviewer_has_since_dismissed(tenant_a: Tenant) -> None:
    appeal = appealed(tenant_a)
    with tenancy.tenant_scope(tenant_a.institution):  # (confirmed again: the appeal is open and its incident not)
        Incident.objects.filter(pk=tenant_a.incident.pk).update(review_status="dismissed")
    response = page_client_for(tenant_a.proctor).post(f"/appeals/{appeal.pk}/", {"decision": "upheld"})
    assert response.status_code == 200 and b"no longer confirmed" in response.content
    assert Appeal.unscoped.get(pk=appeal.pk).status == "open"
    overturned = page_client_for(tenant_a.proctor).post(f"/appeals/{appeal.pk}/", {"decision": "overturned"})
    assert overturned.status_code == 302 and Appeal.unscoped.get(pk=appeal.pk).status == "overturned"


def test_a_reviewer_who_dismisses_an_appealed_incident_answers_its_appeal(tenant_a: Tenant) -> None:
    # An audit of fairness: the student's record said "Dismissed" beside an appeal still "Open" until staff
    # overturned it by hand.
    appeal = appealed(tenant_a)
    with tenancy.tenant_scope(tenant_a.institution):
        incident_review(incident_id=tenant_a.incident.pk, reviewer=tenant_a.admin, decision="dismissed",
                        note="The second face was a poster.")
    decided = Appeal.unscoped.get(pk=appeal.pk)
    assert (decided.status, decided.decided_by_id) == ("overturned", tenant_a.admin.pk)
    assert decided.decision_note == "A reviewer dismissed the incident: The second face was a poster."
    page = re.sub(r"\s+", " ", record(tenant_a).content.decode())
    assert '<strong>Overturned: the incident was dismissed</strong>' in page and "The second face was a poster." in page
    again = api_client_for(tenant_a.proctor).post(f"/api/v1/appeals/{appeal.pk}/decision", {"decision": "upheld"},
                                                  format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "appeal_decided"
    # Dismissed by mistake: confirmed again, the incident opens the appeal again (a re-audit: it could never be
    # undone), audited.
    with tenancy.tenant_scope(tenant_a.institution):
        incident_review(incident_id=tenant_a.incident.pk, reviewer=tenant_a.admin, decision="confirmed")
        assert AuditEvent.objects.filter(action="appeal.reopened").count() == 1
    reopened = Appeal.unscoped.get(pk=appeal.pk)
    assert (reopened.status, reopened.decided_by_id, reopened.decision_note) == ("open", None, "")


def test_it_says_when_an_evidence_image_is_no_longer_kept(tenant_a: Tenant) -> None:
    reviewed(tenant_a)
    with tenancy.tenant_scope(tenant_a.institution):
        frame = Frame.objects.get(pk=tenant_a.frame.pk)
        frame.image.delete()  # as retention does
    body = record(tenant_a).content
    assert b"no longer kept" in body and f"/record/frames/{tenant_a.frame.pk}.jpg".encode() not in body


def test_the_incident_page_says_it_is_under_appeal_and_the_appeal_page_shows_the_identity_panel(
    tenant_a: Tenant
) -> None:
    # An audit: nothing on the incident page said the student had appealed (a reviewer changed the decision under the
    # appeal), and the appeal of a "someone else" incident showed no reference photo to compare with.
    incident_page = page_client_for(tenant_a.proctor).get(f"/incidents/{tenant_a.incident.pk}/").content.decode()
    assert 'id="under-appeal"' not in incident_page
    appeal = appealed(tenant_a)
    incident_page = page_client_for(tenant_a.proctor).get(f"/incidents/{tenant_a.incident.pk}/").content.decode()
    assert 'id="under-appeal"' in incident_page and f"/appeals/{appeal.pk}/" in incident_page
    assert 'id="identity-panel"' not in page_client_for(tenant_a.proctor).get(f"/appeals/{appeal.pk}/").content.decode()
    Incident.unscoped.filter(pk=tenant_a.incident.pk).update(kind="wrong_person")
    appeal_page_html = page_client_for(tenant_a.proctor).get(f"/appeals/{appeal.pk}/").content.decode()
    assert 'id="identity-panel"' in appeal_page_html
    assert f"/api/v1/faces/{tenant_a.face.external_image_id}/image" in appeal_page_html  # the reference photo
    page_client_for(tenant_a.proctor).post(f"/appeals/{appeal.pk}/", {"decision": "upheld", "note": "Not them."})
    incident_page = page_client_for(tenant_a.proctor).get(f"/incidents/{tenant_a.incident.pk}/").content.decode()
    assert 'id="under-appeal"' not in incident_page  # decided
