"""Settings for the ODR platform: one module, every value from the environment.

The defaults are the embedded development set-up (SQLite, no server). Production sets at least
SECRET_KEY, DATABASE_URL (PostgreSQL), REDIS_URL and ALLOWED_HOSTS, and leaves DEBUG off.
"""

import sys
from pathlib import Path

import environ
from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _

from odr.documents.storage import storage_from_env

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
TESTING = "pytest" in sys.modules
# `make demo` writes a .env with DEBUG=1 and a random key; a real deployment sets the environment.
# The tests never read it: `make demo` then `make test` (the README's two commands, in that order)
# must test the production defaults, not the demo's DEBUG=1.
if not TESTING:
    environ.Env.read_env(env.str("ODR_ENV_FILE", default=str(BASE_DIR / ".env")), overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
# Without SECRET_KEY the settings still load (so that migrations and checks run on a fresh clone),
# but the serving entry points refuse to start unless DEBUG is on: see odr/startup.py.
SECRET_KEY = env.str("SECRET_KEY", default="")
SECRET_KEY_IS_DEVELOPMENT_DEFAULT = not SECRET_KEY
if SECRET_KEY_IS_DEVELOPMENT_DEFAULT:
    SECRET_KEY = "insecure-development-key-never-use-in-production"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rules.apps.AutodiscoverRulesConfig",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "odr.api",
    "odr.webhooks",
    "allauth",
    "allauth.account",
    "django_htmx",
    "csp",
    "odr.accounts",
    "odr.references",
    "odr.audit",
    "odr.deadlines",
    "odr.notifications",
    "odr.consent",
    "odr.documents",
    "odr.ops",
    "complaints",
    "mediation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
]

ROOT_URLCONF = "odr.urls"
WSGI_APPLICATION = "odr.wsgi.application"
ASGI_APPLICATION = "odr.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "odr.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The demo runs web, worker and beat on one SQLite file. A deferred transaction that turns into a
    # writer fails at once ("database is locked") whatever the timeout; IMMEDIATE takes the write lock
    # at BEGIN and waits for it, and WAL lets readers go on while one process writes.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
