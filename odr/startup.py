"""Checks a serving process (web, worker) runs before it accepts any work."""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def ensure_safe_to_serve() -> None:
    """Production refuses to start without a real secret key (sessions, CSRF and signed links
    depend on it). Development opts out explicitly with DEBUG=1, which `make demo` sets."""
    if settings.DEBUG:
        return
    if settings.SECRET_KEY_IS_DEVELOPMENT_DEFAULT:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set: refusing to serve. Set SECRET_KEY in the environment "
            "(or DEBUG=1 for local development only)."
        )
    if settings.EMAIL_BACKEND == settings.DEV_MAILBOX_BACKEND:
        raise ImproperlyConfigured(
            "E-mail would go to the dev mailbox: refusing to serve. Set EMAIL_URL (e.g. smtp+tls://…)."
        )
