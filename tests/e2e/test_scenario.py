"""The whole first stage in a real browser, as the issue tells it: a consumer signs up, files a complaint
with a PDF attached, the merchant's agent logs in and rejects it, the consumer sees the mediator's
details (D4) and refers the dispute to mediation — on a desktop and on a phone-sized window.

Every page of the scenario is checked with axe-core (no serious or critical violation) and
photographed into artifacts/e2e/. The test clicks by CSS selector (ids, names, form actions), never by
visible text, so that it does not depend on the wording of either language; the browser asks for
French, the site's default.
"""

import hashlib
import re

import pikepdf
import pytest
from allauth.account.models import EmailAddress
from django.core import mail

from complaints.models import Complaint, ComplaintState, Evidence
from mediation.models import CaseState, MediationCase
from odr.accounts.models import Role
from odr.consent.models import ConsentPurpose, ConsentRecord, ConsentState
from odr.notifications.models import OutboxMessage
from tests.factories import MediationBodyFactory, MembershipFactory, MerchantFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

AGENT_PASSWORD = "correct horse battery staple"  # tests/factories.py
CONSUMER_PASSWORD = "Velo-rouge-sous-la-pluie-2026"
COMPLAINT_REF = re.compile(r"C-\d{4}-\d{6}")
CASE_REF = re.compile(r"M-\d{4}-\d{6}")
# allauth's code: 8 letters/digits, dashed in two halves by default (ABCD-EFGH), alone on its line.
CODE_LINE = re.compile(r"^\s*([A-Z0-9]{3,}(?:-[A-Z0-9]{3,})*)\s*$", re.MULTILINE)

LOGOUT = 'header form[action$="/accounts/logout/"] button[type=submit]'


@pytest.fixture
def merchant_side(db):
    body = MediationBodyFactory(
        name="Médiateur du e-commerce (test)",
        slug="mediateur-e2e",
        website="https://mediateur-e2e.example.test",
    )
    merchant = MerchantFactory(
        legal_name="Librairie Lumière SAS",
        registration_number="732829320",
        website="https://librairie-lumiere.example.test",
        mediation_body=body,
    )
    agent = UserFactory(email="agent@librairie-lumiere.example.test")
    MembershipFactory(user=agent, role=Role.MERCHANT_AGENT, merchant=merchant)
    EmailAddress.objects.create(user=agent, email=agent.email, verified=True, primary=True)
    return body, merchant, agent


@pytest.fixture
def invoice_pdf(tmp_path):
    """A real one-page PDF with some text, as a consumer's invoice would be."""
    path = tmp_path / "facture-CMD-4242.pdf"
    pdf = pikepdf.new()
    font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
        )
    )
    content = b"BT /F1 18 Tf 72 760 Td (Facture CMD-4242 - 89,90 EUR) Tj ET"
    pdf.add_blank_page(page_size=(595, 842))
    page = pdf.pages[0]
    page.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
    page.Contents = pdf.make_stream(content)
    pdf.save(path)
    return path


def _path(page) -> str:
    return re.sub(r"^https?://[^/]+", "", page.url)


def _code_from(message) -> str:
    codes = CODE_LINE.findall(message.body)
    assert codes, f"no verification code in the e-mail:\n{message.body}"
    return codes[-1]


def _submit(page, selector):
    """Click a form's button and wait for the page it leads to, which must not be an error page."""
    with page.expect_navigation() as navigation:
        page.click(selector)
    response = navigation.value
    assert response is not None and response.status < 400, (
        f"{response.status if response else 'no response'} on {page.url} after clicking {selector!r}: "
        f"{page.title()!r}"
    )


def _log_in(page, email, password):
    page.goto("/accounts/login/")
    page.fill("#id_login", email)
    page.fill("#id_password", password)
    _submit(page, 'main form[action$="/accounts/login/"] button[type=submit]')


