"""Build cases the way the platform does: through the services, at chosen moments."""

from datetime import datetime

import time_machine

from complaints.models import Category
from complaints.services import complaint_answer, complaint_file
from mediation.services import case_open, case_refer, proposal_issue
from odr.notifications.models import OutboxMessage


def file_complaint(consumer, merchant, **overrides):
    fields = {
        "category": Category.NON_DELIVERY,
        "description": "Commande payée le 2 mars, jamais livrée.",
        "desired_outcome": "Remboursement de 89,90 €.",
        "order_reference": "CMD-4242",
        "amount_cents": 8990,
    }
    fields.update(overrides)
    return complaint_file(consumer=consumer, merchant=merchant, **fields)


def rejected_complaint(consumer, merchant, agent):
    complaint = file_complaint(consumer, merchant)
    return complaint_answer(complaint=complaint, by=agent, decision="reject", text="Nous refusons.")


def referred_case(consumer, merchant, agent, **declarations):
    complaint = rejected_complaint(consumer, merchant, agent)
    fields = {"other_proceedings": False, "acting_as_consumer": True}
    fields.update(declarations)
    return case_refer(complaint=complaint, by=consumer, **fields)


def open_case(consumer, merchant, agent, mediator):
    return case_open(case=referred_case(consumer, merchant, agent), by=mediator)


def proposal_for(consumer, merchant, agent, mediator, **kwargs):
    case = open_case(consumer, merchant, agent, mediator)
    return proposal_issue(case=case, by=mediator, solution="Remboursement intégral sous 14 jours.", **kwargs)


def travel(moment: datetime):
    """Move the clock to `moment` (aware) and keep it still."""
    return time_machine.travel(moment, tick=False)


def outbox(template: str, **filters):
    return OutboxMessage.objects.filter(template=template, **filters)


def pdf_bytes(title: str = "Facture") -> bytes:
    """A small, real PDF (one blank page) whose bytes differ with `title`: evidence for upload tests."""
    import io

    import pikepdf

    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.docinfo["/Title"] = title
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def pdf_upload(name: str = "facture.pdf", title: str = "Facture"):
    """`pdf_bytes(title)` as the browser would send it: an uploaded file called `name`."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, pdf_bytes(title), content_type="application/pdf")


def query_plans(statements: list[str]) -> list[tuple[str, str]]:
    """PostgreSQL's plan of each SQL statement, with sequential scans disabled: a plan that still shows
    one has no index to use (the scale tests of the metrics and the periodic pick-ups)."""
    from django.db import connection

    plans = []
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        try:
            for sql in statements:
                cursor.execute("EXPLAIN " + sql)
                plans.append((sql, "\n".join(row[0] for row in cursor.fetchall())))
        finally:
            cursor.execute("SET enable_seqscan = on")
    return plans