# Persistent connections: a new PostgreSQL connection per request cost ~15 ms (issue 14). Health
# checks make a connection that died while idle (server restart, failover) be replaced at the start of
# the next request instead of failing it. SQLite opens a file, not a network connection: nothing to save,
# and the demo's three processes are better off not holding it open. Celery tasks close connections older
# than this, or broken, before and after each task (Celery's Django fixup), like requests do.
DATABASES["default"]["CONN_MAX_AGE"] = env.int(
    "CONN_MAX_AGE", default=0 if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3" else 600
)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# How long opening a PostgreSQL connection may take, in seconds (libpq's connect_timeout; it counts 2
# at least). Without it, a database host that drops packets (a failover, a firewall) holds a request,
# a readiness probe or a worker for the operating system's TCP timeout, about two minutes.
ODR_DB_CONNECT_TIMEOUT_SECONDS = env.int("ODR_DB_CONNECT_TIMEOUT_SECONDS", default=5)
if ODR_DB_CONNECT_TIMEOUT_SECONDS and DATABASES["default"]["ENGINE"].endswith("postgresql"):
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = ODR_DB_CONNECT_TIMEOUT_SECONDS
# A bound on any one SQL statement, in milliseconds (0: none). gunicorn.conf.py sets it for the web
# processes only (below their request timeout): a gthread worker's heartbeat runs in its main thread,
# so gunicorn's timeout never ends a request stuck in the database. Workers and commands (the audit
# check, a rebuild) read years of data and keep no bound.
ODR_DB_STATEMENT_TIMEOUT_MS = env.int("ODR_DB_STATEMENT_TIMEOUT_MS", default=0)
if ODR_DB_STATEMENT_TIMEOUT_MS and DATABASES["default"]["ENGINE"].endswith("postgresql"):
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
        f"-c statement_timeout={ODR_DB_STATEMENT_TIMEOUT_MS} "
        f"-c idle_in_transaction_session_timeout={ODR_DB_STATEMENT_TIMEOUT_MS}"
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "portal"
AUTHENTICATION_BACKENDS = [
    "rules.permissions.ObjectPermissionBackend",
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

# --- Accounts (django-allauth): e-mail only, verified by a code before the first login; a consumer
# --- who wants no password logs in with a code sent by e-mail. allauth's rate limits (on by
# --- default, kept in the cache below) throttle failed logins per address and per IP.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED = True
ACCOUNT_LOGIN_BY_CODE_ENABLED = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_EMAIL_SUBJECT_PREFIX = ""
ACCOUNT_ADAPTER = "odr.accounts.adapter.AccountAdapter"
ACCOUNT_SIGNUP_FORM_CLASS = "odr.accounts.forms.SignupNameForm"
ACCOUNT_RATE_LIMITS = {
    "login_failed": env.str("ODR_LOGIN_FAILED_RATE", default="10/m/ip,5/5m/key"),
}
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": env.str("REDIS_URL")}
    if env.str("REDIS_URL", default="") and not TESTING
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("French")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "Europe/Paris"

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "var" / "static")))
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "var" / "media")))
MEDIA_URL = "media/"
# Scratch space on this host for files being produced (the bulk export's ZIP) before they go into
# storage; never shared, emptied by the producer in every outcome. Empty: the system's temp directory.
ODR_WORK_DIR = env.str("ODR_WORK_DIR", default="") or None
# Uploads and generated documents: MEDIA_ROOT on the local disk, or with ODR_S3_BUCKET (and
# ODR_S3_ENDPOINT_URL, ODR_S3_REGION, ODR_S3_PATH_STYLE, ODR_S3_PREFIX) a private S3-compatible
# bucket that web processes and workers on several hosts share (odr/documents/storage.py).
STORAGES = {
    "default": storage_from_env(env),
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or TESTING
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# E-mail: EMAIL_URL (smtp+tls://user:password@host:587, see django-environ) in production. Without
# it, e-mails are kept in the database and shown at /dev/mailbox/ — which odr/startup.py refuses
# outside DEBUG, so that a deployment cannot "send" legal notices into a table by mistake.
DEV_MAILBOX_BACKEND = "odr.notifications.devmailbox.DevMailboxBackend"
if env.str("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = env.str("EMAIL_BACKEND", default=DEV_MAILBOX_BACKEND)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)  # a hung SMTP server must not hold an outbox lock
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="ODR <no-reply@localhost>")

# --- The REST API (issue 7): /api/v1/, JSON only, per-merchant API keys, cursor pagination, RFC 9457
# --- problem details for every error, OpenAPI 3 by drf-spectacular (Swagger UI and ReDoc self-hosted).
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "odr.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "odr.api.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["odr.api.filters.FilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": ["odr.api.throttling.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": env.str("ODR_API_RATE", default="600/minute")},
    "EXCEPTION_HANDLER": "odr.api.problems.problem_exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ODR platform API",
    "DESCRIPTION": "Complaints, mediation cases, webhooks and consent receipts for merchants.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Webhooks (issue 7): a receiver has this long to answer; plain http only to localhost, for tests.
ODR_WEBHOOK_TIMEOUT_SECONDS = env.int("ODR_WEBHOOK_TIMEOUT_SECONDS", default=5)
ODR_WEBHOOKS_ALLOW_HTTP_LOCALHOST = env.bool("ODR_WEBHOOKS_ALLOW_HTTP_LOCALHOST", default=False)
# Webhooks go to public addresses only (SSRF); an installation whose merchants' systems sit on its
# own network may allow private ones (odr/webhooks/addresses.py).
ODR_WEBHOOKS_ALLOW_PRIVATE_NETWORKS = env.bool("ODR_WEBHOOKS_ALLOW_PRIVATE_NETWORKS", default=False)

# --- Uploads (issue 5): evidence files. Allow-listed by their bytes, not their names.
ODR_UPLOAD_MAX_BYTES = env.int("ODR_UPLOAD_MAX_BYTES", default=10 * 1024 * 1024)
ODR_UPLOAD_MAX_FILES_PER_CASE = env.int("ODR_UPLOAD_MAX_FILES_PER_CASE", default=20)
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# --- Content-Security-Policy (django-csp): no inline script or style anywhere, nothing from a
# --- third party (DESIGN.md, privacy by design). htmx is a vendored static file.
from csp.constants import NONE, SELF  # noqa: E402

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "frame-src": [SELF],
        "base-uri": [SELF],
        "object-src": [NONE],
    }
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

if not DEBUG:
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not TESTING)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not TESTING)

