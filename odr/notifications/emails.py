"""Turning an outbox row into an e-mail: subject, plain text and HTML from templates/email/, in the
recipient's language, with dates shown in the mediation body's time zone.

Templates: `email/<template>.subject.txt`, `email/<template>.txt`, `email/<template>.html`. Packages
that attach files to a kind of e-mail (a consent receipt's PDF, say) register a builder here, so that
this package never imports them.
"""

import contextlib
from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import timezone, translation

from .models import OutboxMessage

Attachment = tuple[str, bytes, str]  # filename, content, MIME type
_attachment_builders: dict[str, Callable[[OutboxMessage], list[Attachment]]] = {}


def register_attachments(template: str, builder: Callable[[OutboxMessage], list[Attachment]]) -> None:
    """Call `builder(message)` for every e-mail of `template` and attach what it returns."""
    _attachment_builders[template] = builder


def email_context(message: OutboxMessage) -> dict:
    """The row's context, with ISO datetimes (keys ending in `_at`) turned back into datetimes."""
    context = {}
    for key, value in message.context.items():
        if key.endswith("_at") and isinstance(value, str):
            with contextlib.suppress(ValueError):  # a plain string that merely ends in _at
                value = datetime.fromisoformat(value)
        context[key] = value
    context.update(
        {
            "site_url": settings.ODR_PUBLIC_URL.rstrip("/"),
            "recipient": message.to_user,
            "case_reference": message.case_reference,
        }
    )
    return context


def build_email(message: OutboxMessage) -> EmailMultiAlternatives:
    context = email_context(message)
    time_zone = message.context.get("time_zone") or settings.ODR_DEFAULT_TIME_ZONE
    with translation.override(message.language), timezone.override(time_zone):
        subject = " ".join(render_to_string(f"email/{message.template}.subject.txt", context).split())
        text = render_to_string(f"email/{message.template}.txt", context)
        html = render_to_string(f"email/{message.template}.html", context)
    email = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[message.to_address],
        headers={"X-ODR-Message": message.idempotency_key, "X-ODR-Case": message.case_reference},
    )
    email.attach_alternative(html, "text/html")
    builder = _attachment_builders.get(message.template)
    if builder is not None:
        for filename, content, mimetype in builder(message):
            email.attach(filename, content, mimetype)
    return email
