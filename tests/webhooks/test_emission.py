"""Emission: one outbox row per active endpoint subscribed to the event, in the use case's transaction."""

import pytest
from django.db import transaction

from complaints.services import complaint_post_message, complaint_remind_merchant, complaint_resolve
from mediation.services import (
    case_close_without_agreement,
    case_merchant_decline,
    case_reject,
    case_withdraw,
    proposal_respond,
)
from odr.notifications.models import Channel, OutboxMessage
from odr.webhooks.services import webhook_endpoint_create, webhook_endpoint_update, webhooks_emit
from tests.factories import MembershipFactory
from tests.helpers import file_complaint, open_case, proposal_for, referred_case


def webhook_rows(**filters):
    return OutboxMessage.objects.filter(channel=Channel.WEBHOOK, **filters)


def events_sent():
    return sorted(webhook_rows().values_list("template", flat=True))


def test_rows_only_for_active_subscribed_endpoints_of_the_merchant(
    merchant, owner, other_merchant, consumer, receiver
):
    subscribed = webhook_endpoint_create(
        merchant=merchant, by=owner, url=receiver.url, events=["complaint.filed"]
    )
    webhook_endpoint_create(
        merchant=merchant, by=owner, url="https://a.example.test/", events=["case.closed"]
    )
    disabled = webhook_endpoint_create(
        merchant=merchant, by=owner, url="https://b.example.test/", events=["complaint.filed"]
    )
    webhook_endpoint_update(endpoint=disabled, by=owner, active=False)
    other_owner = MembershipFactory(role="merchant_owner", merchant=other_merchant).user
    webhook_endpoint_create(
        merchant=other_merchant, by=other_owner, url="https://c.example.test/", events=["complaint.filed"]
    )

    complaint = file_complaint(consumer, merchant)

    row = webhook_rows().get()
    assert row.template == "complaint.filed"
    assert row.context["endpoint_id"] == subscribed.pk
    assert row.idempotency_key == f"webhook:complaint.filed:{complaint.reference}:{subscribed.pk}"
    assert row.case_reference == complaint.reference
    payload = row.context["payload"]
    assert payload["id"] == row.idempotency_key and payload["type"] == "complaint.filed"
    data = payload["data"]
    assert data["reference"] == complaint.reference and data["state"] == "filed"
    assert data["response_due_at"].endswith("Z")
    # References, states and dates only: nothing about the consumer.
    assert consumer.email not in str(payload) and complaint.description not in str(payload)


def test_a_rolled_back_use_case_leaves_no_webhook_row(endpoint, consumer, merchant):
    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        file_complaint(consumer, merchant)
        assert webhook_rows().exists()
        raise Boom
    assert not webhook_rows().exists()


def test_emitting_twice_with_one_key_writes_one_row(endpoint, merchant):
    with transaction.atomic():
        webhooks_emit(merchant=merchant, event="complaint.filed", data={"reference": "C-1"}, key="k")
        webhooks_emit(merchant=merchant, event="complaint.filed", data={"reference": "C-1"}, key="k")
    assert webhook_rows().count() == 1


def test_unknown_event_is_a_programming_error(endpoint, merchant):
    with pytest.raises(ValueError), transaction.atomic():
        webhooks_emit(merchant=merchant, event="complaint.eaten", data={}, key="k")


@pytest.mark.django_db(transaction=True)
def test_emitting_outside_a_transaction_is_refused(merchant):
    with pytest.raises(RuntimeError):
        webhooks_emit(merchant=merchant, event="complaint.filed", data={}, key="k")


def test_complaint_events(endpoint, consumer, merchant, agent):
    complaint = file_complaint(consumer, merchant)
    complaint_remind_merchant(complaint=complaint, days_left=7)
    complaint_post_message(complaint=complaint, by=consumer, body="Des nouvelles ?")
    complaint_post_message(complaint=complaint, by=agent, body="Nous regardons.")  # not from the consumer
    assert events_sent() == ["complaint.deadline_soon", "complaint.filed", "complaint.message"]
    soon = webhook_rows(template="complaint.deadline_soon").get()
    assert soon.context["payload"]["data"]["days_left"] == 7


def test_answer_and_closing_of_a_complaint(endpoint, consumer, merchant, agent):
    from complaints.services import complaint_answer

    complaint = file_complaint(consumer, merchant)
    complaint_answer(complaint=complaint, by=agent, decision="accept", text="Nous remboursons.")
    complaint_resolve(complaint=complaint, by=consumer)
    answered = webhook_rows(template="complaint.answered").get().context["payload"]["data"]
    assert answered["decision"] == "accept" and answered["state"] == "answered"
    closed = webhook_rows(template="complaint.closed").get().context["payload"]["data"]
    assert closed["state"] == "resolved" and closed["closed_at"]


def test_referral_opening_and_proposal(endpoint, consumer, merchant, agent, mediator):
    proposal = proposal_for(consumer, merchant, agent, mediator)
    case = proposal.case
    referred = webhook_rows(template="complaint.referred").get().context["payload"]["data"]
    assert referred == {
        "reference": case.complaint.reference,
        "state": "referred",
        "case_reference": case.reference,
        "referred_at": referred["referred_at"],
    }
    received = webhook_rows(template="mediation.received").get().context["payload"]["data"]
    assert received["reference"] == case.reference and received["state"] == "received"
    opened = webhook_rows(template="mediation.opened").get().context["payload"]["data"]
    assert opened["state"] == "open" and opened["saisine_at"] and opened["outcome_due_at"]
    issued = webhook_rows(template="proposal.issued").get().context["payload"]["data"]
    assert issued["proposal_id"] == proposal.pk and issued["acceptance_due_at"]


def _settled(consumer, merchant, agent, mediator):
    proposal = proposal_for(consumer, merchant, agent, mediator)
    proposal_respond(proposal=proposal, by=consumer, accept=True)
    proposal_respond(proposal=proposal, by=agent, accept=True)
    return proposal.case


def _refused(consumer, merchant, agent, mediator):
    proposal = proposal_for(consumer, merchant, agent, mediator)
    proposal_respond(proposal=proposal, by=consumer, accept=False)
    return proposal.case


def _closed_without_agreement(consumer, merchant, agent, mediator):
    case = open_case(consumer, merchant, agent, mediator)
    return case_close_without_agreement(case=case, by=mediator, grounds="Aucune solution trouvée.")


def _withdrawn(consumer, merchant, agent, mediator):
    return case_withdraw(case=open_case(consumer, merchant, agent, mediator), by=consumer)


def _declined(consumer, merchant, agent, mediator):
    return case_merchant_decline(case=referred_case(consumer, merchant, agent), by=agent)


def _rejected(consumer, merchant, agent, mediator):
    case = referred_case(consumer, merchant, agent)
    return case_reject(case=case, by=mediator, reason="unfounded_or_abusive", reasoning="Sans fondement.")


@pytest.mark.parametrize(
    ("close", "outcome"),
    [
        (_settled, "settled"),
        (_refused, "no_agreement"),
        (_closed_without_agreement, "no_agreement"),
        (_withdrawn, "discontinued"),
        (_declined, "merchant_declined"),
        (_rejected, "rejected"),
    ],
)
def test_every_closing_path_sends_case_closed(endpoint, consumer, merchant, agent, mediator, close, outcome):
    case = close(consumer, merchant, agent, mediator)
    row = webhook_rows(template="case.closed").get()
    data = row.context["payload"]["data"]
    assert data["reference"] == case.reference and data["outcome"] == outcome and data["closed_at"]
    assert (data.get("rejection_reason") == "unfounded_or_abusive") == (outcome == "rejected")
