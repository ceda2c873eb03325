"""Files the parties add to a complaint (D7: e.g. an earlier written complaint; receipts, photos).

The bytes are checked before anything is written (odr.documents.uploads); the count per complaint
is checked under the complaint's lock, so that two uploads at once cannot pass the limit together.
A stored file whose row is not committed is removed again.

The helpers (`evidence_check_room`, `evidence_stored`, `evidence_row`) are public: the mediation stage
adds files to the same list during a mediation (mediation/case_documents.py), under the same checks.
"""

from contextlib import contextmanager

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils.translation import gettext as _

from odr import clock
from odr.documents.uploads import ValidatedUpload, upload_store, upload_validate
from odr.errors import InvalidInput, TransitionRefused
from odr.locking import lock

from .models import Complaint, ComplaintDraft, Evidence, PartySide
from .services import _audit, _side_of

EVIDENCE_FOLDER = "evidence"


def evidence_check_room(count: int) -> None:
    """Refuse one more file when `count` files already use up the per-complaint limit."""
    limit = settings.ODR_UPLOAD_MAX_FILES_PER_CASE
    if count >= limit:
        raise InvalidInput(_("A complaint can hold at most %(limit)d files.") % {"limit": limit})


@contextmanager
def evidence_stored(file, validated: ValidatedUpload):
    """Store the file; remove it again if the transaction around it does not commit."""
    name = upload_store(file=file, validated=validated, folder=EVIDENCE_FOLDER)
    try:
        yield name
    except BaseException:
        default_storage.delete(name)
        raise


def evidence_row(*, name, validated, by, side, **owner) -> Evidence:
    """The Evidence row of a stored file, owned by a complaint or a draft (`**owner`)."""
    return Evidence.objects.create(
        **owner,
        uploaded_by=by,
        side=side,
        file=name,
        original_name=validated.original_name,
        content_type=validated.content_type,
        size=validated.size,
        sha256=validated.sha256,
        uploaded_at=clock.now(),
    )


def evidence_audit(complaint: Complaint, evidence: Evidence) -> None:
    """D34: every document is in the trail, with its fingerprint."""
    _audit(
        complaint,
        "complaint.evidence_added",
        actor=evidence.uploaded_by,
        role=evidence.side,
        evidence_id=evidence.pk,
        name=evidence.original_name,
        content_type=evidence.content_type,
        size=evidence.size,
        sha256=evidence.sha256,
    )


def evidence_add(*, complaint: Complaint, by, file) -> Evidence:
    """A party adds a file to an open complaint."""
    validated = upload_validate(file)
    with transaction.atomic():
        complaint = lock(complaint)
        side = _side_of(by, complaint)
        if not complaint.is_open:
            raise TransitionRefused(_("This complaint is closed: no more files can be added."))
        evidence_check_room(complaint.evidence.count())
        with evidence_stored(file, validated) as name:
            evidence = evidence_row(name=name, validated=validated, by=by, side=side, complaint=complaint)
            evidence_audit(complaint, evidence)
    return evidence


def draft_evidence_add(*, draft: ComplaintDraft, by, file) -> Evidence:
    """The consumer attaches a file while writing the complaint; filing moves it to the complaint."""
    validated = upload_validate(file)
    with transaction.atomic():
        draft = ComplaintDraft.objects.select_for_update().get(pk=draft.pk, consumer=by)
        evidence_check_room(draft.evidence.count())
        with evidence_stored(file, validated) as name:
            return evidence_row(name=name, validated=validated, by=by, side=PartySide.CONSUMER, draft=draft)


def draft_evidence_remove(*, draft: ComplaintDraft, by, evidence_id: int) -> None:
    with transaction.atomic():
        evidence = (
            Evidence.objects.select_for_update()
            .filter(pk=evidence_id, draft=draft, draft__consumer=by)
            .first()
        )
        if evidence is None:
            raise InvalidInput(_("This file is not part of your draft."))
        name = evidence.file.name
        evidence.delete()
        transaction.on_commit(lambda: default_storage.delete(name))
