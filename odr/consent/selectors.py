"""Reads of consents that pages share."""

from .models import ConsentReceipt, ConsentRecord


def consents_with_receipts(*, case_reference: str, person) -> list[ConsentRecord]:
    """`person`'s consents about a case, oldest first, each with its receipts (`receipt_list`), in one
    query: every consent is written with its *given* receipt in the same transaction
    (services.consent_give), so reading the receipts with their consent finds every consent."""
    records: dict[int, ConsentRecord] = {}
    receipts = (
        ConsentReceipt.objects.filter(record__case_reference=case_reference, record__person=person)
        .select_related("record")
        .order_by("record__given_at", "record_id", "issued_at", "pk")
    )
    for receipt in receipts:
        record = records.setdefault(receipt.record_id, receipt.record)
        if not hasattr(record, "receipt_list"):
            record.receipt_list = []
        receipt.record = record  # one instance per consent, shared by its receipts
        record.receipt_list.append(receipt)
    return list(records.values())
