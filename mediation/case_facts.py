"""What the case pages read about a case besides its messages and timeline, in few queries.

The four short records of a case — document requests (D13), deadline extensions (D17), conflict
disclosures (D22), representatives (D21) — are each a handful of rows written by a person's action.
Read one by one they cost four queries on every case page; `case_records` reads them in one
(UNION ALL of the four tables, cast to common columns) and gives back model instances, so templates
use them as before. `case_proposals` reads the proposals with their two answers in one query.
"""

from django.db import models
from django.db.models import F, Value
from django.db.models.functions import Cast

from complaints.models import PartySide
from odr.accounts.models import User

from .models import (
    ConflictDisclosure,
    DeadlineExtension,
    DocumentRequest,
    Proposal,
    ProposalResponse,
    Representative,
)

# The common columns, in order: each table puts its own fields in them, or a typed NULL / "".
COLUMNS = (
    "kind",
    "pk",
    "at",
    "at2",
    "at3",
    "text",
    "email",
    "capacity",
    "side",
    "user_id",
    "first",
    "last",
    "mail",
)


def _null_time():
    return Cast(Value(None), models.DateTimeField())


def _blank():
    return Value("", output_field=models.CharField())


def _branch(
    model, kind: str, *, at, user: str, at2=None, at3=None, text, email=None, capacity=None, side=None
):
    return model.objects.values_list(
        Value(kind, output_field=models.CharField()),
        "pk",
        F(at),
        F(at2) if at2 else _null_time(),
        F(at3) if at3 else _null_time(),
        Cast(F(text), models.TextField()),
        Cast(F(email), models.TextField()) if email else _blank(),
        Cast(F(capacity), models.TextField()) if capacity else _blank(),
        Cast(F(side), models.TextField()) if side else _blank(),
        f"{user}_id",
        f"{user}__first_name",
        f"{user}__last_name",
        f"{user}__email",
    )


def case_records(case) -> dict[str, list]:
    """{"document_requests", "extensions", "disclosures", "representatives"}: each oldest first, as
    model instances with their user (who asked, extended, disclosed or added) attached. One query."""
    branches = [
        _branch(
            DocumentRequest,
            "document_requests",
            at="requested_at",
            at2="fulfilled_at",
            text="text",
            user="requested_by",
        ),
        _branch(
            DeadlineExtension,
            "extensions",
            at="extended_at",
            at2="previous_due_at",
            at3="new_due_at",
            text="reason",
            user="extended_by",
        ),
        _branch(ConflictDisclosure, "disclosures", at="disclosed_at", text="text", user="mediator"),
        _branch(
            Representative,
            "representatives",
            at="added_at",
            text="name",
            email="email",
            capacity="capacity",
            side="side",
            user="added_by",
        ),
    ]
    branches = [branch.filter(case=case).order_by() for branch in branches]  # no Meta ordering in a UNION
    rows = branches[0].union(*branches[1:], all=True)
    records: dict[str, list] = {
        name: [] for name in ("document_requests", "extensions", "disclosures", "representatives")
    }
    for row in sorted(rows, key=lambda row: (row[2], row[1])):  # the models' own order: date, then pk
        values = dict(zip(COLUMNS, row, strict=True))
        user = User(
            pk=values["user_id"], first_name=values["first"], last_name=values["last"], email=values["mail"]
        )
        records[values["kind"]].append(_instance(case, values, user))
    return records


def _instance(case, values: dict, user: User):
    kind, pk, at = values["kind"], values["pk"], values["at"]
    if kind == "document_requests":
        return DocumentRequest(
            pk=pk,
            case=case,
            requested_by=user,
            text=values["text"],
            requested_at=at,
            fulfilled_at=values["at2"],
        )
    if kind == "extensions":
        return DeadlineExtension(
            pk=pk,
            case=case,
            extended_by=user,
            reason=values["text"],
            previous_due_at=values["at2"],
            new_due_at=values["at3"],
            extended_at=at,
        )
    if kind == "disclosures":
        return ConflictDisclosure(pk=pk, case=case, mediator=user, text=values["text"], disclosed_at=at)
    return Representative(
        pk=pk,
        case=case,
        added_by=user,
        name=values["text"],
        email=values["email"],
        capacity=values["capacity"],
        side=values["side"],
        added_at=at,
    )


def case_proposals(case) -> list[Proposal]:
    """The case's proposals, oldest first, each with `answers` (the consumer's, then the merchant's).

    One query, from the answers: `proposal_issue` writes a proposal and its two answers (pending) in
    one transaction, so every proposal has its answers.
    """
    proposals: dict[int, Proposal] = {}
    responses = (
        ProposalResponse.objects.filter(proposal__case=case)
        .select_related("proposal__issued_by", "responded_by")
        .order_by("proposal__issued_at", "proposal_id", "pk")
    )
    for response in responses:
        proposal = proposals.setdefault(response.proposal_id, response.proposal)
        if not hasattr(proposal, "answers"):
            proposal.answers = []
        response.proposal = proposal
        proposal.answers.append(response)
    for proposal in proposals.values():
        proposal.case = case
        proposal.answers.sort(key=lambda answer: answer.side != PartySide.CONSUMER)
    return list(proposals.values())
