"""Every e-mail the use cases queue has a subject, a plain-text and an HTML template, and each renders,
in French and in English, from the context its service gives it (D1–D29 notices; D14 footer).

Until the translators run, French renders the English source strings: nothing here asserts French
wording, only what must be there in any language (references, dates, legal notices) and what must
never be (unrendered tags, "None", message bodies, links leaving the platform).
"""

import html
import re
from pathlib import Path

import pytest

from mediation.statements import (
    LIMITATION_RESTARTS,
    WITHDRAWAL_AT_ANY_TIME,
    in_languages,
    statements_snapshot,
)
from odr.accounts.models import User
from odr.notifications import emails
from odr.notifications.models import OutboxMessage
from odr.notifications.templatetags.email_extras import as_datetime, in_language

ROOT = Path(__file__).resolve().parents[3]
TEMPLATES = ROOT / "templates" / "email"
SITE_URL = "https://odr.example.test"
COMPLAINT = "C-2026-000123"
CASE = "M-2026-000001"
LANGUAGES = ["fr", "en"]

MEDIATOR = {
    "mediator_name": "Médiateur de l'e-commerce",
    "mediator_website": "https://www.mediateur-ecommerce.example/",
    "merchant_takes_part": True,
    "referral_possible_until": "2027-04-30T21:59:59Z",  # not an `_at` key: stays a string
}

# Every e-mail template: the services' (complaints, mediation) and the deadline sweep's reminders.
TEMPLATE_NAMES = [
    "complaint_acknowledgement",
    "complaint_new_for_merchant",
    "complaint_answered",
    "complaint_rejected_d4",
    "complaint_lapsed_d4",
    "complaint_message",
    "offer_made",
    "complaint_withdrawn",
    "complaint_closed_recourse",
    "case_received",
    "case_new_for_mediator",
    "case_documents_requested",
    "case_rejected",
    "case_saisine",
    "case_extended",
    "case_overdue",
    "case_conflict_disclosed",
    "case_representative_added",
    "case_message",
    "proposal_issued",
    "proposal_answered",
    "case_closed",
    "case_withdrawn",
    "case_merchant_declined",
    "consent_receipt",
    "complaint_response_reminder",
    "case_admissibility_reminder",
    "case_outcome_reminder",
    "compliance_followup",
    "merchant_invitation",
    "staff_invitation",
]
ABOUT_NO_CASE = {"merchant_invitation", "staff_invitation"}


