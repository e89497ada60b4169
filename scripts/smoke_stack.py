"""Walk the sample's workflows against a running server (make stack), with the shared photos.

    python scripts/smoke_stack.py [--base http://127.0.0.1:8000] [--images ../shared/data/images]

Registers Obama (bound to the demo's first student) and Biden (a second student), checks another
photo of Obama without a session, a photo of two people, then posts Biden's photo into Obama's
exam session and prints the incidents found in Postgres (API) and in DynamoDB.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def call(base: str, method: str, path: str, token: str | None = None, body: Any = None) -> tuple[int, Any]:
    request = urllib.request.Request(base + path, method=method,
                                     data=None if body is None else json.dumps(body).encode())
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Token {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def token(base: str, email: str, password: str) -> str:
    status, body = call(base, "POST", "/api/v1/auth/token", body={"email": email, "password": password})
    assert status == 200, body
    return str(body["token"])


def b64(images: Path, name: str) -> str:
    return base64.b64encode((images / name).read_bytes()).decode()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--images", default=str(ROOT.parent / "shared" / "data" / "images"))
    args = parser.parse_args()
    base, images = args.base, Path(args.images)
    credentials = dict(line.split(" ", 1) for line in (ROOT / "var" / "demo-credentials.txt").read_text().splitlines())
    admin = token(base, "admin@demo.openproctor.test", credentials["admin@demo.openproctor.test"])
    student = token(base, "student1@demo.openproctor.test", credentials["student1@demo.openproctor.test"])
    _, users = call(base, "GET", "/api/v1/users/?role=student", admin)
    obama_student = next(u for u in users["results"] if u["email"] == "student1@demo.openproctor.test")
    biden_student = next(u for u in users["results"] if u["email"] == "student2@demo.openproctor.test")

    for name, fixture, who in (("Barack Obama", "A/A_fr_obama.jpg", obama_student),
                               ("Joe Biden", "A/A_fr_biden.jpg", biden_student)):
        status, body = call(base, "POST", "/faces/index", admin,
                            {"image": b64(images, fixture), "fullName": name, "student": who["id"]})
        print(f"register {name}: {status} {body}")

    for label, fixture in (("another photo of Obama", "F/F_fr_obama-240p.jpg"),
                           ("two people", "C/C_fr_two_people.jpg")):
        status, body = call(base, "POST", "/process", admin, {"image": b64(images, fixture)})
        print(f"/process {label}: {status}")
        for check in body:
            print(f"    {check['TestName']:<20} {'pass' if check['Success'] else 'FAIL'}  {check['Details']}")

    _, exams = call(base, "GET", "/api/v1/exams/", admin)
    exam = exams["results"][0]
    status, session = call(base, "POST", "/api/v1/sessions/", admin,
                           {"exam": exam["id"], "student": obama_student["id"]})
    for to in ("checking", "in_progress"):
        call(base, "POST", f"/api/v1/sessions/{session['id']}/transition", student, {"to": to})
    state = call(base, "GET", f"/api/v1/sessions/{session['id']}/", student)[1]["status"]
    print(f"session {session['id']}: {state}")
    # Three frames of someone else: a "someone else" incident needs a sustained stretch (incidents.MIN_FRAMES).
    for fixture in ("A/A_fr_biden.jpg", "A/A_fr_biden.jpg", "A/A_fr_biden.jpg", "F/F_fr_obama-240p.jpg"):
        status, body = call(base, "POST", "/process?wait=20", student,
                            {"image": b64(images, fixture), "session": session["id"]})
        print(f"session frame {fixture}: {status} " + ", ".join(
            f"{c['TestName']}={'pass' if c['Success'] else 'FAIL'}({c['Details']})" for c in body))
    time.sleep(2)  # the outbox relay runs on commit in the worker
    _, incidents = call(base, "GET", f"/api/v1/incidents/?session={session['id']}", admin)
    print("incidents in Postgres:", [(i["id"], i["kind"], i["is_open"]) for i in incidents["results"]])

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from accounts.models import Institution
    from proctoring.stores import dynamodb

    institution_id = Institution.objects.get(slug="demo").pk
    items = dynamodb.incidents_of_session(institution_id, session["id"])
    print("incidents in DynamoDB:", [(i["IncidentId"]["N"], i["Kind"]["S"], i["Open"]["BOOL"]) for i in items])
    return 0


if __name__ == "__main__":
    sys.exit(main())
