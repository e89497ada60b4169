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
CONTEXT_ROLE = _V + "membership"
LEARNER_ROLES = frozenset({_V + "membership#Learner", _V + "institution/person#Student",
                           _V + "institution/person#Learner"})
STAFF_ROLES = frozenset({
    _V + "membership#Instructor", _V + "membership#Administrator", _V + "membership#ContentDeveloper",
    _V + "membership/Instructor#TeachingAssistant", _V + "institution/person#Instructor",
    _V + "institution/person#Faculty", _V + "institution/person#Administrator",
    _V + "system/person#Administrator",
})
