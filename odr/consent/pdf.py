"""The human-readable receipt (D32): a PDF/A-3b that shows the receipt and carries the signed JWS as
an embedded file, `receipt.jws`, so that the PDF alone is enough to verify it on the public page.

PDF/A-3 because PDF/A-2 forbids (and WeasyPrint silently drops) a non-PDF embedded file. Rendering
makes no request at all (odr.documents.rendering: data: URLs and our static files only, DejaVu fonts).
"""

import io
import zlib
from typing import TYPE_CHECKING

from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from odr.errors import InvalidInput

from .models import ConsentReceipt

if TYPE_CHECKING:
    import pikepdf

ATTACHMENT_NAME = "receipt.jws"
MAX_JWS_BYTES = 64 * 1024


def receipt_pdf(receipt: ConsentReceipt) -> bytes:
    """The receipt as PDF/A-3b, through the platform's renderer (odr.documents.rendering)."""
    from odr.documents.rendering import PdfAttachment, render_pdf

    claims = receipt.payload
    language = claims.get("language") or settings.LANGUAGE_CODE
    with translation.override(language):
        description = str(_("Signed consent receipt (compact JWS)"))
    return render_pdf(
        template="pdf/consent_receipt.html",
        context={
            "receipt": receipt,
            "record": receipt.record,
            "claims": claims,
            "controller": claims["piiControllers"][0],
            "time_zone": settings.ODR_DEFAULT_TIME_ZONE,
            "verify_url": settings.ODR_PUBLIC_URL.rstrip("/") + reverse("consent:verify"),
        },
        language=language,
        time_zone=settings.ODR_DEFAULT_TIME_ZONE,
        attachments=[
            PdfAttachment(
                name=ATTACHMENT_NAME,
                content=receipt.jws.encode(),
                description=description,
                relationship="Source",
            )
        ],
    ).content


def receipt_attachments(message) -> list[tuple[str, bytes, str]]:
    """The PDF attached to a `consent_receipt` e-mail (registered in apps.py)."""
    receipt = ConsentReceipt.objects.select_related("record").get(receipt_id=message.context["receipt_id"])
    return [(f"consent-receipt-{receipt.receipt_id}.pdf", receipt_pdf(receipt), "application/pdf")]


def receipt_from_pdf(data: bytes) -> str:
    """The compact JWS embedded in a receipt PDF, or InvalidInput saying what is wrong."""
    import pikepdf  # on use, like WeasyPrint: it also logs a line on import, in every process

    not_a_pdf = _("This file is not a PDF. Upload the PDF receipt you received by e-mail.")
    if not data.startswith(b"%PDF-"):
        raise InvalidInput(not_a_pdf)
    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            attachment = pdf.attachments.get(ATTACHMENT_NAME)
            content = _bounded_content(attachment.get_file().obj) if attachment is not None else None
    except (pikepdf.PdfError, pikepdf.PasswordError, zlib.error):
        raise InvalidInput(not_a_pdf) from None
    if content is None:
        raise InvalidInput(
            _("This PDF does not contain a consent receipt. Upload the PDF receipt you received by e-mail.")
        )
    return content.decode("ascii", errors="replace")


def _bounded_content(stream: "pikepdf.Stream") -> bytes | None:
    """The embedded file's bytes, decompressed no further than a receipt can be long: an uploaded PDF
    is anyone's, and a 2 MB deflate stream can inflate to gigabytes. None if it cannot be ours."""
    raw = stream.read_raw_bytes()
    compression = stream.get("/Filter")
    if compression is None:
        content = raw
    elif compression == "/FlateDecode":
        content = zlib.decompressobj().decompress(raw, MAX_JWS_BYTES + 1)
    else:
        return None
    return content if len(content) <= MAX_JWS_BYTES else None