# LOGGING: in the Operations block at the end of this module (odr/ops).

# --- The law's numbers (DOMAIN.md). Each one is a setting because the law leaves it open or a
# --- mediation body may choose a longer period.
ODR_MERCHANT_RESPONSE_DAYS = env.int("ODR_MERCHANT_RESPONSE_DAYS", default=30)  # D3
ODR_REFERRAL_WINDOW_YEARS = env.int("ODR_REFERRAL_WINDOW_YEARS", default=1)  # D8, L612-2 4°
ODR_ADMISSIBILITY_DAYS = env.int("ODR_ADMISSIBILITY_DAYS", default=21)  # D12
ODR_OUTCOME_DAYS = env.int("ODR_OUTCOME_DAYS", default=90)  # D16, R612-5
ODR_OUTCOME_REMINDER_DAYS = env.list("ODR_OUTCOME_REMINDER_DAYS", cast=int, default=[14, 3])  # D18
ODR_PROPOSAL_ACCEPTANCE_DAYS = env.int("ODR_PROPOSAL_ACCEPTANCE_DAYS", default=15)  # D25
ODR_COMPLIANCE_FOLLOWUP_DAYS = env.int("ODR_COMPLIANCE_FOLLOWUP_DAYS", default=30)  # D29
ODR_RETENTION_YEARS = env.int("ODR_RETENTION_YEARS", default=5)  # D35
# D38: a period whose last day is a weekend day or a French public holiday ends on the next
# working day. Off by default: the consumer code counts calendar days.
ODR_ROLL_OVER_NON_WORKING_DAYS = env.bool("ODR_ROLL_OVER_NON_WORKING_DAYS", default=False)
ODR_DEFAULT_TIME_ZONE = env.str("ODR_DEFAULT_TIME_ZONE", default="Europe/Paris")

# --- Consent receipts (D31–D33): Ed25519 signing keys as private JWK files, newest one signs.
ODR_SIGNING_KEYS_DIR = Path(env.str("ODR_SIGNING_KEYS_DIR", default=str(BASE_DIR / "var" / "signing-keys")))
# Where the platform is reached from outside: links in e-mails, receipts and the consent policy.
ODR_PUBLIC_URL = env.str("ODR_PUBLIC_URL", default="http://127.0.0.1:8000")
ODR_CONSENT_POLICY_URL = env.str("ODR_CONSENT_POLICY_URL", default=ODR_PUBLIC_URL + "/privacy/")
ODR_CONTROLLER_NAME = env.str("ODR_CONTROLLER_NAME", default="ODR platform (demo)")
ODR_CONTROLLER_CONTACT = env.str("ODR_CONTROLLER_CONTACT", default="Data protection officer")
ODR_CONTROLLER_ADDRESS = env.str("ODR_CONTROLLER_ADDRESS", default="1 rue de la Démo, 75001 Paris, France")
ODR_CONTROLLER_EMAIL = env.str("ODR_CONTROLLER_EMAIL", default="dpo@localhost")
ODR_CONTROLLER_PHONE = env.str("ODR_CONTROLLER_PHONE", default="+33 1 00 00 00 00")

