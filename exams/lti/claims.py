"""LTI 1.3 claim names and role URIs (1EdTech LTI Core 1.3, LTI Proctoring Services 1.0)."""

from __future__ import annotations

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
AP = "https://purl.imsglobal.org/spec/lti-ap/claim/"

MESSAGE_TYPE = LTI + "message_type"
VERSION = LTI + "version"
DEPLOYMENT_ID = LTI + "deployment_id"
ROLES = LTI + "roles"
CONTEXT = LTI + "context"
RESOURCE_LINK = LTI + "resource_link"
TARGET_LINK_URI = LTI + "target_link_uri"

ATTEMPT_NUMBER = AP + "attempt_number"
START_ASSESSMENT_URL = AP + "start_assessment_url"
SESSION_DATA = AP + "session_data"
END_ASSESSMENT_RETURN = AP + "end_assessment_return"

RESOURCE_LINK_REQUEST = "LtiResourceLinkRequest"
START_PROCTORING = "LtiStartProctoring"
START_ASSESSMENT = "LtiStartAssessment"
END_ASSESSMENT = "LtiEndAssessment"

_V = "http://purl.imsglobal.org/vocab/lis/v2/"
# Roles in the course (context roles: membership#Learner, membership/Instructor#TeachingAssistant, ...), as against
# the person's roles in the institution or the system, which an LMS builds from all their courses.
# Compared as ``role_uri`` gives them: lower-case.
CONTEXT_ROLE = (_V + "membership").casefold()
LEARNER_ROLES = frozenset(role.casefold() for role in {
    _V + "membership#Learner", _V + "institution/person#Student", _V + "institution/person#Learner"})
STAFF_ROLES = frozenset(role.casefold() for role in {
    _V + "membership#Instructor", _V + "membership#Administrator", _V + "membership#ContentDeveloper",
    _V + "membership/Instructor#TeachingAssistant", _V + "institution/person#Instructor",
    _V + "institution/person#Faculty", _V + "institution/person#Administrator",
    _V + "system/person#Administrator",
})
# LTI 1.1's role URNs, which some LMSs still send, and the simple names LTI 1.3 allows for course roles.
_URNS = {"urn:lti:role:ims/lis/": "membership", "urn:lti:instrole:ims/lis/": "institution/person",
         "urn:lti:sysrole:ims/lis/": "system/person"}


def role_uri(role: str) -> str:
    """A role as its LTI 1.3 URI, lower-case: "Learner" and urn:lti:role:ims/lis/Learner are membership#learner
    (an audit: "Learner", or a URI in other capitals, was not read as a course role, and the institution's roles
    decided instead)."""
    role = role.strip()
    for urn, kind in _URNS.items():
        if role.casefold().startswith(urn):
            name = role[len(urn):]
            main, _, sub = name.partition("/")  # urn:lti:role:ims/lis/Instructor/TeachingAssistant
            return (f"{_V}{kind}/{main}#{sub}" if sub else f"{_V}{kind}#{name}").casefold()
    if role and ":" not in role and "/" not in role and "#" not in role:
        return f"{_V}membership#{role}".casefold()
    return role.casefold()
