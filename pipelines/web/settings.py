"""The front door's settings, from the service's environment file (the same one the pipeline's
units read). Production by default: `LIIA_WEB_BEHIND_TLS=0` only for a trial on one machine."""

from __future__ import annotations

import os
import secrets
from urllib.parse import unquote, urlparse

from csp.constants import NONE, SELF

from pipelines.collection.places import PROJECT_ROOT, load_environment_file, place

load_environment_file()
WEB_DATA = place("web")


def _flag(name: str, default: str) -> bool:
    return os.environ.get(name, default).strip().lower() in ("1", "true", "yes", "on")


def _secret_key() -> str:
    """LIIA_WEB_SECRET_KEY (`liia install` writes one), else a key kept in the web's own folder."""
    if key := os.environ.get("LIIA_WEB_SECRET_KEY"):
        return key
    path = WEB_DATA / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(50))
    return path.read_text().strip()


def _database() -> dict:
    """PostgreSQL when the Dagster instance uses it (the same server and database: Django's tables
    are named apart from Dagster's), else SQLite in the web's own folder."""
    url = os.environ.get("LIIA_DAGSTER_PG_URL", "")
    if not url:
        WEB_DATA.mkdir(parents=True, exist_ok=True)
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": WEB_DATA / "web.sqlite3"}
    parts = urlparse(url)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": parts.path.lstrip("/"),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": parts.port or "",
    }


BEHIND_TLS = _flag("LIIA_WEB_BEHIND_TLS", "1")
SECRET_KEY = _secret_key()
DEBUG = False
ALLOWED_HOSTS = os.environ.get("LIIA_WEB_HOSTS", "localhost,127.0.0.1").split(",")
CSRF_TRUSTED_ORIGINS = [
    f"{'https' if BEHIND_TLS else 'http'}://{host}" for host in ALLOWED_HOSTS if host
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "csp",
    "pipelines.web",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
    "pipelines.web.access.RulesMiddleware",
]
ROOT_URLCONF = "pipelines.web.urls"
WSGI_APPLICATION = "pipelines.web.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "pipelines.web.access.role_context",
            ]
        },
    }
]
DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "sign-in"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

# Lock-out after repeated failures (django-axes): five wrong passwords for one email lock it
# for an hour; a successful sign-in clears the count.
AXES_FAILURE_LIMIT = int(os.environ.get("LIIA_WEB_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = 1
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "web/locked_out.html"
AXES_VERBOSE = False
SILENCED_SYSTEM_CHECKS = [
    # Failures are counted per email, so guessing one account's password is stopped wherever the
    # guesses come from; counting per address too would lock out a whole council signing in from
    # behind one proxy.
    "axes.W006",
    # The HSTS preload list is a commitment for the whole domain: the domain's owner decides it.
    "security.W021",
]

# Sessions end after inactivity (every request pushes the end back) and when the browser closes.
SESSION_COOKIE_AGE = int(os.environ.get("LIIA_WEB_IDLE_MINUTES", "30")) * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = BEHIND_TLS
CSRF_COOKIE_HTTPONLY = True
OTP_TOTP_ISSUER = "LIIA benchmarking"

# Behind a TLS reverse proxy (README): it says the request came over HTTPS.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_TLS else None
SECURE_SSL_REDIRECT = BEHIND_TLS
# The proxies whose X-Forwarded-For names the client in the audit log (gunicorn trusts the same).
TRUSTED_PROXIES = frozenset(
    a.strip() for a in os.environ.get("LIIA_WEB_PROXY", "127.0.0.1").split(",") if a.strip()
)
SECURE_HSTS_SECONDS = 31_536_000 if BEHIND_TLS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = BEHIND_TLS
SECURE_HSTS_PRELOAD = False
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# Password reset by email over the pipeline's own SMTP settings (the alerts' LIIA_SMTP_*).
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = os.environ.get("LIIA_SMTP_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("LIIA_SMTP_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("LIIA_SMTP_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("LIIA_SMTP_PASSWORD", "")
EMAIL_USE_TLS = _flag("LIIA_SMTP_STARTTLS", "0")
EMAIL_TIMEOUT = 30
DEFAULT_FROM_EMAIL = os.environ.get("LIIA_SMTP_FROM", "liia-benchmarking@localhost")
PASSWORD_RESET_TIMEOUT = 3600

# Uploads: anything over the limit is refused while it arrives (pipelines/web/uploads.py).
UPLOAD_LIMIT_BYTES = int(float(os.environ.get("LIIA_WEB_UPLOAD_MB", "10")) * 1024 * 1024)
FILE_UPLOAD_HANDLERS = ["pipelines.web.uploads.LimitedUploadHandler"]
FILE_UPLOAD_MAX_MEMORY_SIZE = 0  # always to a temporary file, never held in memory
FILE_UPLOAD_TEMP_DIR = None
DATA_UPLOAD_MAX_NUMBER_FIELDS = 200

STATIC_URL = "/static/"
STATIC_ROOT = None  # nothing is collected: WhiteNoise serves from the finders
STATICFILES_DIRS = [
    ("govuk", PROJECT_ROOT / "node_modules" / "govuk-frontend" / "dist" / "govuk"),
]
WHITENOISE_USE_FINDERS = True  # served from where npm and the package put them: no collect step
WHITENOISE_AUTOREFRESH = False

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_TZ = True
USE_I18N = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LIIA_WEB_LOG_LEVEL", "WARNING")},
}
AXES_USERNAME_CALLABLE = "pipelines.web.accounts.axes_username"
