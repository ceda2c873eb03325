"""The notices a consumer reads before consenting at filing (D31). Versioned: the version and the
SHA-256 of the exact text shown go into each consent receipt, so a changed text needs a new version."""

from django.utils import translation
from django.utils.translation import gettext_lazy as _

NOTICE_VERSION = "2026-11-23"

COMPLAINT_PROCESSING_NOTICE = _(
    "The platform processes the personal data in your complaint (your identity, contact details, "
    "order and what happened) in order to handle it: to send it to the merchant, to keep its legal "
    "deadlines and to keep its records for five years after it is closed. You may withdraw this "
    "consent at any time; the complaint is then closed."
)

SHARING_NOTICE = _(
    "Your complaint, your messages and your documents are shared with the merchant and, if you refer "
    "the dispute to mediation, with the consumer mediator the merchant designated. Nobody else sees them."
)


def notice_text(notice, language: str) -> str:
    """The notice exactly as shown in `language`."""
    with translation.override(language):
        return str(notice)