# --- Celery (odr/celery.py). Reliability first: a task is acknowledged only once done, a task whose
# --- worker died is redelivered, heavy queues take one task at a time, JSON only.
# Without Redis: kombu's filesystem transport with its read/write races closed (odr/broker_filesystem.py,
# registered by odr/celery.py): stock kombu 5.7 crashed the demo's worker on a message file read
# before it was written.
CELERY_BROKER_URL = REDIS_URL or "odr-filesystem://"
if not REDIS_URL:
    from odr.broker_filesystem import transport_options

    CELERY_BROKER_TRANSPORT_OPTIONS = transport_options(
        env.str("ODR_BROKER_DIR", default=str(BASE_DIR / "var" / "broker"))
    )
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing from a request never waits on the broker (odr/tasks_enqueue.py): one attempt with this
# connect/socket timeout, then the row is left for the periodic pick-up, and this process stops trying
# for ODR_BROKER_BREAKER_SECONDS. The worker's consuming connection keeps Celery's own retries.
ODR_BROKER_PUBLISH_TIMEOUT_SECONDS = env.float("ODR_BROKER_PUBLISH_TIMEOUT_SECONDS", default=1.0)
ODR_BROKER_BREAKER_SECONDS = env.float("ODR_BROKER_BREAKER_SECONDS", default=30.0)
CELERY_BROKER_CONNECTION_TIMEOUT = 5
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "odr.notifications.*": {"queue": "notifications"},
    "odr.documents.*": {"queue": "pdf"},
}
CELERY_TIMEZONE = TIME_ZONE
# How often beat runs the deadline sweep, and the pick-ups of outbox rows and documents whose task
# was lost (seconds; beat sends an interval task one interval after it starts). Each run is bounded
# and costs what is due, so a shorter interval only makes effects prompter.
ODR_SWEEP_EVERY_SECONDS = env.float("ODR_SWEEP_EVERY_SECONDS", default=60.0)
ODR_PICKUP_EVERY_SECONDS = env.float("ODR_PICKUP_EVERY_SECONDS", default=60.0)
CELERY_BEAT_SCHEDULE = {
    "sweep-deadlines": {"task": "odr.deadlines.sweep", "schedule": ODR_SWEEP_EVERY_SECONDS},
    "relay-pending-outbox": {"task": "odr.notifications.relay_pending", "schedule": ODR_PICKUP_EVERY_SECONDS},
    "expire-consents": {"task": "odr.consent.expire_due", "schedule": 3600.0},
    "render-pending-documents": {
        "task": "odr.documents.render_pending",
        "schedule": ODR_PICKUP_EVERY_SECONDS,
    },
    # D34: the day's signed checkpoint of the audit chains' heads (after midnight, when it is quiet).
    "audit-checkpoint": {"task": "odr.audit.checkpoint", "schedule": crontab(hour=0, minute=30)},
    # The compliance dashboard's day buckets (mediation/case_figures.py): "figures as of" one minute.
    "refresh-case-figures": {"task": "mediation.refresh_case_figures", "schedule": 60.0},
}
# At most this many chain heads per signed checkpoint (~100 bytes each): a busy day, or the first
# run on years of data, makes several checkpoints in a row rather than one huge file.
ODR_AUDIT_CHECKPOINT_MAX_HEADS = env.int("ODR_AUDIT_CHECKPOINT_MAX_HEADS", default=20_000)

# --- Documents produced in steps (exports): a worker holds a running one this long past its last
# --- progress report; after that the periodic pick-up takes it over (its worker died).
ODR_DOCUMENT_LEASE_SECONDS = env.int("ODR_DOCUMENT_LEASE_SECONDS", default=600)

# --- The outbox relay's retries: base × 2^(n-1) seconds, capped; dead letter after N attempts.
ODR_OUTBOX_RETRY_BASE_SECONDS = env.int("ODR_OUTBOX_RETRY_BASE_SECONDS", default=30)
ODR_OUTBOX_RETRY_MAX_SECONDS = env.int("ODR_OUTBOX_RETRY_MAX_SECONDS", default=3600)
ODR_OUTBOX_MAX_ATTEMPTS = env.int("ODR_OUTBOX_MAX_ATTEMPTS", default=8)

# --- The deadline sweep (odr/deadlines/sweep.py): rows claimed per batch, and a cap per run (items
# --- or seconds, whichever first) so that a run ends within its minute; the next run continues.
ODR_SWEEP_BATCH_SIZE = env.int("ODR_SWEEP_BATCH_SIZE", default=200)
ODR_SWEEP_MAX_ITEMS = env.int("ODR_SWEEP_MAX_ITEMS", default=5000)
ODR_SWEEP_MAX_SECONDS = env.float("ODR_SWEEP_MAX_SECONDS", default=45.0)
# A run that stopped at its cap sends the next one at once (odr/deadlines/tasks.py) rather than
# waiting for beat's next minute: the midnight burst drains in one go. Off: one run per beat tick.
ODR_SWEEP_CONTINUE = env.bool("ODR_SWEEP_CONTINUE", default=True)

