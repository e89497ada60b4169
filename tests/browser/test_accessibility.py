"""Every page, scanned by axe-core (WCAG 2.0/2.1 A and AA) in Chromium: zero violations.

"Every page" is a crawl, so that a page added later is scanned without touching this file: for each role
the scan starts at the role's landing page and follows same-origin links (not sign-out, deletions, files,
images or the API), scanning one sample of each URL pattern (ids → ``<id>``). Pages no link reaches (the
running exam, the camera check, the live view, an incident) are visited explicitly.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone
from playwright.sync_api import BrowserContext, Page

from accounts import services, tenancy
from accounts.models import Role, User
from exams.authoring import question_create
from exams.models import Answer, Exam, ExamSession, ExamStatus, QuestionKind
from exams.services import session_create
from exams.statuses import SessionStatus
from proctoring.appeals import appeal_create
from proctoring.models import Frame, FrameStatus, IdentityApproval, Incident, IncidentKind
from proctoring.review import incident_review
from tests.browser.conftest import Shots, sign_in, wait_until_true
from tests.conftest import PASSWORD, Tenant
from tests.proctoring.conftest import image

pytestmark = pytest.mark.django_db(transaction=True)

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# Links the crawl does not follow: sign-out, files, images, JSON. It only ever GETs, so a deletion's link
# shows its confirmation page (scanned too); nothing is submitted.
SKIP = re.compile(r"/logout|/api/|\.(csv|jpg|jpeg|png|json|txt|zip|pdf|wav)$|/faces/index|/process$")
MAX_PAGES_PER_ROLE = 60


def pattern_of(path: str) -> str:
    """One URL pattern per page kind: numbers and uuids (and Django admin's object ids) → placeholders."""
    path = re.sub(r"/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?=/|$)", "/<uuid>", path)
    return re.sub(r"/\d+(?=/|$|\.)", "/<id>", path)


def scan(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    return page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})"
                         ".then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
                         " nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)})))", TAGS)