def contexts() -> dict[str, dict]:
    """A realistic outbox context per template, as the services write it (datetimes as ISO strings)."""
    complaint = {"reference": COMPLAINT}
    party = {"reference": CASE, "complaint_reference": COMPLAINT}  # _notify
    mediator = {"reference": CASE}  # _notify_mediators
    return {
        "complaint_acknowledgement": {**complaint, "response_due_at": "2026-05-01T21:59:59Z"},
        "complaint_new_for_merchant": {**complaint, "response_due_at": "2026-05-01T21:59:59Z"},
        "complaint_answered": {**complaint, "decision": "offer", "answer": "ANSWER-TEXT"},
        "complaint_rejected_d4": {**complaint, "decision": "reject", "answer": "ANSWER-TEXT", **MEDIATOR},
        "complaint_lapsed_d4": {**complaint, **MEDIATOR},
        "complaint_message": complaint,
        "offer_made": complaint,
        "complaint_withdrawn": complaint,
        "complaint_closed_recourse": {**complaint, "closed_as": "withdrawn", **MEDIATOR},
        "case_received": {**party, "admissibility_due_at": "2026-05-22T21:59:59Z", **MEDIATOR},
        "case_new_for_mediator": mediator,
        "case_documents_requested": {**party, "text": "The invoice of 12 March & the delivery note."},
        "case_rejected": {
            **party,
            "reason": "time_barred",
            "reasoning": (
                "The written complaint dates from 2 January 2025.\nThe referral came on 3 March 2026."
            ),
        },
        "case_saisine": {
            **party,
            "saisine_at": "2026-01-31T10:15:00Z",
            "outcome_due_at": "2026-05-01T21:59:59Z",
            "withdrawal_notice": in_languages(WITHDRAWAL_AT_ANY_TIME),
        },
        "case_extended": {
            **party,
            "reason": "An expert's report on the boiler is awaited.",
            "new_due_at": "2026-06-30T21:59:59Z",
        },
        "case_overdue": mediator,
        "case_conflict_disclosed": {**party, "text": "I once worked for the merchant's parent company."},
        "case_representative_added": mediator,
        "case_message": {**party, "private": True, "body": "SECRET-BODY"},
        "proposal_issued": {
            **party,
            "acceptance_due_at": "2026-04-15T21:59:59Z",
            "statements": statements_snapshot(),
        },
        "proposal_answered": {**mediator, "side": "merchant"},
        "case_closed": {
            **party,
            "state": "settled",
            "saisine_at": "2026-01-31T10:15:00Z",
            "closed_at": "2026-04-10T08:00:00Z",
            "grounds": "The merchant refunds 120 EUR within 30 days.",
            "limitation_notice": in_languages(LIMITATION_RESTARTS),
        },
        "case_withdrawn": {**mediator, "side": "consumer"},
        "merchant_invitation": {"merchant_name": "Boutique Soleil & Fils"},
        "staff_invitation": {
            "merchant_name": "Librairie Lumière SAS",
            "invited_by_name": "Louise Lumière",
            "accept_url": f"{SITE_URL}/invitations/abc/",
            "signup_url": f"{SITE_URL}/accounts/signup/?next=%2Finvitations%2Fabc%2F",
            "expires_at": "2026-12-07T15:00:00Z",
            "time_zone": "Europe/Paris",
        },
        "case_merchant_declined": party,
        "consent_receipt": {
            "receipt_id": "3f0c8e2a-6d1b-4a7e-9c3f-2b5d8e1f4a60",
            "purpose": "share_with_merchant_and_mediator",
            "event_type": "given",
            "case_reference": CASE,
            "issued_at": "2026-03-02T09:30:00Z",
        },
        "complaint_response_reminder": {
            **complaint,
            "response_due_at": "2026-05-01T21:59:59Z",
            "days_left": 7,
        },
        "case_admissibility_reminder": {
            **mediator,
            "admissibility_due_at": "2026-05-22T21:59:59Z",
            "days_left": 2,
        },
        "case_outcome_reminder": {**mediator, "outcome_due_at": "2026-05-01T21:59:59Z", "days_left": 14},
        "compliance_followup": party,
    }


@pytest.fixture(autouse=True)
def _site(settings, monkeypatch):
    settings.ODR_PUBLIC_URL = SITE_URL + "/"
    # These tests are about templates: an attachment builder registered elsewhere (the consent
    # receipt's PDF) would need rows these unsaved messages do not have.
    monkeypatch.setattr(emails, "_attachment_builders", {})


def render(name: str, language: str, context: dict | None = None, *, to_user: User | None = None):
    context = contexts()[name] if context is None else context
    message = OutboxMessage(
        template=name,
        language=language,
        to_address="x@example.test",
        idempotency_key="k",
        case_reference=context.get("reference", CASE),
        context=context,
    )
    message.to_user = to_user
    email = emails.build_email(message)
    (body_html, mimetype) = email.alternatives[0]
    assert mimetype == "text/html"
    return email.subject, email.body, body_html


def consumer() -> User:
    return User(email="camille@example.test", first_name="Camille", last_name="Martin")


URL = re.compile(r"https?://[^\s\"'<>)]+")


