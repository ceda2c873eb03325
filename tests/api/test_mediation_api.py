"""The mediation endpoints: a case as the merchant (a party) sees it, and its actions (D19–D26)."""

import pytest
from django.urls import reverse

from mediation.models import Audience, CaseMessage, CaseState
from mediation.services import case_post_message
from tests.helpers import open_case, proposal_for, referred_case

from .test_auth import assert_problem


def url(name, *args):
    return reverse(f"api:{name}", args=args)


@pytest.mark.django_db
def test_list_and_detail(api, consumer, merchant, agent):
    case = referred_case(consumer, merchant, agent)
    listed = api.get(url("case-list")).json()["results"]
    assert [c["reference"] for c in listed] == [case.reference]
    detail = api.get(url("case-detail", case.reference)).json()
    assert detail["state"] == CaseState.RECEIVED and detail["complaint_reference"] == case.complaint.reference
    assert detail["proposals"] == []


@pytest.mark.django_db
def test_d25_d26_respond_to_the_proposal(api, consumer, merchant, agent, mediator):
    proposal = proposal_for(consumer, merchant, agent, mediator)
    detail = api.get(url("case-detail", proposal.case.reference)).json()
    [shown] = detail["proposals"]
    assert shown["statements"] and {r["side"] for r in shown["responses"]} == {"consumer", "merchant"}
    response = api.post(
        url("case-proposal-respond", proposal.case.reference, proposal.pk),
        {"decision": "refuse"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["state"] == CaseState.NO_AGREEMENT  # D26: one refusal ends it
    again = api.post(
        url("case-proposal-respond", proposal.case.reference, proposal.pk),
        {"decision": "accept"},
        format="json",
    )
    assert_problem(again, 409, "transition_refused")


@pytest.mark.django_db
def test_d23_decline(api, consumer, merchant, agent):
    case = referred_case(consumer, merchant, agent)
    response = api.post(url("case-decline", case.reference), {"reason": "Hors champ"}, format="json")
    assert response.status_code == 200 and response.json()["state"] == CaseState.MERCHANT_DECLINED


@pytest.mark.django_db
def test_d19_withdraw(api, consumer, merchant, agent, mediator):
    case = open_case(consumer, merchant, agent, mediator)
    response = api.post(url("case-withdraw", case.reference), {}, format="json")
    assert response.status_code == 200 and response.json()["state"] == CaseState.DISCONTINUED
    assert response.json()["closed_by_side"] == "merchant"


@pytest.mark.django_db
def test_d20_messages_private_channels(api, consumer, merchant, agent, mediator):
    case = open_case(consumer, merchant, agent, mediator)
    case_post_message(case=case, by=mediator, body="Au consommateur seul", audience=Audience.CONSUMER_PRIVATE)
    case_post_message(case=case, by=consumer, body="À tous")
    posted = api.post(
        url("case-messages", case.reference), {"body": "Au médiateur", "to": "mediator"}, format="json"
    )
    assert posted.status_code == 201, posted.content
    assert posted.json()["audience"] == Audience.MERCHANT_PRIVATE
    bodies = [m["body"] for m in api.get(url("case-messages", case.reference)).json()["results"]]
    assert bodies == ["À tous", "Au médiateur"]  # never the consumer's private channel
    assert CaseMessage.objects.count() == 3