class Crawl:
    """Scans pages and keeps what it found: patterns scanned and (url, rule, nodes) violations."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.scanned: dict[str, str] = {}  # pattern → the URL scanned for it
        self.violations: list[str] = []
        self.errors: list[str] = []
        self.seen: set[str] = set()  # "role pattern" already visited

    def visit(self, page: Page, url: str, label: str) -> bool:
        response = page.goto(url)
        status = response.status if response is not None else 0
        if status >= 500:
            self.errors.append(f"{label}: {url} answered {status}")
        if status != 200 or urlsplit(page.url).netloc != urlsplit(self.base).netloc:
            return False
        self.check(page, label)
        return True

    def check(self, page: Page, label: str, key: str | None = None) -> None:
        path = urlsplit(page.url).path
        key = key or f"{label} {pattern_of(path)}"
        self.scanned[key] = path
        for violation in scan(page):
            self.violations.append(f"{label} {path}: {violation['id']} ({violation['impact']}) "
                                   f"{violation['help']} — {', '.join(violation['nodes'])}")

    def links(self, page: Page) -> list[str]:
        hrefs = page.eval_on_selector_all("a[href]:not([download])", "as => as.map(a => a.href)")
        found = []
        for href in hrefs:
            url = urljoin(page.url, href).split("#")[0]
            parts = urlsplit(url)
            if parts.netloc == urlsplit(self.base).netloc and not SKIP.search(parts.path):
                found.append(f"{self.base}{parts.path}" + (f"?{parts.query}" if parts.query else ""))
        return found

    def crawl(self, page: Page, start: str, label: str) -> None:
        queue, visited = [start], 0
        while queue and visited < MAX_PAGES_PER_ROLE:
            url = queue.pop(0)
            key = f"{label} {pattern_of(urlsplit(url).path)}"
            if key in self.seen:
                continue
            self.seen.add(key)
            visited += 1
            if self.visit(page, url, label):
                queue += self.links(page)

    def report(self) -> str:
        return "\n".join(self.violations + self.errors)


def seed(tenant: Tenant) -> dict[str, Any]:
    """Exams with questions, a running and a finished sitting, a scheduled one, one at the camera check,
    an incident with a real evidence frame and a reference photo to show."""
    institution, admin, student = tenant.institution, tenant.admin, tenant.student
    now = timezone.now()
    tenant.face.image.save("reference.jpg", ContentFile(image("signer1_a.jpg")))
    staff = User.objects.create_superuser(email="staff@platform.test", password=PASSWORD)
    with tenancy.tenant_scope(institution):
        sessions: dict[str, ExamSession] = {}
        for which, status in [("running", SessionStatus.IN_PROGRESS), ("finished", SessionStatus.SUBMITTED),
                              ("checking", SessionStatus.CHECKING), ("scheduled", SessionStatus.SCHEDULED),
                              ("awaiting", SessionStatus.AWAITING_APPROVAL)]:
            exam = tenant.exam if which == "running" else Exam.objects.create(
                institution=institution, title=f"The {which} exam", created_by=admin)
            question_create(exam=exam, kind=QuestionKind.MULTIPLE_CHOICE, prompt="Which is a prime?",
                            choices=["4", "7", "9"], correct_choice=1)
            question_create(exam=exam, kind=QuestionKind.SHORT_TEXT, prompt="Explain the median.", choices=[],
                            correct_choice=None)
            Exam.objects.filter(pk=exam.pk).update(status=ExamStatus.PUBLISHED, opens_at=now - timedelta(hours=1),
                                                   closes_at=now + timedelta(days=1), duration_minutes=30)
            session = tenant.session if which == "running" else session_create(exam=exam, student=student)
            began = status in {SessionStatus.IN_PROGRESS, SessionStatus.SUBMITTED}
            started = now - timedelta(minutes=5) if began else None
            ExamSession.objects.filter(pk=session.pk).update(
                status=status, started_at=started, consent_at=now if which != "scheduled" else None,
                consent_version=institution.consent_version if which != "scheduled" else None,
                consent_text=institution.consent_text if which != "scheduled" else "",
                identity_verified_at=now if which != "scheduled" else None,
                ended_at=now if which == "finished" else None)
            sessions[which] = ExamSession.objects.get(pk=session.pk)
        first = sessions["finished"].exam.questions.first()
        Answer.objects.create(institution=institution, session=sessions["finished"], question=first, choice=1)
        # Twelve analysed frames, one every 5 s: the incident page's filmstrip shows up to twelve around it.
        frames = []
        photo = image("signer2_with_second_person.jpg")
        for n in range(12):
            at = now - timedelta(seconds=60 - 5 * n)
            frame = Frame(institution=institution, session=sessions["finished"], received_at=at, captured_at=at,
                          status=FrameStatus.DONE)
            frame.image.save("f.jpg", ContentFile(photo))
            frames.append(frame)
        incident = Incident.objects.create(institution=institution, session=sessions["finished"],
                                           kind=IncidentKind.MULTIPLE_FACES, severity="high",
                                           started_at=frames[3].captured_at, ended_at=frames[8].captured_at,
                                           evidence_frame=frames[5])
        identity = Incident.objects.create(institution=institution, session=sessions["finished"],
                                           kind=IncidentKind.WRONG_PERSON, severity="high",
                                           started_at=frames[9].captured_at, evidence_frame=frames[9])
        # Two decided incidents on the student's record: one appealed (the appeals queue links to it), one
        # still open to an appeal (the record page shows its form).
        for kind, appeal in [(IncidentKind.MULTIPLE_PEOPLE, True), (IncidentKind.LOOKING_AWAY, False)]:
            decided = Incident.objects.create(institution=institution, session=sessions["finished"], kind=kind,
                                              severity="medium", started_at=frames[1].captured_at,
                                              evidence_frame=frames[1])
            incident_review(incident_id=decided.pk, reviewer=tenant.proctor, decision="confirmed",
                            note="Seen on the frames.")
            if appeal:
                appeal_create(incident_id=decided.pk, student=student, note="That was my reflection.")
        Frame.objects.filter(pk=tenant.frame.pk).delete()  # the tenant's fake (undecodable) frame
        approval = IdentityApproval(institution=institution, session=sessions["awaiting"])  # a photo ID to check
        approval.id_photo.save("id.jpg", ContentFile(image("grace_hopper.jpg")), save=False)
        approval.live_photo.save("live.jpg", ContentFile(image("signer1_b.jpg")), save=False)
        approval.save()
    services.user_create(institution=institution, email="second@alpha.test", role=Role.STUDENT,
                         password=PASSWORD, full_name="Second Student", student_number="S2")
    invitee = services.user_create(institution=institution, email="invitee@alpha.test", role=Role.STUDENT,
                                   full_name="Ivy Invitee", student_number="S3")  # no password yet: an invite
    return {"sessions": sessions, "incidents": [incident, identity], "staff": staff, "invitee": invitee}


@pytest.mark.one_database("sqlite")  # axe-core judges the markup, the same on either database: Makefile
def test_it_finds_no_accessibility_violations_on_any_page(live_server: Any, tenant_a: Tenant, camera_browser: Any,
                                                         shots: Shots) -> None:
    base = live_server.url
    seeded = seed(tenant_a)
    sessions, incidents = seeded["sessions"], seeded["incidents"]
    browser = camera_browser("signer1_a.jpg")
    crawl = Crawl(base)
    started = time.monotonic()

    def context() -> tuple[BrowserContext, Page]:
        # bypass_csp: axe-core goes in as an inline script tag, which the pages' policy forbids.
        ctx = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
        ctx.grant_permissions(["camera", "microphone"])
        return ctx, ctx.new_page()

    # Anonymous: the sign-in page and what it links to (password reset), and the error page.
    ctx, page = context()
    crawl.crawl(page, f"{base}/accounts/login/", "anonymous")
    page.goto(f"{base}/accounts/password-reset/sent/")  # a page whose form does not take the focus at once
    page.keyboard.press("Tab")  # the first stop: the skip link, shown on focus, to the main landmark
    assert page.evaluate("document.activeElement.className") == "skip-link"
    assert page.evaluate("document.activeElement.getBoundingClientRect().top") >= 0
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    crawl.visit(page, f"{base}/no-such-page/", "anonymous")
    page.goto(f"{base}/lti/login")  # an LTI login from no registered platform: the tool's refusal page (400)
    crawl.check(page, "anonymous", "anonymous LTI refusal")
    page.goto(f"{base}/no-such-page/")
    crawl.check(page, "anonymous", "anonymous 404")
    ctx.close()

    # The student: the dashboard and its links, then the steps of a sitting that links do not reach.
    ctx, page = context()
    sign_in(page, base, tenant_a.student.email, PASSWORD)
    crawl.crawl(page, f"{base}/", "student")
    for which, path in [("scheduled", "consent"), ("checking", "check"), ("running", "exam"), ("finished", "done"),
                        ("awaiting", "check")]:
        response = page.goto(f"{base}/sessions/{sessions[which].pk}/{path}")
        assert response is not None and response.status == 200 and page.url.endswith(path), (which, page.url)
        crawl.check(page, "student", f"student {which} {path}")
    # The camera check once frames came back: the checks' cards, the identity verdict, the liveness step.
    page.goto(f"{base}/sessions/{sessions['checking'].pk}/check")
    wait_until_true(page, "document.querySelectorAll('#checks > *').length > 0 && "
                          "!document.getElementById('identity-reason').hidden", 60_000)
    crawl.check(page, "student", "student check with its results")
    shots.take(page, "student-check")
    page.goto(f"{base}/sessions/{sessions['running'].pk}/exam")
    # The clock ticks without a live region; a screen reader hears the minutes left, not every second.
    assert page.get_attribute("#timer", "aria-live") is None and page.get_attribute("#timer", "role") == "timer"
    clock, said = page.inner_text("#timer"), page.inner_text("#timer-announce")
    page.wait_for_timeout(1200)  # a second of the clock's own time must pass
    assert page.inner_text("#timer") != clock and page.inner_text("#timer-announce") == said == "25 minutes left."
    shots.take(page, "student-exam")
    page.set_viewport_size({"width": 390, "height": 844})
    crawl.check(page, "student", "student exam at 390 px")
    ctx.close()

    # The proctor: the review queue, the identity queue and an incident, the live view of a running exam.
    ctx, page = context()
    sign_in(page, base, tenant_a.proctor.email, PASSWORD)
    crawl.crawl(page, f"{base}/", "proctor")
    for incident in incidents:
        assert crawl.visit(page, f"{base}/incidents/{incident.pk}/", "proctor")
        crawl.check(page, "proctor", f"proctor incident {incident.kind}")
    assert crawl.visit(page, f"{base}/exams/{tenant_a.exam.pk}/live", "proctor")
    wait_until_true(page, "document.querySelectorAll('#live-grid > *').length > 0")  # the students' cards
    crawl.check(page, "proctor", "proctor live view with its cards")
    shots.take(page, "live")
    page.goto(f"{base}/incidents/{incidents[0].pk}/")
    page.click("details > summary")  # the engine's raw findings, opened
    crawl.check(page, "proctor", "proctor incident with raw findings open")
    page.set_viewport_size({"width": 390, "height": 844})
    for incident in incidents:  # a phone: the page fits, the filmstrip scrolls inside itself
        page.goto(f"{base}/incidents/{incident.pk}/")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the {incident.kind} incident page is {width} px wide at 390"
        # The strip opens on the evidence frame (it was cut off at the strip's end).
        assert page.evaluate("""(() => {
            const strip = document.querySelector('.filmstrip'), current = strip && strip.querySelector('.current');
            if (!current) return true;
            const a = strip.getBoundingClientRect(), b = current.getBoundingClientRect();
            return b.left >= a.left - 1 && b.right <= a.right + 1; })()"""), f"{incident.kind}: evidence frame hidden"
        crawl.check(page, "proctor", f"proctor incident {incident.kind} at 390 px")
        shots.take(page, f"incident-{incident.kind}")
    ctx.close()

    # The institution admin: every /manage/-style page the navigation reaches, and the Django admin pages.
    ctx, page = context()
    sign_in(page, base, tenant_a.admin.email, PASSWORD)
    shots.take(page, "admin-dashboard")
    crawl.crawl(page, f"{base}/", "admin")
    crawl.crawl(page, f"{base}/manage/", "admin")
    assert crawl.visit(page, f"{base}/people/{seeded['invitee'].pk}/invite", "admin")
    invite_link = page.input_value("#invite-link")
    ctx.close()

    # The invitee's and the forgetful's pages, signed out: choosing a password, the reset steps.
    ctx, page = context()
    assert crawl.visit(page, invite_link, "anonymous") and page.locator("input[type=password]").count() == 2
    for path in ["/accounts/password-reset/sent/", "/accounts/reset/MQ/not-a-token/", "/accounts/reset/done/"]:
        crawl.visit(page, f"{base}{path}", "anonymous")
    ctx.close()

    # Platform staff: the platform's admin pages.
    ctx, page = context()
    page.goto(f"{base}/platform/login/")
    page.fill("#id_username", seeded["staff"].email)
    page.fill("#id_password", PASSWORD)
    page.click("[type=submit]")
    crawl.crawl(page, f"{base}/platform/", "staff")
    ctx.close()

    elapsed = time.monotonic() - started
    listing = "\n".join(f"  {key}  ({path})" for key, path in sorted(crawl.scanned.items()))
    print(f"\naxe-core scanned {len(crawl.scanned)} pages in {elapsed:.0f} s:\n{listing}")
    assert len(crawl.scanned) >= 30, listing
    assert not crawl.report(), f"{len(crawl.violations)} accessibility violations:\n{crawl.report()}"
