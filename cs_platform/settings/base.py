"""Every setting of the platform; values that differ between deployments come from the
environment (see .env.example for the list and what each one means)."""

from pathlib import Path

import plotly
from django.core.exceptions import ImproperlyConfigured

from cs_platform.settings.env import (
    env_bool,
    env_database,
    env_int,
    env_list,
    env_redis_url,
    env_str,
    env_time_zone,
)

BASE_DIR = Path(__file__).resolve().parent.parent.parent

DEBUG = env_bool("DEBUG", default=False)

_DEV_SECRET_KEY = "dev-only-insecure-key-never-use-in-production-0123456789abcdef"
SECRET_KEY = env_str("SECRET_KEY", default=_DEV_SECRET_KEY if DEBUG else None)
if not DEBUG and SECRET_KEY == _DEV_SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set to a long random value when DEBUG is off.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_filters",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "accounts",
    "health",
    "journeys",
    "feedback",
    "reports",
    # Sign-in: failed-login cool-off, two-factor (TOTP + recovery codes), session limits.
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "accounts.security",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # After messages, so that a session ended for idleness can say so on the login page.
    "accounts.security.middleware.SessionLimitsMiddleware",
    "accounts.security.middleware.AdminTwoFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # The request in a ContextVar, for the audit log's actor and address.
    "accounts.audit_middleware.AuditRequestMiddleware",
    "csp.middleware.CSPMiddleware",
]

ROOT_URLCONF = "cs_platform.urls"
WSGI_APPLICATION = "cs_platform.wsgi.application"

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
            ],
        },
    },
]