@pytest.mark.parametrize("with_user", [True, False], ids=["user", "address"])
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_template_renders_complete_in_both_languages(name, language, with_user):
    context = contexts()[name]
    subject, text, body_html = render(name, language, to_user=consumer() if with_user else None)
    # Invitations to join the platform are about no case yet: they carry no reference.
    reference = "" if name in ABOUT_NO_CASE else context.get("reference", CASE)

    assert subject.strip() and reference in subject
    assert "\n" not in subject
    for body in (subject, text, body_html):
        assert body.strip()
        assert "{{" not in body and "{%" not in body and "{#" not in body
        assert "None" not in body
    assert reference in text and reference in html.unescape(body_html)
    # Plain text is complete and plain: no markup, nothing HTML-escaped (apostrophes stay apostrophes).
    assert "<p" not in text and "</" not in text
    assert "&#x27;" not in text and "&amp;" not in text and "&quot;" not in text
    assert "&#x27;" not in subject
    # D14: the footer says the mediation is free, and every e-mail leads back to the platform.
    assert f"{SITE_URL}/" in text and f'href="{SITE_URL}/' in body_html
    # No link or image leaves the platform; the only other address shown is the mediator's website.
    for attribute in re.findall(r'(?:href|src)="([^"]*)"', body_html):
        assert attribute.startswith(SITE_URL + "/"), attribute
    for url in URL.findall(body_html):
        assert url.startswith(SITE_URL + "/") or url == context.get("mediator_website"), url
    assert "<script" not in body_html and "<img" not in body_html and "<link" not in body_html
    if with_user:
        assert "Camille Martin" in text and "Camille Martin" in body_html


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(
    "name", ["complaint_acknowledgement", "complaint_new_for_merchant", "complaint_response_reminder"]
)
def test_d2_response_due_date_shown_as_a_local_date(name, language):
    """D2/D38: 2026-05-01T21:59:59Z is the end of 1 May 2026 in Paris: shown as that date."""
    _subject, text, body_html = render(name, language)
    expected = {"fr": "1 mai 2026", "en": "May 1, 2026"}[language]
    assert expected in text and expected in body_html


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", ["complaint_rejected_d4", "complaint_lapsed_d4"])
def test_d4_notice_gives_mediator_name_website_participation_and_referral_date(name, language):
    """D4 (L616-1 para. 2; Dir. 13(3)): the durable-medium notice names the designated mediator."""
    _subject, text, body_html = render(name, language)
    unescaped = html.unescape(body_html)
    for body in (text, unescaped):
        assert MEDIATOR["mediator_name"] in body
        assert MEDIATOR["mediator_website"] in body
        # `referral_possible_until` does not end in `_at`: the template parses it back itself.
        assert {"fr": "30 avril 2027", "en": "April 30, 2027"}[language] in body
    assert {
        "fr": "le professionnel a indiqué qu'il y participera",
        "en": "the merchant has said it will take part",
    }[language] in text


def test_d4_notice_says_when_the_merchant_will_not_take_part():
    context = {**contexts()["complaint_rejected_d4"], "merchant_takes_part": False}
    _subject, text, body_html = render("complaint_rejected_d4", "en", context)
    assert "will not take part" in text and "will not take part" in body_html


@pytest.mark.parametrize("closed_as", ["resolved", "withdrawn", "expired"])
def test_d6_closure_tells_of_mediation_and_the_courts(closed_as):
    context = {**contexts()["complaint_closed_recourse"], "closed_as": closed_as}
    _subject, text, body_html = render("complaint_closed_recourse", "en", context)
    for body in (text, html.unescape(body_html)):
        assert MEDIATOR["mediator_name"] in body and MEDIATOR["mediator_website"] in body
        assert "court" in body
    assert ("can no longer examine" in text) == (closed_as == "expired")


@pytest.mark.parametrize(
    "reason, label",
    [
        ("no_prior_complaint", "No prior written complaint"),
        ("unfounded_or_abusive", "Manifestly unfounded or abusive"),
        ("already_examined", "Examined or being examined by another mediator or a court"),
        ("time_barred", "Referred more than one year after the written complaint"),
        ("out_of_competence", "Outside the mediator's competence"),
    ],
)
def test_d11_refusal_shows_the_reason_label_and_the_reasoning(reason, label):
    context = {**contexts()["case_rejected"], "reason": reason}
    _subject, text, body_html = render("case_rejected", "en", context)
    for body in (text, html.unescape(body_html)):
        assert label in body
        assert reason not in body
        assert "The referral came on 3 March 2026." in body
    assert "2 January 2025.<br>The referral" in body_html  # the reasoning keeps its lines