# --- Reminders before a duty's due date, in days (D3, D12, D18). Read when a reminder is scheduled
# --- (a deadline opened or moved, the previous reminder sent): a change applies from the next one;
# --- `manage.py sweep_deadlines --reschedule-reminders` applies it to every pending deadline now.
ODR_RESPONSE_REMINDER_DAYS = env.list("ODR_RESPONSE_REMINDER_DAYS", cast=int, default=[7, 2])
ODR_ADMISSIBILITY_REMINDER_DAYS = env.list("ODR_ADMISSIBILITY_REMINDER_DAYS", cast=int, default=[7, 2])

# --- Operations (odr/ops, issue 15): health and readiness, metrics, logs, error reporting. ----------
# Readiness (/readyz; /healthz is liveness and reads nothing). The sweep runs every minute: a lag over
# two minutes means a run was missed (beat or worker stopped) or a backlog older than that waits.
ODR_READY_SWEEP_LAG_SECONDS = env.int("ODR_READY_SWEEP_LAG_SECONDS", default=120)
# Outbox rows due (first try or retry) for longer than this many minutes: the relay runs every minute
# and a worker sends an e-mail in well under a second, so ten minutes unsent means the relay, its
# worker or the broker is not doing its job; a mass mailing drains within it. None are tolerated.
ODR_READY_OUTBOX_BACKLOG_MINUTES = env.int("ODR_READY_OUTBOX_BACKLOG_MINUTES", default=10)
ODR_READY_OUTBOX_BACKLOG_MAX = env.int("ODR_READY_OUTBOX_BACKLOG_MAX", default=0)
# Dead letters (a row given up after ODR_OUTBOX_MAX_ATTEMPTS: by default 7 waits of 30 s × 2^(n-1),
# 3,810 s, about an hour of retries): a legal notice nobody received needs a person, so none is
# tolerated by default. Only e-mails count: a merchant's broken webhook endpoint is the merchant's
# problem, seen in odr_webhooks_failing, and must not keep the platform "not ready". An operator
# clears the check by resending (admin, "Send again") or, once the notice has been given another way
# or the address is known to be dead, by acknowledging it (admin, "Acknowledge the dead letters"):
# the row stays, as the record of the notice, but no longer counts. Deleting a webhook endpoint
# acknowledges its deliveries itself.
ODR_READY_DEAD_LETTERS_MAX = env.int("ODR_READY_DEAD_LETTERS_MAX", default=0)
ODR_READY_DEAD_LETTER_CHANNELS = env.list("ODR_READY_DEAD_LETTER_CHANNELS", default=["email"])

# /metrics: scraped with "Authorization: Bearer <ODR_METRICS_TOKEN>"; without a token, DEBUG only.
ODR_METRICS_TOKEN = env.str("ODR_METRICS_TOKEN", default="")
# Request latency and counts (django-prometheus); gunicorn.conf.py sets PROMETHEUS_MULTIPROC_DIR so
# that /metrics reports all the host's worker processes. The request id comes first, so that every
# line a request logs (even the middlewares') carries it.
MIDDLEWARE = [
    "odr.ops.logcontext.RequestContextMiddleware",
    # /healthz and /readyz answer a probe that calls by IP address, whatever ALLOWED_HOSTS says.
    "odr.ops.probehost.ProbeHostMiddleware",
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    *MIDDLEWARE,
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

# Logs: one JSON object per line in production, readable text in DEBUG (the demo). Every record
# carries request_id, task_id/task_name and case_reference (odr/ops/logcontext.py); anything
# e-mail-shaped is masked. The worker keeps this configuration instead of Celery's own.
LOG_FORMAT = env.str("LOG_FORMAT", default="text" if DEBUG else "json")
from odr.ops.logformat import logging_config  # noqa: E402

LOGGING = logging_config(log_format=LOG_FORMAT, level=env.str("LOG_LEVEL", default="INFO"))
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# Error reporting (sentry-sdk) when SENTRY_DSN is set; no personal data is sent (odr/ops/sentry.py).
SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN and not TESTING:
    from odr.ops.sentry import init_sentry

    init_sentry(
        dsn=SENTRY_DSN,
        release=env.str("SENTRY_RELEASE", default=""),
        environment=env.str("SENTRY_ENVIRONMENT", default=""),
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
    )
