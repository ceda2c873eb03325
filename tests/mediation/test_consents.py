"""D31: the consents each use case records, each with its receipt, e-mailed with its PDF."""

import pytest

from odr.consent.models import ConsentPurpose, ConsentReceipt, ConsentRecord
from odr.consent.receipts import receipt_verify
from odr.consent.services import notice_sha256
from tests.helpers import file_complaint, proposal_for, referred_case


@pytest.fixture(autouse=True)
def signing_keys(settings, tmp_path):
    settings.ODR_SIGNING_KEYS_DIR = tmp_path / "keys"


def test_d31_filing_records_processing_and_sharing_consents(consumer, merchant):
    complaint = file_complaint(consumer, merchant)
    records = ConsentRecord.objects.filter(person=consumer, case_reference=complaint.reference)
    assert set(records.values_list("purpose", flat=True)) == {
        ConsentPurpose.COMPLAINT_PROCESSING,
        ConsentPurpose.SHARE_WITH_MERCHANT_AND_MEDIATOR,
    }
    for record in records:
        assert record.notice_sha256 == notice_sha256(record.notice_text)
        receipt = ConsentReceipt.objects.get(record=record)
        verified = receipt_verify(receipt.jws)
        assert verified.valid, verified.reason
        assert verified.claims["consentReceiptID"] == str(receipt.receipt_id)
    emails = [m for m in complaint_outbox(complaint) if m.template == "consent_receipt"]
    assert len(emails) == 2 and {m.to_user for m in emails} == {consumer}


def test_d31_notice_is_recorded_in_the_language_shown(consumer, merchant):
    complaint = file_complaint(consumer, merchant, language="en")
    record = ConsentRecord.objects.get(
        case_reference=complaint.reference, purpose=ConsentPurpose.COMPLAINT_PROCESSING
    )
    assert record.notice_text.startswith("The platform processes the personal data in your complaint")


def test_d31_referral_records_entering_mediation(consumer, merchant, agent):
    case = referred_case(consumer, merchant, agent)
    record = ConsentRecord.objects.get(case_reference=case.reference, purpose=ConsentPurpose.ENTER_MEDIATION)
    assert record.person == consumer


def test_d31_each_answer_to_a_proposal_is_a_receipted_consent(consumer, merchant, agent, mediator):
    from mediation.services import proposal_respond

    proposal = proposal_for(consumer, merchant, agent, mediator)
    proposal_respond(proposal=proposal, by=consumer, accept=True, language="en")
    proposal_respond(proposal=proposal, by=agent, accept=False, language="en")
    answers = ConsentRecord.objects.filter(purpose=ConsentPurpose.PROPOSAL_RESPONSE).order_by(
        "given_at", "pk"
    )
    assert [a.person for a in answers] == [consumer, agent]
    # The notice is the proposal as read: the solution, the three statements, and the decision.
    assert proposal.solution in answers[0].notice_text
    assert "free to accept or to refuse" in answers[0].notice_text
    assert answers[0].notice_text.endswith("I accept the proposed solution.")
    assert answers[1].notice_text.endswith("I refuse the proposed solution.")


def complaint_outbox(complaint):
    from odr.notifications.models import OutboxMessage

    return list(OutboxMessage.objects.filter(case_reference=complaint.reference))


def test_d33_withdrawing_the_consent_to_enter_mediation_discontinues_the_case(
    consumer, merchant, agent, other_consumer
):
    from mediation.models import CaseState, MediationCase
    from mediation.services import case_consent_withdraw
    from odr.errors import Forbidden

    case = referred_case(consumer, merchant, agent)
    record = ConsentRecord.objects.get(case_reference=case.reference, purpose=ConsentPurpose.ENTER_MEDIATION)
    with pytest.raises(Forbidden):
        case_consent_withdraw(case=case, by=other_consumer, record=record)
    case = case_consent_withdraw(case=case, by=consumer, record=record)
    assert case.state == CaseState.DISCONTINUED and case.closed_by == consumer
    assert ConsentReceipt.objects.filter(record=record, event_type="withdrawn").count() == 1
    assert MediationCase.objects.get(pk=case.pk).closure_reason