@pytest.mark.parametrize("language", LANGUAGES)
def test_d15_saisine_notice_states_withdrawal_at_any_time_and_d16_due_date(language):
    context = contexts()["case_saisine"]
    _subject, text, body_html = render("case_saisine", language)
    notice = context["withdrawal_notice"][language]
    assert notice in text and notice in html.unescape(body_html)
    other = context["withdrawal_notice"]["en" if language == "fr" else "fr"]
    if other != notice:
        assert other not in text
    saisine, due = {"fr": ("31 janvier 2026", "1 mai 2026"), "en": ("Jan. 31, 2026", "May 1, 2026")}[language]
    assert saisine in text and due in text and due in body_html


@pytest.mark.parametrize("language", LANGUAGES)
def test_d28_closure_notice_gives_dates_and_limitation_restart(language):
    context = contexts()["case_closed"]
    _subject, text, body_html = render("case_closed", language)
    notice = context["limitation_notice"][language]
    unescaped = html.unescape(body_html)
    assert notice in text and notice in unescaped
    saisine, closed = {"fr": ("31 janvier 2026", "10 avril 2026"), "en": ("Jan. 31, 2026", "April 10, 2026")}[
        language
    ]
    for body in (text, unescaped):
        assert saisine in body and closed in body
        assert context["grounds"] in body


def test_d28_closure_before_saisine_prints_no_empty_dates():
    context = {
        **contexts()["case_closed"],
        "state": "discontinued",
        "saisine_at": None,
        "grounds": "",
    }
    _subject, text, body_html = render("case_closed", "en", context)
    assert "before the notice of saisine" in text and "None" not in text and "None" not in body_html
    assert context["limitation_notice"]["en"] in text


@pytest.mark.parametrize("private", [True, False])
def test_d20_message_email_never_carries_the_message(private):
    context = {**contexts()["case_message"], "private": private}
    subject, text, body_html = render("case_message", "en", context)
    for body in (subject, text, body_html):
        assert "SECRET-BODY" not in body
    assert ("sent you a private message" in text) == private
    assert ("private message from the mediator" in subject) == private


def test_d20_message_email_to_mediators_has_no_private_flag():
    subject, text, _html = render("case_message", "en", {"reference": CASE, "body": "SECRET-BODY"})
    assert "new message" in text and "SECRET-BODY" not in text and "private" not in subject


@pytest.mark.parametrize("name", ["complaint_answered", "complaint_rejected_d4"])
def test_merchant_answer_is_not_copied_into_the_email(name):
    _subject, text, body_html = render(name, "en")
    assert "ANSWER-TEXT" not in text and "ANSWER-TEXT" not in body_html


def test_d23_merchant_declined_tells_the_consumer_of_the_court_route():
    _subject, to_consumer, _html = render("case_merchant_declined", "en")
    _subject, to_mediator, _html = render("case_merchant_declined", "en", {"reference": CASE})
    assert "You keep the right to bring the dispute before the competent court" in to_consumer
    assert "the consumer has been told of the court route" in to_mediator


def test_d24_d25_proposal_email_states_freedom_and_deemed_refusal():
    _subject, text, _html = render("proposal_issued", "en")
    assert "April 15, 2026" in text
    assert "free to accept or to refuse" in text
    assert "deemed to have refused" in text


@pytest.mark.parametrize(
    "days_left, expected", [(14, "14 days left"), (1, "One day left"), (0, "0 days left")]
)
def test_d18_outcome_reminder_counts_days_left(days_left, expected):
    context = {**contexts()["case_outcome_reminder"], "days_left": days_left}
    _subject, text, _html = render("case_outcome_reminder", "en", context)
    assert expected in text and "May 1, 2026" in text


@pytest.mark.parametrize("event_type", ["given", "withdrawn", "expired"])
def test_d32_consent_receipt_email_points_to_the_verification_page(event_type):
    context = {**contexts()["consent_receipt"], "event_type": event_type}
    _subject, text, body_html = render("consent_receipt", "en", context)
    assert f"{SITE_URL}/receipts/verify/" in text and f"{SITE_URL}/receipts/verify/" in body_html
    assert context["receipt_id"] in text and "March 2, 2026" in text
    assert "Sharing my file with the merchant and the mediator" in text  # the purpose's label
    assert context["purpose"] not in text
    assert ("withdrawn your consent" in text) == (event_type == "withdrawn")


