"""A case's audit trail as PDF/A-3b (D34, D37): every event, its hashes, and the chain's verification.

The PDF shows the trail to people and embeds it, as stored, in `audit-trail.json`: a list of events with
every field `chain.event_hash` covers, plus the hash, so that the file alone can be re-verified by a
script. The verification box gives the result of `audit_verify` at export time and the chain's head
hash: an anchor outside the database, which also exposes a deleted *last* event.

The export itself is recorded in the same chain (`document.generated`, with this file's SHA-256) by
`odr.documents.services.document_render`, after the events the PDF shows.

This module is part of `odr.audit` and never imports a stage: the issuer is the platform, times are
shown in the platform's default time zone.
"""

import json
import re

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from odr import clock
from odr.documents.models import GeneratedDocument
from odr.documents.rendering import PdfAttachment
from odr.documents.services import DocumentSpec

from .chain import HASHED_FIELDS, canonical_time
from .models import GENESIS_HASH, AuditEvent
from .selectors import audit_events_for
from .services import audit_verify

ATTACHMENT_NAME = "audit-trail.json"
TEMPLATE = "pdf/audit_trail.html"


def audit_trail_json(events: list[AuditEvent]) -> list[dict]:
    """The events as stored: the hashed fields (time in canonical UTC ISO 8601) and the hash."""
    rows = []
    for event in events:
        row = {name: getattr(event, name) for name in HASHED_FIELDS}
        row["occurred_at"] = canonical_time(event.occurred_at)
        row["hash"] = event.hash
        rows.append(row)
    return rows


# Hashes, UUIDs and other long identifiers: shown in monospace, where they wrap anywhere.
_TOKEN = re.compile(r"[0-9a-fA-F-]{32,}")


def _payload_text(value) -> str:
    """A payload value as it reads best: strings bare, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), sort_keys=True)


def _payload_pairs(payload: dict) -> list[tuple[str, str, bool]]:
    """(key, value as text, whether it is an identifier to show in monospace), keys sorted."""
    pairs = []
    for key, value in sorted(payload.items()):
        text = _payload_text(value)
        pairs.append((key, text, bool(_TOKEN.fullmatch(text))))
    return pairs


def _event_row(event: AuditEvent, broken_pk: int | None) -> dict:
    return {
        "seq": event.seq,
        "kind": event.kind,
        "occurred_at": event.occurred_at,
        "hashed_time": canonical_time(event.occurred_at),
        "actor": event.actor.display_name if event.actor_id else None,
        "actor_id": event.actor_id,
        "actor_role": event.actor_role,
        "payload": _payload_pairs(event.payload),
        "prev_hash": event.prev_hash,
        "hash": event.hash,
        "broken": event.pk == broken_pk,
    }


def audit_trail_spec(document: GeneratedDocument) -> DocumentSpec:
    """DocumentKind.AUDIT_TRAIL: `document.subject_reference` is the case reference (C-… or M-…)."""
    reference = document.subject_reference
    events = list(audit_events_for(reference))
    if not events:
        # Every case's trail starts when it is filed or referred: no events, no such case. Refusing
        # keeps the export's own "document.generated" event from starting a chain of its own.
        raise AuditEvent.DoesNotExist(f"No audit events for {reference}")
    verification = audit_verify(stream=reference)
    broken = verification.broken_event
    context = {
        "issuer": settings.ODR_CONTROLLER_NAME,
        "reference": reference,
        "events": [_event_row(event, broken.pk if broken else None) for event in events],
        "verification": verification,
        "broken": broken,
        "head_hash": events[-1].hash,
        "genesis_hash": GENESIS_HASH,
        "hashed_fields": HASHED_FIELDS,
        "exported_at": clock.now(),
        "requested_by": document.requested_by.display_name if document.requested_by_id else "",
        "time_zone": settings.ODR_DEFAULT_TIME_ZONE,
        "attachment_name": ATTACHMENT_NAME,
    }
    content = json.dumps(audit_trail_json(events), ensure_ascii=False, indent=2).encode("utf-8")
    with translation.override(document.language):
        description = _("The audit trail's events as stored, with their hashes (JSON)")
    return DocumentSpec(
        template=TEMPLATE,
        context=context,
        filename=f"audit-trail-{reference}.pdf",
        time_zone=settings.ODR_DEFAULT_TIME_ZONE,
        attachments=[
            PdfAttachment(
                name=ATTACHMENT_NAME,
                content=content,
                description=description,
            )
        ],
        audit_stream=reference,
    )