DATABASES = {"default": env_database("DATABASE_URL", str(BASE_DIR / "db.sqlite3"))}
# Persistent connections: a DRF list served 2.8x more requests with them (FIELD-NOTES).
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["accounts.authentication.UserWithTeamBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# --- Sign-in security (django-allauth account + mfa; see accounts/security/) ---
# A session ends after this long without a request, and in any case this long after sign-in.
SESSION_IDLE_TIMEOUT_SECONDS = env_int("SESSION_IDLE_TIMEOUT_MINUTES", default=60) * 60
SESSION_MAX_AGE_SECONDS = env_int("SESSION_MAX_AGE_HOURS", default=12) * 60 * 60
if SESSION_IDLE_TIMEOUT_SECONDS <= 0 or SESSION_MAX_AGE_SECONDS <= 0:
    raise ImproperlyConfigured(
        "SESSION_IDLE_TIMEOUT_MINUTES and SESSION_MAX_AGE_HOURS must be at least 1."
    )
# The stored session and its cookie never outlive the absolute limit.
SESSION_COOKIE_AGE = SESSION_MAX_AGE_SECONDS
# Failed sign-ins counted per client address and per username over a sliding window; a
# throttled attempt is refused (even with the right password) until failures leave the
# window. Nothing is locked for good, so an attacker cannot lock a colleague out for longer.
LOGIN_COOLOFF_MINUTES = env_int("LOGIN_COOLOFF_MINUTES", default=15)
LOGIN_FAILURES_PER_USERNAME = env_int("LOGIN_FAILURES_PER_USERNAME", default=5)
LOGIN_FAILURES_PER_ADDRESS = env_int("LOGIN_FAILURES_PER_ADDRESS", default=20)
# Every sign-in, successful or not, per client address and minute: a whole office behind one
# NAT signing in at nine stays well under it (allauth's default of 30 does not).
LOGIN_ATTEMPTS_PER_ADDRESS_PER_MINUTE = env_int(
    "LOGIN_ATTEMPTS_PER_ADDRESS_PER_MINUTE", default=120
)
ACCOUNT_RATE_LIMITS = {
    "login": f"{LOGIN_ATTEMPTS_PER_ADDRESS_PER_MINUTE}/m/ip",
    "login_failed": (
        f"{LOGIN_FAILURES_PER_ADDRESS}/{LOGIN_COOLOFF_MINUTES}m/ip,"
        f"{LOGIN_FAILURES_PER_USERNAME}/{LOGIN_COOLOFF_MINUTES}m/key"
    ),
}
# Proxies in front of the app that append to X-Forwarded-For (0: use the socket address).
ALLAUTH_TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", default=0)
ACCOUNT_ADAPTER = "accounts.security.adapter.PlatformAccountAdapter"
ACCOUNT_FORMS = {"login": "accounts.security.forms.PlatformLoginForm"}
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "password1*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
# No "remember me": the cookie ends with the browser, the stored session at the limits above.
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_LOGOUT_ON_GET = False
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "CS Platform"
# On: an administrator without an authenticator app sees only the setup page.
MFA_REQUIRED_FOR_ADMINS = env_bool("MFA_REQUIRED_FOR_ADMINS", default=False)

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_time_zone("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    # Plotly's JS comes from the installed package, never from a CDN.
    ("vendor/plotly", str(Path(plotly.__file__).parent / "package_data")),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# The demo serves without collectstatic; production runs collectstatic in the image.
WHITENOISE_USE_FINDERS = DEBUG

MEDIA_ROOT = BASE_DIR / "media"

# --- Security (check --deploy is clean when DEBUG is off) ---
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# Scripts only from this origin: charts are JSON in <script type="application/json"> drawn by
# static/js/charts.js, never inline script. Plotly sets inline styles, hence 'unsafe-inline'
# for styles only. The API docs page is covered too: its Swagger UI starts from a script file
# (drf-spectacular's split view), not inline.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}

# --- Email ---
EMAIL_BACKEND = env_str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env_int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", default="cs-platform@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Celery ---
REDIS_URL = env_redis_url("REDIS_URL")
CELERY_BROKER_URL = REDIS_URL or "memory://"
# Chords (the nightly fan-out) need a result backend; results expire after a day.
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_RESULT_EXPIRES = 24 * 60 * 60
# Without a broker the demo runs tasks in-process, so `make run` needs nothing but Python.
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
# With acks_late alone a killed pool child still acks; this makes Redis redeliver (FIELD-NOTES).
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A task stuck past these limits is killed rather than holding a worker forever.
CELERY_TASK_SOFT_TIME_LIMIT = 30 * 60
CELERY_TASK_TIME_LIMIT = 35 * 60
# Redis hands an unacknowledged message to another worker after the visibility timeout, so
# it must outlast the longest task (the hard limit) plus the longest countdown a message
# waits unacknowledged in a worker (retry backoffs of up to an hour): shorter, and a healthy
# task or a scheduled retry runs twice. The cost: a whole worker lost is redelivered this late.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 2 * 60 * 60}
# Fault injection for the worker-kill test only: each health chunk task waits this many
# milliseconds after writing its rows, so the test can kill the worker between the write and
# the acknowledgement. Always 0 outside that test.
FAULT_INJECTION_HEALTH_CHUNK_DELAY_MS = env_int("FAULT_INJECTION_HEALTH_CHUNK_DELAY_MS", default=0)
CELERY_WORKER_MAX_TASKS_PER_CHILD = 200

CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", default="INFO")},
    # WeasyPrint logs every layout step of every PDF page at INFO: noise in a worker's log.
    "loggers": {"weasyprint.progress": {"level": "WARNING"}},
}

# Absolute address of this instance, for links in emails (survey invitations).
SITE_URL = env_str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

# Page size of lists such as /accounts/ and /tasks/.
PAGE_SIZE = 50

# Number of key features of the product: the adoption measure is "key features used ÷ this".
HEALTH_KEY_FEATURES = env_int("HEALTH_KEY_FEATURES", default=10)
# Chunks of the in-process health recompute run at once on PostgreSQL (one connection each);
# the machine's core count is a good value, 1 runs them one after another.
HEALTH_RECOMPUTE_THREADS = env_int("HEALTH_RECOMPUTE_THREADS", default=2)

# CSV imports (accounts, contacts, contracts, survey answers) refuse a file above either
# limit before parsing it, so an oversized upload costs one pass over its bytes, not a check
# of every row.
IMPORT_MAX_BYTES = env_int("IMPORT_MAX_BYTES", default=10 * 1024 * 1024)
IMPORT_MAX_ROWS = env_int("IMPORT_MAX_ROWS", default=50_000)
# A form's fields (files aside) stay under 2.5 MB; an uploaded file above 2.5 MB streams to
# a temporary file rather than memory, so the row count above is read without holding it.
# The ingest API reads its JSON body under its own limit (accounts/api_ingest.py).
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# --- REST API (/api/v1/) ---
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.api_auth.HashedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "cs_platform.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "cs_platform.api.errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["cs_platform.api.throttles.TokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "token": env_str("API_THROTTLE_RATE", default="1200/minute"),
        "ingest": env_str("API_INGEST_THROTTLE_RATE", default="120/minute"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CS Platform API",
    "DESCRIPTION": "Accounts, health, journeys, feedback and metrics of the CS platform.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and ReDoc assets from the installed sidecar package, never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
}
