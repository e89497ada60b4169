"""A reviewer of an identity incident sees the student's reference photos, the evidence frame and the
similarity side by side; nobody else does."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from accounts import services as account_services
from accounts import tenancy
from proctoring.incidents import MIN_FRAMES
from proctoring.models import FaceRegistration, Frame, Incident, IncidentKind
from tests.conftest import Tenant, api_client_for, page_client_for
from tests.proctoring.conftest import start_session
from tests.proctoring.test_pipeline import process, register


def identity_incident(tenant: Tenant, findings: dict[str, Any] | None, kind: str = "wrong_person") -> Incident:
    with tenancy.tenant_scope(tenant.institution):
        frame = Frame(institution=tenant.institution, session=tenant.session, received_at=timezone.now(),
                      status="done", findings=findings)
        frame.image.save("f.jpg", ContentFile(b"\xff\xd8 evidence \xff\xd9"))
        return Incident.objects.create(institution=tenant.institution, session=tenant.session, kind=kind,
                                       severity="high", started_at=frame.received_at, evidence_frame=frame,
                                       details={"findings": findings})


def page(tenant: Tenant, incident: Incident, user: Any = None) -> str:
    response = page_client_for(user or tenant.proctor).get(f"/incidents/{incident.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def panel_of(html: str) -> str:
    start = html.index('id="identity-panel"')
    return html[start:html.index("</section>", start)]


def test_it_shows_reference_evidence_and_the_verified_similarity(tenant_a: Tenant, db: Any) -> None:
    with tenancy.tenant_scope(tenant_a.institution):
        second = FaceRegistration(institution=tenant_a.institution, collection_id="c", face_id="best-face",
                                  full_name="alpha Student", student=tenant_a.student)
        second.image.save("g.jpg", ContentFile(b"\xff\xd8 second \xff\xd9"))
    incident = identity_incident(tenant_a, {"Verification": {
        "Passed": False, "Reason": "not_matching", "Similarity": 41.24, "FaceId": "best-face"}})
    panel = panel_of(page(tenant_a, incident))
    for face in (tenant_a.face, second):
        assert f"/api/v1/faces/{face.external_image_id}/image" in panel
    # The closest reference comes first.
    assert panel.index(str(second.external_image_id)) < panel.index(str(tenant_a.face.external_image_id))
    assert f"/api/v1/frames/{incident.evidence_frame_id}/image" in panel
    assert "41.2%" in panel and "Below the exam's threshold of 90%" in panel
    assert "Does not match the reference photos" in panel
    assert "1:1 check against the student's references" in panel


def test_it_falls_back_to_the_search_of_an_older_frame(tenant_a: Tenant, db: Any) -> None:
    olga = account_services.user_create(institution=tenant_a.institution, email="olga@x.test", role="student",
                                        full_name="Olga Other")
    with tenancy.tenant_scope(tenant_a.institution):
        theirs = FaceRegistration.objects.create(institution=tenant_a.institution, collection_id="c", face_id="o",
                                                 full_name="Olga Other", student=olga)
    matches = [{"Similarity": 97.5, "Face": {"FaceId": "o", "ExternalImageId": str(theirs.external_image_id)}},
               {"Similarity": 91.0, "Face": {"FaceId": tenant_a.face.face_id,
                                             "ExternalImageId": str(tenant_a.face.external_image_id)}}]
    panel = panel_of(page(tenant_a, identity_incident(tenant_a, {"FaceMatches": matches})))
    assert "91.0%" in panel and "At or above" in panel
    assert "Olga Other, 97.5%" in panel  # staff see whom the frame resembled more
    assert "older frame" in panel


@pytest.mark.parametrize("findings", [None, {}, {"FaceMatches": []}, {"Verification": {"Passed": False,
                                                                                         "Reason": "no_face"}}])
def test_it_says_when_no_similarity_was_recorded(tenant_a: Tenant, db: Any, findings: Any) -> None:
    panel = panel_of(page(tenant_a, identity_incident(tenant_a, findings)))
    assert "not recorded" in panel
    assert f"/api/v1/faces/{tenant_a.face.external_image_id}/image" in panel


def test_it_shows_no_identity_panel_on_other_incidents(tenant_a: Tenant, db: Any) -> None:
    assert 'id="identity-panel"' not in page(tenant_a, tenant_a.incident)  # a no_face incident
    assert 'id="identity-panel"' in page(tenant_a, identity_incident(tenant_a, None, kind="unregistered_face"))


def test_only_the_institutions_staff_see_the_panel_and_its_images(tenant_a: Tenant, tenant_b: Tenant,
                                                                  db: Any) -> None:
    incident = identity_incident(tenant_a, {"Verification": {"Passed": False, "Reason": "not_matching",
                                                             "Similarity": 12.0, "FaceId": None}})
    paths = [f"/incidents/{incident.pk}/", f"/api/v1/faces/{tenant_a.face.external_image_id}/image",
             f"/api/v1/frames/{incident.evidence_frame_id}/image"]
    for user in (tenant_a.proctor, tenant_a.admin):
        assert [page_client_for(user).get(path).status_code for path in paths] == [200, 200, 200]
    # The student: the wrong role for all three (403, as for every staff-only route); another institution: 404.
    assert [page_client_for(tenant_a.student).get(path).status_code for path in paths] == [403, 403, 403]
    assert [api_client_for(tenant_a.student).get(path).status_code for path in paths[1:]] == [403, 403]
    assert [page_client_for(tenant_b.proctor).get(path).status_code for path in paths] == [404, 404, 404]
    assert [page_client_for(tenant_b.admin).get(path).status_code for path in paths] == [404, 404, 404]


@pytest.mark.django_db(transaction=True)
def test_it_shows_the_panel_for_a_wrong_person_incident_of_the_real_pipeline(tenant_a: Tenant) -> None:
    olga = account_services.user_create(institution=tenant_a.institution, email="olga@x.test", role="student",
                                        full_name="Olga Other")
    own = register(tenant_a, "signer1_a.jpg", "Sam Signer", student=tenant_a.student)
    register(tenant_a, "signer2_a.jpg", "Olga Other", student=olga)
    session = start_session(tenant_a, debounce_frames=1)
    for _ in range(MIN_FRAMES[IncidentKind.WRONG_PERSON]):  # "someone else" needs a sustained stretch
        assert process(tenant_a, "signer2_a.jpg", session=session, user=tenant_a.student).status_code == 200
    with tenancy.tenant_scope(tenant_a.institution):
        incident = Incident.objects.get(session=session, kind="wrong_person")
    panel = panel_of(page(tenant_a, incident))
    assert f"/api/v1/faces/{own}/image" in panel
    assert f"/api/v1/frames/{incident.evidence_frame_id}/image" in panel
    # The 1:1 check: the similarity to Sam's own reference, below the threshold; Olga is never searched.
    verification = incident.evidence_frame.findings["Verification"]
    assert f"{verification['Similarity']:.1f}%" in panel and "Below" in panel
    assert "Olga" not in panel