def _log_out(page):
    _submit(page, LOGOUT)
    assert page.locator(LOGOUT).count() == 0, "still logged in after logging out"


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_consumer_files_merchant_rejects_consumer_refers(
    viewport, page_for, shot, assert_accessible, merchant_side, invoice_pdf, mailoutbox
):
    body, merchant, agent = merchant_side
    consumer_email = f"camille.{viewport}@example.test"
    page = page_for(viewport)

    def check(name):
        """Every page of the scenario: axe-core, then a picture."""
        page.wait_for_load_state("load")
        assert_accessible(page, f"{viewport}: {name}")
        shot(page, name)

    # 1. The consumer signs up with an e-mail address and a password.
    page.goto("/")
    check("home")
    page.click('header a[href$="/accounts/signup/"]')
    page.wait_for_url("**/accounts/signup/")
    check("signup")
    page.fill("#id_email", consumer_email)
    page.fill("#id_first_name", "Camille")
    page.fill("#id_last_name", "Martin")
    page.fill("#id_password1", CONSUMER_PASSWORD)
    page.fill("#id_password2", CONSUMER_PASSWORD)
    _submit(page, 'main form[action$="/accounts/signup/"] button[type=submit]')

    # 2. … receives a code by e-mail (allauth, Django's mail API), types it in, and is logged in.
    assert _path(page) == "/accounts/confirm-email/", f"after sign-up: {page.url}"
    check("verification-code")
    assert len(mailoutbox) == 1 and mailoutbox[0].to == [consumer_email]
    page.fill("#id_code", _code_from(mailoutbox[0]))
    _submit(page, "main form:has(#id_code) button[type=submit]:not([form])")
    page.wait_for_url("**/complaints/")
    assert page.locator(LOGOUT).count() == 1
    check("my-cases-empty")

    # 3. … files a complaint: merchant (found while typing, htmx), details, a PDF, review and consents.
    page.click('header a[href$="/complaints/new/"]')
    page.wait_for_url("**/complaints/new/merchant/")
    page.fill("#merchant-q", merchant.registration_number)
    choice = page.locator(f'#merchant-results input[name=merchant][value="{merchant.pk}"]')
    choice.wait_for()
    check("file-1-merchant")
    choice.check()
    _submit(page, "#merchant-results form button[type=submit]")
    assert _path(page) == "/complaints/new/details/"

    check("file-2-details")
    page.select_option("#id_category", "non_delivery")
    page.fill("#id_order_reference", "CMD-4242")
    page.fill("#id_amount", "89.90")
    page.fill("#id_description", "Commande payée le 2 mars, jamais livrée malgré deux relances.")
    page.fill("#id_desired_outcome", "Le remboursement de 89,90 €.")
    # What is typed is kept as it is typed (htmx); let that request finish, as a person would.
    page.wait_for_timeout(900)
    page.wait_for_load_state("networkidle")
    _submit(page, "main form.stacked button[type=submit]")
    assert _path(page) == "/complaints/new/evidence/", page.locator("main").inner_text()

    page.set_input_files('main input[type=file][name="file"]', str(invoice_pdf))
    _submit(page, 'main form[enctype="multipart/form-data"] button[value="stay"]')
    assert _path(page) == "/complaints/new/evidence/"
    assert invoice_pdf.name in page.locator("main").inner_text(), "the uploaded PDF is not listed"
    check("file-3-evidence")
    _submit(page, 'main form[enctype="multipart/form-data"] button[value="review"]')
    assert _path(page) == "/complaints/new/review/"
    assert invoice_pdf.name in page.locator("main dl").inner_text()
    check("file-4-review")
    page.check("#id_consent_processing")
    page.check("#id_consent_sharing")
    _submit(page, "main form.stacked button[type=submit]")
    match = COMPLAINT_REF.fullmatch(_path(page).removeprefix("/complaints/").rstrip("/"))
    assert match, f"not on a complaint page after sending: {page.url}"
    reference = match.group(0)
    assert reference in page.locator("main h1").inner_text()
    check("complaint-filed")
    _log_out(page)

    # 4. The merchant's agent logs in with a password, opens it from the dashboard and rejects it.
    _log_in(page, agent.email, AGENT_PASSWORD)
    page.wait_for_url("**/merchant/")
    check("merchant-dashboard")
    page.click(f'#waiting-title ~ ul a[href$="/complaints/{reference}/"]')
    page.wait_for_url(f"**/complaints/{reference}/")
    assert page.locator("#answer").is_visible()
    check("merchant-complaint")
    page.check('#answer input[name="decision"][value="reject"]')
    page.fill('#answer textarea[name="text"]', "La commande a été livrée le 5 mars : le suivi fait foi.")
    _submit(page, '#answer form[action$="/answer/"] button[type=submit]')
    assert _path(page) == f"/complaints/{reference}/"
    assert page.locator("#answer").count() == 0, "the answer form is still offered after answering"
    check("merchant-rejected")
    _log_out(page)

    # 5. The consumer logs in again (password) and sees the D4 notice: the mediator's name and website.
    _log_in(page, consumer_email, CONSUMER_PASSWORD)
    page.wait_for_url("**/complaints/")
    check("my-cases")
    page.click(f'main a[href$="/complaints/{reference}/"]')
    page.wait_for_url(f"**/complaints/{reference}/")
    mediator = page.locator("#mediator")
    assert mediator.is_visible(), "no D4 notice on the complaint page after a rejection"
    assert body.name in mediator.inner_text()
    assert mediator.locator(f'a[href="{body.website}"]').count() == 1
    mediator.scroll_into_view_if_needed()
    check("d4-notice")

    # 6. … refers the dispute: declarations (D9, D10), the consent to enter mediation (D31), send.
    page.click(f'#mediator a[href$="/complaints/{reference}/refer/"]')
    page.wait_for_url(f"**/complaints/{reference}/refer/")
    check("refer")
    page.check('input[name="other_proceedings"][value="no"]')
    page.check('input[name="acting_as_consumer"][value="yes"]')
    page.select_option("#id_excluded_subject", "")
    page.check("#id_consent")
    _submit(page, "main form.stacked button[type=submit]")
    assert _path(page) == f"/complaints/{reference}/", page.locator("main").inner_text()
    shown = CASE_REF.findall(page.locator("main").inner_text())
    assert shown, "the complaint page does not give the mediation case's reference"
    check("referred")
    page.watch.assert_clean()

    # The database agrees with what the pages said.
    complaint = Complaint.objects.get(reference=reference)
    assert complaint.consumer.email == consumer_email
    assert complaint.merchant == merchant
    assert complaint.state == ComplaintState.REFERRED
    assert complaint.answer_decision == "reject" and complaint.answered_by == agent
    case = MediationCase.objects.get(complaint=complaint)
    assert case.reference == shown[0]
    assert case.state == CaseState.RECEIVED
    assert case.mediation_body == body
    assert (case.other_proceedings, case.acting_as_consumer, case.excluded_subject) == (False, True, "")
    evidence = Evidence.objects.get(complaint=complaint)
    assert evidence.original_name == invoice_pdf.name
    assert evidence.sha256 == hashlib.sha256(invoice_pdf.read_bytes()).hexdigest()
    consents = ConsentRecord.objects.filter(person=complaint.consumer)
    assert {c.purpose for c in consents} == {
        ConsentPurpose.COMPLAINT_PROCESSING,
        ConsentPurpose.SHARE_WITH_MERCHANT_AND_MEDIATOR,
        ConsentPurpose.ENTER_MEDIATION,
    }
    for consent in consents:
        assert consent.state == ConsentState.GIVEN
        assert consent.case_reference in (reference, case.reference)
        assert consent.receipts.exists(), f"no signed receipt for {consent.purpose}"
    assert EmailAddress.objects.get(email=consumer_email).verified
    assert OutboxMessage.objects.filter(template="complaint_rejected_d4", to_user=complaint.consumer).exists()
    assert mail.outbox is mailoutbox
