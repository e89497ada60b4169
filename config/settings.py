"""OpenProctor settings, read from the environment.

With nothing set this is the embedded default: SQLite and media files under ``var/``, Celery tasks
run in-process, the local analysis engine, no DynamoDB. ``DATABASE_URL``, ``REDIS_URL``,
``DYNAMODB_ENDPOINT_URL`` / ``AWS_REGION``, ``S3_BUCKET`` and ``ANALYSIS_BACKEND`` switch on the full stack.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.env import env, env_bool, env_int, env_list
from config.filemodes import private_dir, private_file

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env("VAR_DIR", str(BASE_DIR / "var")))
private_dir(VAR_DIR)  # the embedded database and biometric files live here: owner only (700)

# DEBUG defaults on so that a fresh checkout runs with nothing configured (as healthchecks does);
# a deployment sets DEBUG=0 and must then provide a secret key and its host names.
DEBUG = env_bool("DEBUG", True)

SECRET_KEY = env("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "insecure-development-key-only-used-with-DEBUG-on"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off.")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

if not DEBUG:
    # Cookies only over HTTPS (the production setting, behind the TLS proxy). SECURE_COOKIES=0 is
    # for a DEBUG=0 profile served over plain http on this machine (make stack): browsers other
    # than Chromium drop Secure cookies on http://127.0.0.1.
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp): scripts, styles and everything else from this site only —
# no inline scripts or style attributes (pages pass data in data-* attributes or json_script
# blocks), no third-party hosts. The webcam needs only getUserMedia (srcObject, not a URL); its
# captures travel as data:/blob: URLs. Only the exam page adds 'wasm-unsafe-eval' (exams.views_student):
# it compiles the WebAssembly of its voice-activity detection; that allows no JavaScript eval.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "blob:"],
        "media-src": ["'self'", "blob:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.forms",  # the form widgets' templates, for the TemplatesSetting renderer below
    "rest_framework",
    "knox",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's assets, served from here (no CDN)
    "axes",
    "accounts",
    "exams",
    "proctoring",
]

# Widgets render through TEMPLATES, so templates/ may override one: templates/admin/widgets/split_datetime.html
# labels the admin's date and time boxes.
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "accounts.middleware.BodySizeLimitMiddleware",
    "accounts.middleware.RejectUnstorableTextMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.TenantScopeMiddleware",
    "accounts.middleware.TimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "accounts.middleware.AppErrorPageMiddleware",
    # Last, as django-axes asks: turns a locked-out login into accounts.throttle.axes_lockout_response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{VAR_DIR / 'openproctor.sqlite3'}"),
        # Persistent connections: opening one per request costs more than the request's own queries.
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several threads (the dev server, in-process tasks) write; wait instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    # A transaction takes the write lock as it begins. Deferred (SQLite's default), one that has read
    # and then writes while another connection holds the lock fails at once with "database is locked"
    # (the timeout does not apply): a student's submit failed so while a frame's results were written.
    DATABASES["default"]["OPTIONS"]["transaction_mode"] = "IMMEDIATE"
    # A file, not memory, so that a Celery worker process started by the tests sees the same data.
    # One per test run (pid), so that concurrent runs on one checkout do not share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
    if str(DATABASES["default"]["NAME"]) not in {"", ":memory:"}:
        private_file(Path(DATABASES["default"]["NAME"]))  # 600: it holds face embeddings and findings
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
# django-axes first: it refuses a locked-out login before the password is even checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "accounts.backends.EmailBackend"]
# An email is unique per institution (accounts.models.User), which EmailBackend handles.
SILENCED_SYSTEM_CHECKS = ["auth.W004"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "config.staticfinders.VendorFinder",  # the five files of the browser's voice-activity detection
]
STATIC_ROOT = Path(env("STATIC_ROOT", str(VAR_DIR / "static")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns about a missing one
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(VAR_DIR / "media")))
# Frames and reference photos are biometric data: kept apart and never served from a public URL
# (proctoring.storage); views stream them after checking the viewer's institution and role. Local
# files here unless S3_BUCKET is set (STORAGES, below).
MEDIA_URL = "/media-not-public/"
PRIVATE_MEDIA_ROOT = Path(env("PRIVATE_MEDIA_ROOT", str(MEDIA_ROOT / "private")))

# Request bodies: a 5 MB image as base64 in JSON is ~6.7 MB; refuse anything much bigger early.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 8 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = DATA_UPLOAD_MAX_MEMORY_SIZE
MAX_REQUEST_BODY = env_int("MAX_REQUEST_BODY", 10 * 1024 * 1024)

# --- Redis: Celery broker and results, cache, rate limits ---------------------------------------
REDIS_URL = env("REDIS_URL")
# Rate limits live in the cache: a hung Redis must cost a request well under a second (accounts.throttle).
REDIS_CACHE_OPTIONS = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                          "OPTIONS": REDIS_CACHE_OPTIONS}}
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    CELERY_TASK_ALWAYS_EAGER = False
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CELERY_BROKER_URL = "memory://"
    CELERY_RESULT_BACKEND = "cache+memory://"
    # The embedded default has no broker: tasks run in the calling process.
    CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fix-up closes every database connection before and after each task unless this is set, so
# each frame opened a new PostgreSQL connection (seen with py-spy in make bench-scale). Set, it closes them
# every this many tasks; config/celery.py closes them as Django does around a request (unusable or older
# than CONN_MAX_AGE).
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 1000)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A message taken by a worker that died is given to another after this many seconds (Redis
# transport); the frame sweeper leaves such frames to the broker (proctoring/queueing.py).
CELERY_BROKER_VISIBILITY_TIMEOUT = env_int("CELERY_BROKER_VISIBILITY_TIMEOUT", 600)
# Publishing happens inside web requests, so a dead broker (connection refused) or a hung one
# (accepts, never answers) must cost well under a second in all: socket_timeout bounds each
# command (a hung Redis costs up to three of them), the connect timeout each connection, and the
# publish retries once (a pooled connection is stale after a Redis restart). Measured in
# tests/proctoring/test_faults.py.
CELERY_BROKER_CONNECTION_TIMEOUT = 0.3
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_BROKER_VISIBILITY_TIMEOUT, "socket_connect_timeout": 0.3,
    "socket_timeout": float(env("BROKER_SOCKET_TIMEOUT", "0.25")),
    # How often a worker looks for messages past the visibility timeout (kombu: every
    # interval x throttle seconds, 100 s by default); the fault tests shorten both.
    "unacked_restore_interval": env_int("BROKER_UNACKED_RESTORE_INTERVAL", 10),
    "unacked_restore_throttle": env_int("BROKER_UNACKED_RESTORE_THROTTLE", 10),
}
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.1, "interval_max": 0.1}
# Results are kept only for tasks somebody waits on; the frame and relay tasks ignore theirs, so
# queueing them never touches the result backend (whose reconnect loop alone took 19 s).
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = 0.3
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {
    "retry_policy": {"max_retries": 3, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5},
}

# --- Email: invites, password resets, exam reminders (accounts.mail) ------------------------------
# SMTP when EMAIL_HOST is set (production); otherwise the embedded default prints each message on
# the console (EMAIL_BACKEND may name the file backend instead, which writes them to EMAIL_FILE_PATH).
EMAIL_HOST = env("EMAIL_HOST")
EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST
                    else "django.core.mail.backends.console.EmailBackend")
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = env("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", EMAIL_PORT == 587)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", EMAIL_PORT == 465)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
EMAIL_FILE_PATH = str(VAR_DIR / "mail")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "OpenProctor <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Links in emails sent without a request (exam reminders) start with this; invites and resets link
# to the address the admin or the student used.
SITE_URL = env("SITE_URL", "http://127.0.0.1:8000" if DEBUG else "").rstrip("/")
# LTI: the server fetches each registered LMS's public keys (its keyset URL). Outside development only over
# https from a public address: an institution's admin could otherwise make it read internal addresses (an audit).
LTI_ALLOW_PRIVATE_URLS = env_bool("LTI_ALLOW_PRIVATE_URLS", DEBUG)
LTI_FETCH_TIMEOUT = float(env("LTI_FETCH_TIMEOUT", "5"))  # seconds, to connect and to read the keys
LTI_KEYS_CACHE_SECONDS = env_int("LTI_KEYS_CACHE_SECONDS", 3600)
# Invite and password reset links (Django's token) work this long, and once.
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT_DAYS", 3) * 24 * 3600
# Password reset requests: per client address (then a 429 page) and per email address (then nothing
# more is sent, on the same page as ever: which addresses have accounts is never told).
PASSWORD_RESET_ADDRESS_LIMIT = env_int("PASSWORD_RESET_ADDRESS_LIMIT", 20)
PASSWORD_RESET_EMAIL_LIMIT = env_int("PASSWORD_RESET_EMAIL_LIMIT", 3)
PASSWORD_RESET_WINDOW = env_int("PASSWORD_RESET_WINDOW", 3600)
# A student's "Download my data" zip (proctoring.subject_archive) reads every frame they have: a few a day.
SUBJECT_ARCHIVE_LIMIT = env_int("SUBJECT_ARCHIVE_LIMIT", 5)
SUBJECT_ARCHIVE_WINDOW = env_int("SUBJECT_ARCHIVE_WINDOW", 24 * 3600)
# Enrolled students are mailed once, this many hours before their exam opens.
EXAM_REMINDER_HOURS = env_int("EXAM_REMINDER_HOURS", 24)

# --- AWS: DynamoDB stores and the Rekognition backend ------------------------------------------
AWS_REGION = env("AWS_REGION", env("AWS_DEFAULT_REGION", "us-east-1"))
DYNAMODB_ENDPOINT_URL = env("DYNAMODB_ENDPOINT_URL")
DYNAMODB_ENABLED = env_bool("DYNAMODB_ENABLED", bool(DYNAMODB_ENDPOINT_URL))
DYNAMODB_TABLE_PREFIX = env("DYNAMODB_TABLE_PREFIX", "openproctor-")
# Biometric files (frames, reference faces, ID photos): STORAGES["private"] (proctoring.storage).
# Local files under PRIVATE_MEDIA_ROOT in the embedded default; with S3_BUCKET a private S3 bucket
# (django-storages), so that web and worker nodes share no disk. S3_ENDPOINT_URL: an S3-compatible
# server (make stack and the tests run one on loopback); credentials as for DynamoDB.
S3_BUCKET = env("S3_BUCKET")
S3_ENDPOINT_URL = env("S3_ENDPOINT_URL")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "private": {"BACKEND": "proctoring.storage.LocalPrivateStorage"} if not S3_BUCKET else {
        "BACKEND": "proctoring.storage.S3PrivateStorage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET, "endpoint_url": S3_ENDPOINT_URL or None,
            "region_name": env("S3_REGION", AWS_REGION), "location": env("S3_PREFIX", ""),
            "addressing_style": env("S3_ADDRESSING_STYLE") or None,  # "path" for servers without bucket DNS names
        },
    },
}
ANALYSIS_BACKEND = env("ANALYSIS_BACKEND", "local")
if ANALYSIS_BACKEND not in {"local", "rekognition"}:
    raise ImproperlyConfigured("ANALYSIS_BACKEND must be 'local' or 'rekognition'.")

# --- REST API -----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header turns "not authenticated" into a 401.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["accounts.parsers.StrictJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "accounts.schema.AutoSchema",
    "EXCEPTION_HANDLER": "accounts.errors.api_exception_handler",
    "DEFAULT_PAGINATION_CLASS": "accounts.api_base.Pagination",
    "PAGE_SIZE": 50,
    # Cache-backed (Redis in the stack), keyed by the real client address, allowing when Redis is down.
    "DEFAULT_THROTTLE_CLASSES": [
        "accounts.throttle.AnonThrottle",
        "accounts.throttle.UserThrottle",
        "accounts.throttle.ScopedThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("API_RATE_ANON", "60/min"),
        "user": env("API_RATE_USER", "600/min"),
        "faces": env("API_RATE_FACES", "30/min"),
    },
}
# API tokens (django-rest-knox): only a hash is stored; each expires; a password change revokes them all.
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=env_int("API_TOKEN_TTL_HOURS", 24)),
    "AUTH_HEADER_PREFIX": "Token",
}
API_TOKENS_PER_USER = env_int("API_TOKENS_PER_USER", 20)  # the oldest beyond this are revoked
# Deepest JSON body the API accepts (objects and arrays); answers and events are shallow.
MAX_JSON_DEPTH = env_int("MAX_JSON_DEPTH", 32)
SPECTACULAR_SETTINGS = {
    "TITLE": "OpenProctor API",
    "DESCRIPTION": "Multi-tenant online exams with webcam proctoring.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # Swagger UI and ReDoc from drf-spectacular-sidecar's pinned copies, through the static files.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # <id:pk> (config/converters.py) is an integer id, as Django's <int:pk> was.
    "PATH_CONVERTER_OVERRIDES": {"id": int},
    # Several models have a "status"; name each choice set after its vocabulary, not a hash.
    "ENUM_NAME_OVERRIDES": {
        "ExamStatusEnum": "exams.models.ExamStatus",
        "SessionStatusEnum": "exams.statuses.SessionStatus",
        "FrameStatusEnum": "proctoring.models.FrameStatus",
    },
}
# Failed logins allowed per client address and per account in LOGIN_THROTTLE_WINDOW seconds.
LOGIN_THROTTLE_LIMIT = env_int("LOGIN_THROTTLE_LIMIT", 10)
LOGIN_THROTTLE_WINDOW = env_int("LOGIN_THROTTLE_WINDOW", 300)
# A session starts only on an identity pass (Person Recognition on a frame of the session) this recent.
IDENTITY_PASS_MAX_AGE = env_int("IDENTITY_PASS_MAX_AGE", 300)
# ... and only once it held, not on one lucky frame: that frame, and at least IDENTITY_PASS_FRAMES of the session's
# latest IDENTITY_PASS_WINDOW frames analysed in full (it among them), passed Person Recognition. At the check a
# frame goes every 2 s: with one frame enough, a look-alike whose frames pass one time in a thousand (the target FMR,
# 0.1%) passed within 5 minutes' tries about one time in seven (1 - 0.999^150 = 13.9%); with two of the latest three,
# 0.03%, were the frames independent. On the dev photos the right student passes within 2 / 3 frames 96.3% / 98.3%
# of the time (was 99.3% / 99.8%; within 1: 97.8%): scripts/measure_gate_identity.py. selectors.identity_held.
IDENTITY_PASS_FRAMES = env_int("IDENTITY_PASS_FRAMES", 2)
IDENTITY_PASS_WINDOW = env_int("IDENTITY_PASS_WINDOW", 3)
# The gate offers the photo-ID fallback after this many frames judged "not matching" (at once when
# the student has no reference photo, and always when the exam requires a photo ID).
IDENTITY_FALLBACK_AFTER = env_int("IDENTITY_FALLBACK_AFTER", 3)
# Liveness: each of the three head turns the server asks for (proctoring.liveness) is at least this many
# degrees of yaw from the student's own frontal pose, on frames of the gate; a pass counts for
# LIVENESS_PASS_MAX_AGE seconds. 15 is what scripts/measure_liveness.py's section 3 chooses for the face mesh's yaw
# (the gate's reading on the local engine): the smallest of 15/20/25/30 that passes no held-up still photo of one
# half of them and passes a real turn, on each half, with 0 held-out passes (0 of 109 on all). It was 20 with the
# five-point yaw, which lets 2 of 109 still photos through at 15. Not measured with Rekognition's Pose.
LIVENESS_TURN_DEGREES = env_int("LIVENESS_TURN_DEGREES", 15)
LIVENESS_PASS_MAX_AGE = env_int("LIVENESS_PASS_MAX_AGE", 300)
# A student whose own face the check has read on this many frames of the last LIVENESS_PASS_MAX_AGE seconds without
# the turns passing may ask a proctor instead (the photo-ID fallback; the proctor sees the check's frames and may
# excuse the turns for the session). 30 frames is a minute at the check page's one frame per 2 s: a choice, not a
# measurement (no recording of real students trying the turns exists to time them); a fairness audit found two of
# ten honest students stuck at the turns for good with no way on.
LIVENESS_FALLBACK_AFTER = env_int("LIVENESS_FALLBACK_AFTER", 30)
# Only frames whose face is the student's count towards the turns (proctoring.liveness.own_face): similarity to the
# student's references at least this (the identity pass needs FACE_MATCH_THRESHOLD, 90; a turned face matches less
# well). scripts/measure_liveness.py --only-whose (section 7): the 16 real people's turned frames (their one turned
# photo and its mirror image; the head-pose woman's two) against their own other photos: lowest 80.9 (a profile),
# 0 of 30 under 80; against the other people's photos, 8 of 480 at 80 or more (highest 87.9, all within one webcam
# set of look-alike young men). Read off these 30 genuine pairs (no held-out fold): under the lowest genuine turn.
LIVENESS_MIN_SIMILARITY = env_int("LIVENESS_MIN_SIMILARITY", 80)
# An exam that listens starts only on a microphone check (the check page's meter heard a signal) this recent.
MICROPHONE_CHECK_MAX_AGE = env_int("MICROPHONE_CHECK_MAX_AGE", 300)

# --- Abuse limits (accounts.throttle, proctoring.limits) -----------------------------------------
# Proxies in front of the app that append to X-Forwarded-For: the client is the address the nearest
# trusted proxy appended; anything left of it is the client's own claim. 0 ignores the header. A
# deployment (DEBUG=0) sits behind the TLS proxy that SECURE_PROXY_SSL_HEADER already trusts.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0 if DEBUG else 1)
# Failed logins, counted by django-axes in the database (works without Redis), per account and
# client address together: an email alone never locks its owner out everywhere.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 15))
# Each further lock-out of the same account from the same address doubles the wait (accounts.throttle),
# up to LOGIN_COOLOFF_MAX_HOURS; a day without one starts again from LOGIN_COOLOFF_MINUTES.
LOGIN_COOLOFF_MAX = timedelta(hours=env_int("LOGIN_COOLOFF_MAX_HOURS", 24))
LOGIN_LOCKOUT_MEMORY = timedelta(hours=env_int("LOGIN_LOCKOUT_MEMORY_HOURS", 24))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_CALLABLE = "accounts.throttle.axes_username"
AXES_CLIENT_IP_CALLABLE = "accounts.throttle.axes_client_ip"
AXES_LOCKOUT_CALLABLE = "accounts.throttle.axes_lockout_response"
AXES_VERBOSE = False
AXES_DISABLE_ACCESS_LOG = True  # no row per successful sign-in (address, browser) kept forever
# Failed logins per client address over all accounts (password spraying), in the cache; high enough
# for an exam hall behind one address.
LOGIN_ADDRESS_FAILURE_LIMIT = env_int("LOGIN_ADDRESS_FAILURE_LIMIT", 100)
LOGIN_ADDRESS_FAILURE_WINDOW = env_int("LOGIN_ADDRESS_FAILURE_WINDOW", 900)
# After a cache error, limits are skipped (requests allowed) for this many seconds per process.
RATE_LIMIT_CACHE_RETRY = env_int("RATE_LIMIT_CACHE_RETRY", 15)
# Frames: per session about one per capture interval of the exam over FRAME_RATE_WINDOW seconds,
# plus FRAME_RATE_BURST: the browser keeps up to about 20 frames taken offline and sends them together
# when back online. The byte cap per user bounds what a burst can weigh.
FRAME_RATE_WINDOW = env_int("FRAME_RATE_WINDOW", 60)
FRAME_RATE_BURST = env_int("FRAME_RATE_BURST", 20)
# The identity gate's page sends a frame this often (static/js/check.js); the gate allows that rate.
GATE_FRAME_INTERVAL = env_int("GATE_FRAME_INTERVAL", 2)
FRAME_BYTES_PER_USER = env_int("FRAME_BYTES_PER_USER", 48 * 1024 * 1024)
FRAME_BYTES_WINDOW = env_int("FRAME_BYTES_WINDOW", 300)
# Speech clips (16 kHz PCM, 32 kB a second, only speech is sent): at most this many bytes per user per
# window, i.e. about 3 minutes of speech in 5 minutes.
SPEECH_BYTES_PER_USER = env_int("SPEECH_BYTES_PER_USER", 6 * 1024 * 1024)
SPEECH_BYTES_WINDOW = env_int("SPEECH_BYTES_WINDOW", 300)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
}

CELERY_BEAT_SCHEDULE = {
    "relay-outbox": {"task": "proctoring.relay_outbox", "schedule": float(env_int("OUTBOX_RELAY_EVERY", 30))},
    "requeue-stale-frames": {"task": "proctoring.requeue_stale_frames",
                             "schedule": float(env_int("FRAME_REQUEUE_EVERY", 60))},
    "purge-frames": {"task": "proctoring.purge_frames", "schedule": 3600.0},
    "exam-reminders": {"task": "exams.send_exam_reminders", "schedule": float(env_int("EXAM_REMINDER_EVERY", 300))},
    "expire-overdue-sessions": {"task": "exams.expire_overdue_sessions",
                                "schedule": float(env_int("EXPIRE_OVERDUE_EVERY", 30))},
}
# Pay only for what changed (proctoring/skipping.py): an exam frame whose thumbnail differs from the
# session's last analysed frame by less than FRAME_SKIP_THRESHOLD (the largest block's difference, in about
# grey levels; 0 turns skipping off) carries that frame's result; every session's objects, people and faces
# are analysed again at least every FRAME_SKIP_MAX_AGE_SECONDS (a refresh that carries the 1:1 face
# comparison and the unsafe-content answer), and everything at least every FRAME_SKIP_FULL_MAX_AGE_SECONDS.
# A frame of the camera check is carried only once its gate is passed, from a frame at most
# FRAME_SKIP_MAX_AGE_SECONDS older, and never refreshed. Measured in scripts/measure_skipping.py.
FRAME_SKIP_THRESHOLD = env_int("FRAME_SKIP_THRESHOLD", 5)
FRAME_SKIP_MAX_AGE_SECONDS = env_int("FRAME_SKIP_MAX_AGE_SECONDS", 30)
FRAME_SKIP_FULL_MAX_AGE_SECONDS = env_int("FRAME_SKIP_FULL_MAX_AGE_SECONDS", 120)
# Under overload, shed load: a frame that waited this long for a worker while a newer frame of its
# session arrived is not analysed (status "shed"); each student's newest frame is. The live view says so.
FRAME_SHED_AFTER_SECONDS = env_int("FRAME_SHED_AFTER_SECONDS", 10)
# A pending frame is a candidate for the sweeper after this many seconds (proctoring/queueing.py).
FRAME_REQUEUE_AFTER_SECONDS = env_int("FRAME_REQUEUE_AFTER_SECONDS", 60)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- /healthz: worker liveness and backlog (503 past these) --------------------------------------
# A running worker writes a heartbeat every WORKER_HEARTBEAT_INTERVAL seconds (config.heartbeat).
WORKER_HEARTBEAT_INTERVAL = env_int("WORKER_HEARTBEAT_INTERVAL", 10)
HEALTH_WORKER_MAX_SILENCE = env_int("HEALTH_WORKER_MAX_SILENCE", 60)
# The sweeper requeues a lost frame after a minute; pending much longer means nobody analyses them.
HEALTH_FRAME_BACKLOG_MAX_AGE = env_int("HEALTH_FRAME_BACKLOG_MAX_AGE", 180)
# The relay runs every 30 s and backs off up to 10 minutes per message while DynamoDB is down.
HEALTH_OUTBOX_BACKLOG_MAX_AGE = env_int("HEALTH_OUTBOX_BACKLOG_MAX_AGE", 900)