def test_d12_admissibility_reminder_before_and_after_the_date():
    """The sweep sends case_admissibility_reminder before the date, and with days_left=0 once the
    21 days have passed without a decision (case_admissibility_lapsed)."""
    subject, before, _html = render("case_admissibility_reminder", "en")
    assert "May 22, 2026" in before and "2 days left" in before and "Reminder" in subject
    context = {**contexts()["case_admissibility_reminder"], "days_left": 0}
    subject, after, _html = render("case_admissibility_reminder", "en", context)
    assert "ended on May 22, 2026 without a decision" in after and "overdue" in subject


def test_d3_response_reminder_counts_days_left():
    _subject, text, _html = render("complaint_response_reminder", "en")
    assert "May 1, 2026" in text and "7 days left" in text


def test_consent_receipt_without_case_has_a_subject():
    context = {key: value for key, value in contexts()["consent_receipt"].items() if key != "case_reference"}
    message = OutboxMessage(
        template="consent_receipt",
        language="en",
        to_address="x@example.test",
        idempotency_key="k",
        case_reference="",
        context=context,
    )
    email = emails.build_email(message)
    assert email.subject.strip() and "[" not in email.subject and "None" not in email.body


# --- Every template the code queues exists -------------------------------------------------------

NOTIFY_CALL = re.compile(r'\b_notify(?:_consumer|_merchant|_mediators)?\(\s*\w+\s*,\s*"([a-z0-9_]+)"')
TEMPLATE_ARG = re.compile(r'\btemplate\s*=\s*"([a-z0-9_]+)"')


def queued_template_names() -> dict[str, set[str]]:
    """Template names passed to the notify helpers or as `template=` in the stage packages' code."""
    found = {}
    for package in ("complaints", "mediation", "odr"):
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            source = path.read_text(encoding="utf-8")
            names = set(NOTIFY_CALL.findall(source)) | set(TEMPLATE_ARG.findall(source))
            if names:
                found[str(path.relative_to(ROOT))] = names
    return found


def test_every_template_the_services_queue_has_its_three_files():
    found = queued_template_names()
    assert len(found.get("complaints/services.py", ())) >= 8
    assert len(found.get("mediation/services.py", ())) >= 15
    for path, names in found.items():
        for name in sorted(names):
            for suffix in (".subject.txt", ".txt", ".html"):
                assert (TEMPLATES / f"{name}{suffix}").is_file(), (
                    f"{path} queues {name}: {name}{suffix} missing"
                )


def test_the_services_templates_are_all_tested_here():
    queued = set().union(*queued_template_names().values())
    assert queued <= set(TEMPLATE_NAMES), queued - set(TEMPLATE_NAMES)


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_every_template_has_three_files_that_load_i18n(name):
    for suffix in (".subject.txt", ".txt", ".html"):
        source = (TEMPLATES / f"{name}{suffix}").read_text(encoding="utf-8")
        assert "{% load i18n" in source
    assert "{% autoescape off %}" in (TEMPLATES / f"{name}.subject.txt").read_text(encoding="utf-8")


# --- The filters ---------------------------------------------------------------------------------


def test_in_language_picks_the_active_language_then_falls_back():
    from django.utils import translation

    texts = {"fr": "Texte", "en": "Text"}
    with translation.override("en"):
        assert in_language(texts) == "Text"
    with translation.override("fr"):
        assert in_language(texts) == "Texte"
    assert in_language(texts, "en-gb") == "Text"
    assert in_language(texts, "de") == "Texte"  # the site's default language
    assert in_language({"de": "Text"}, "fr") == "Text"
    assert in_language("plain") == "plain"
    assert in_language(None) == ""


