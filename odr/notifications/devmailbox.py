"""An e-mail backend for the embedded default: e-mails are kept in the database, not sent, and shown
at /dev/mailbox/ when DEBUG is on, so that someone trying the demo sees them arrive."""

from django.core.mail.backends.base import BaseEmailBackend

from .models import DevMailboxEmail


class DevMailboxBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        for message in email_messages:
            html = next(
                (
                    content
                    for content, mimetype in getattr(message, "alternatives", [])
                    if mimetype == "text/html"
                ),
                "",
            )
            DevMailboxEmail.objects.create(
                to=", ".join(message.to),
                subject=message.subject,
                text=message.body,
                html=html,
                raw=message.message().as_bytes(),
            )
        return len(email_messages)
