"""D20 (each side's submissions, the mediator's private channels) and D30 (who sees a case)."""

import pytest

from complaints.models import Complaint
from mediation.models import Audience, MediationCase
from mediation.selectors import case_get_for, case_messages_for, cases_visible_to, complaints_visible_to
from mediation.services import case_post_message
from odr.accounts.models import Role
from odr.errors import Forbidden
from tests.factories import MembershipFactory
from tests.helpers import file_complaint, open_case, outbox


@pytest.fixture
def case(consumer, merchant, agent, mediator):
    return open_case(consumer, merchant, agent, mediator)


def bodies(user, case):
    return [m.body for m in case_messages_for(user, case)]


def test_d20_each_party_sees_the_others_submissions(case, consumer, agent, mediator):
    case_post_message(case=case, by=consumer, body="Voici ma facture.")
    case_post_message(case=case, by=agent, body="Notre bon de livraison.")
    for reader in (consumer, agent, mediator):
        assert bodies(reader, case) == ["Voici ma facture.", "Notre bon de livraison."]


def test_d20_private_message_to_consumer_never_reaches_the_merchant(case, consumer, agent, owner, mediator):
    case_post_message(
        case=case, by=mediator, body="Seriez-vous prêt à accepter 60 € ?", audience=Audience.CONSUMER_PRIVATE
    )
    assert bodies(consumer, case) == ["Seriez-vous prêt à accepter 60 € ?"]
    assert bodies(agent, case) == []
    assert bodies(owner, case) == []
    assert bodies(mediator, case) == ["Seriez-vous prêt à accepter 60 € ?"]
    # Nor by e-mail: only the consumer is told.
    notices = outbox("case_message")
    assert list(notices.values_list("to_user", flat=True)) == [consumer.pk]
    assert all(n.context["private"] for n in notices)


def test_d20_party_writes_privately_to_the_mediator_only(case, consumer, agent, mediator):
    case_post_message(
        case=case, by=agent, body="Entre nous : 80 € maximum.", audience=Audience.MERCHANT_PRIVATE
    )
    assert bodies(consumer, case) == []
    assert bodies(mediator, case) == ["Entre nous : 80 € maximum."]
    assert not outbox("case_message", to_user=consumer).exists()
    assert outbox("case_message", to_user=mediator).exists()


def test_d20_party_cannot_write_on_the_other_partys_private_channel(case, consumer):
    with pytest.raises(Forbidden):
        case_post_message(case=case, by=consumer, body="…", audience=Audience.MERCHANT_PRIVATE)
    assert not case.messages.exists()


def test_d20_audit_trail_records_the_channel_not_the_words(case, mediator):
    message = case_post_message(
        case=case, by=mediator, body="Confidentiel", audience=Audience.CONSUMER_PRIVATE
    )
    event = case.__class__.objects.get(pk=case.pk)
    from odr.audit.models import AuditEvent

    recorded = AuditEvent.objects.get(stream=event.reference, kind="case.message")
    assert recorded.payload == {"message_id": message.pk, "audience": "consumer"}


def test_d30_case_visible_to_parties_mediator_and_body_compliance_only(
    case,
    consumer,
    agent,
    owner,
    mediator,
    compliance_officer,
    other_consumer,
    other_agent,
    second_mediator,
    foreign_mediator,
    other_body,
):
    foreign_compliance = MembershipFactory(
        role=Role.COMPLIANCE_OFFICER, mediation_body=other_body, merchant=None
    ).user
    allowed = [consumer, agent, owner, mediator, compliance_officer]
    refused = [other_consumer, other_agent, second_mediator, foreign_mediator, foreign_compliance]
    for user in allowed:
        assert user.has_perm("mediation.view_mediationcase", case), user
        assert case_get_for(user, reference=case.reference) == case
    for user in refused:
        assert not user.has_perm("mediation.view_mediationcase", case), user
        with pytest.raises(MediationCase.DoesNotExist):
            case_get_for(user, reference=case.reference)
        assert not cases_visible_to(user).exists()
        assert bodies(user, case) == []


def test_d30_missing_and_forbidden_cases_look_the_same(case, other_consumer):
    for reference in (case.reference, "M-2026-999999"):
        with pytest.raises(MediationCase.DoesNotExist):
            case_get_for(other_consumer, reference=reference)


def test_d30_unassigned_case_is_visible_to_the_bodys_mediators(
    consumer, merchant, agent, mediator, second_mediator
):
    from tests.helpers import referred_case

    case = referred_case(consumer, merchant, agent)
    assert case.mediator is None
    assert set(cases_visible_to(mediator)) == set(cases_visible_to(second_mediator)) == {case}


def test_d30_complaint_visible_to_its_parties_only(
    consumer, merchant, agent, other_consumer, other_agent, mediator
):
    complaint = file_complaint(consumer, merchant)
    assert consumer.has_perm("complaints.view_complaint", complaint)
    assert agent.has_perm("complaints.view_complaint", complaint)
    for stranger in (other_consumer, other_agent, mediator):
        assert not stranger.has_perm("complaints.view_complaint", complaint)
        assert not complaints_visible_to(stranger).filter(pk=complaint.pk).exists()
    assert list(complaints_visible_to(consumer)) == [complaint]
    assert Complaint.objects.count() == 1


def test_d30_referred_complaint_is_visible_to_the_cases_mediator(case, mediator, foreign_mediator):
    assert complaints_visible_to(mediator).filter(pk=case.complaint_id).exists()
    assert not complaints_visible_to(foreign_mediator).exists()


def test_anonymous_sees_nothing(case):
    from django.contrib.auth.models import AnonymousUser

    assert not cases_visible_to(AnonymousUser()).exists()
    assert not complaints_visible_to(AnonymousUser()).exists()