def test_as_datetime_parses_iso_strings_only():
    parsed = as_datetime("2027-04-30T21:59:59Z")
    assert (parsed.year, parsed.month, parsed.day, parsed.utcoffset().total_seconds()) == (2027, 4, 30, 0)
    assert as_datetime("not a date") == "not a date"
    assert as_datetime(None) is None


def test_translators_can_extract_every_email_template():
    """`makemessages` must read every e-mail template (it templatizes them before xgettext)."""
    from django.utils.translation import templatize

    for path in sorted(TEMPLATES.iterdir()):
        source = path.read_text(encoding="utf-8")
        extracted = templatize(source, origin=str(path))
        if "translate" in source:
            assert "gettext(" in extracted, path.name


def test_html_escapes_what_people_wrote_and_plain_text_keeps_it_as_written():
    text = "<script>alert(1)</script> Tom & Jerry's invoice"
    context = {**contexts()["case_documents_requested"], "text": text}
    _subject, plain, body_html = render("case_documents_requested", "en", context)
    assert text in plain
    assert "<script>" not in body_html and "&lt;script&gt;" in body_html


# --- With the contexts the services really write -------------------------------------------------


@pytest.mark.django_db
def test_every_email_queued_by_a_whole_mediation_renders(consumer, merchant, agent, mediator):
    """File → reject (D4) → refer → documents → saisine → private message → extension → proposal →
    both accept → settled, then a second case withdrawn and a third declined: every queued e-mail
    renders from the context the service wrote, with nothing missing and no message body."""
    from datetime import timedelta

    from complaints.services import complaint_post_message
    from mediation.services import (
        case_complete_file,
        case_disclose_conflict,
        case_extend,
        case_merchant_decline,
        case_open,
        case_post_message,
        case_request_documents,
        case_withdraw,
        proposal_issue,
        proposal_respond,
    )
    from tests.helpers import referred_case, rejected_complaint

    complaint = rejected_complaint(consumer, merchant, agent)
    complaint_post_message(complaint=complaint, by=agent, body="SECRET-BODY")
    case = referred_case(consumer, merchant, agent)
    case_request_documents(case=case, by=mediator, text="The invoice, please.")
    case_complete_file(case=case, by=mediator)
    case = case_open(case=case, by=mediator)
    case_post_message(case=case, by=mediator, body="SECRET-BODY", audience="consumer")
    case_post_message(case=case, by=consumer, body="SECRET-BODY")
    case_disclose_conflict(case=case, by=mediator, text="I once worked for the merchant's parent company.")
    case_extend(
        case=case,
        by=mediator,
        reason="Expert report awaited.",
        new_due_date=case.outcome_due_at.date() + timedelta(days=30),
    )
    proposal = proposal_issue(case=case, by=mediator, solution="Full refund within 14 days.")
    proposal_respond(proposal=proposal, by=consumer, accept=True)
    proposal_respond(proposal=proposal, by=agent, accept=True)
    case_withdraw(case=referred_case(consumer, merchant, agent), by=consumer, reason="Settled directly.")
    case_merchant_decline(case=referred_case(consumer, merchant, agent), by=agent)

    messages = list(OutboxMessage.objects.filter(channel="email"))
    seen = {message.template for message in messages}
    assert {
        "complaint_rejected_d4",
        "case_saisine",
        "case_extended",
        "proposal_issued",
        "case_closed",
    } <= seen
    assert seen <= set(TEMPLATE_NAMES), seen - set(TEMPLATE_NAMES)
    for message in messages:
        for language in LANGUAGES:
            message.language = language
            email = emails.build_email(message)
            body_html = email.alternatives[0][0]
            reference = message.context.get("reference") or message.case_reference
            assert reference in email.subject, message.template
            for body in (email.subject, email.body, body_html):
                assert "None" not in body and "{{" not in body and "{%" not in body, message.template
                assert "SECRET-BODY" not in body, message.template
            if message.template == "complaint_rejected_d4":
                assert merchant.mediation_body.name in email.body
                assert merchant.mediation_body.website in email.body
            if message.template == "case_saisine":
                assert message.context["withdrawal_notice"][language] in email.body
            if message.template == "case_closed":
                assert message.context["limitation_notice"][language] in email.body
