"""The dev mailbox: what the platform "sent" in the embedded default. Routed only when DEBUG is on."""

from email import message_from_bytes, policy

from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render

from odr.paging import keyset_page

from .models import DevMailboxEmail

PAGE_SIZE = 100


def _attachments(email: DevMailboxEmail) -> list:
    parsed = message_from_bytes(bytes(email.raw), policy=policy.default)
    return list(parsed.iter_attachments())


def mailbox(request):
    emails = keyset_page(
        DevMailboxEmail.objects.only("pk", "to", "subject", "sent_at"),
        order=("-sent_at", "-pk"),
        request=request,
        size=PAGE_SIZE,
    )
    return render(request, "dev/mailbox.html", {"emails": emails})


def mailbox_email(request, pk: int):
    email = get_object_or_404(DevMailboxEmail, pk=pk)
    attachments = [
        (index, part.get_filename(), part.get_content_type())
        for index, part in enumerate(_attachments(email))
    ]
    return render(request, "dev/mailbox_email.html", {"email": email, "attachments": attachments})


def mailbox_html(request, pk: int):
    """The HTML body on its own, for the sandboxed frame of the e-mail page."""
    email = get_object_or_404(DevMailboxEmail, pk=pk)
    response = HttpResponse(email.html or "", content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    response["X-Frame-Options"] = "SAMEORIGIN"
    return response


def mailbox_attachment(request, pk: int, index: int):
    attachments = _attachments(get_object_or_404(DevMailboxEmail, pk=pk))
    if index >= len(attachments):
        raise Http404
    part = attachments[index]
    response = HttpResponse(part.get_content(), content_type=part.get_content_type())
    response["Content-Disposition"] = f'attachment; filename="{part.get_filename() or "attachment"}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
