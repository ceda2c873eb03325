"""The compliance area of a mediation body (issue 6): the dashboard (D36, D16, D29), the deadline breaches
(D3, D12, D16–D18), the cases and their audit chains verified at request time (D34), the audit-trail
export (D37), the annual report and bulk export page (D36, D37), and who may see them (D30).

A year of cases is built through the services, each step at its moment (Europe/Paris), the deadline sweep
run when time has passed; then the pages are read in English through `Portal`, which checks every HTML
page for the strict Content-Security-Policy and for inline script or style.
"""

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from mediation.case_figures import case_figures_refresh
from mediation.models import MediationCase, RefusalReason
from mediation.reports import annual_report_figures
from mediation.services import (
    case_open,
    case_record_compliance,
    case_refer,
    case_reject,
    case_request_documents,
    proposal_issue,
    proposal_respond,
)
from odr.accounts.models import Role
from odr.audit.models import AuditEvent
from odr.deadlines.models import Deadline, DeadlineKind, DeadlineStatus
from odr.deadlines.sweep import sweep_deadlines
from odr.documents.models import DocumentKind, DocumentStatus, GeneratedDocument
from odr.documents.services import document_render
from tests.complaints.test_portal import Portal, portal_for
from tests.factories import MembershipFactory, MerchantFactory
from tests.helpers import file_complaint, referred_case, travel
from tests.odr.audit.test_chain import tamper

PARIS = ZoneInfo("Europe/Paris")
YEAR = 2025
NOW = datetime(2026, 1, 15, 10, 0, tzinfo=PARIS)

pytestmark = pytest.mark.django_db


def at(*args):
    return datetime(*args, tzinfo=PARIS)


@pytest.fixture(autouse=True)
def _files(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ODR_SIGNING_KEYS_DIR = tmp_path / "signing-keys"


class Cases:
    """Builds cases for one consumer, merchant and mediator, each step at its moment."""

    def __init__(self, consumer, merchant, agent, mediator):
        self.consumer, self.merchant, self.agent, self.mediator = consumer, merchant, agent, mediator

    def refer(self, moment) -> MediationCase:
        with travel(moment):
            return referred_case(self.consumer, self.merchant, self.agent)

    def open(self, case, moment):
        with travel(moment):
            return case_open(case=case, by=self.mediator)

    def propose(self, case, moment):
        with travel(moment):
            return proposal_issue(case=case, by=self.mediator, solution="Remboursement sous 14 jours.")

    def answer(self, proposal, moment, *, consumer=None, merchant=None):
        with travel(moment):
            if consumer is not None:
                proposal_respond(proposal=proposal, by=self.consumer, accept=consumer)
            if merchant is not None:
                proposal_respond(proposal=proposal, by=self.agent, accept=merchant)

    def settle(self, case, saisine, proposed, settled):
        case = self.open(case, saisine)
        self.answer(self.propose(case, proposed), settled, consumer=True, merchant=True)
        return MediationCase.objects.get(pk=case.pk)

    def reject(self, case, moment, reason):
        with travel(moment):
            return case_reject(case=case, by=self.mediator, reason=reason, reasoning="Motif écrit.")

    def complied(self, case, moment, complied):
        with travel(moment):
            case_record_compliance(case=case, by=self.consumer, complied=complied)


def sweep_at(moment):
    with travel(moment):
        return sweep_deadlines()


@pytest.fixture
def year_of_cases(consumer, merchant, agent, mediator, other_body):
    """Nine cases referred to the body in 2025, one in 2024, and what must stay out of its view.

    Durations (saisine day → closure day): A 16, B 98, G 22, H 14 → average 150 / 4 = 37.5 days.
    Breaches (due date → the day the duty ended, or today 15 January 2026):
      P  D12 due 10 Jan 2025, recorded by the sweep of 8 April, still owed: 370 days late;
      D  D12 due 7 Apr, recorded by the sweep of 8 April, refused 11 April: 4 days late;
      B  D16 due 6 May, settled 14 May (closed late): 8 days late;
      I  D3 due 31 Aug, lapsed at the sweep of 1 September, referred 3 September: 3 days late;
      E  D12 due 24 Nov, recorded by the sweep of 25 November, still owed: 52 days late.
    """
    c = Cases(consumer, merchant, agent, mediator)
    made = {}
    # P: referred in 2024, never decided: its D12 breach falls due in January 2025.
    made["P"] = c.refer(at(2024, 12, 20, 9))
    # A: settled in 16 days; the merchant complied (D29).
    made["A"] = c.settle(
        c.refer(at(2025, 1, 10, 9)), at(2025, 1, 13, 10), at(2025, 1, 20, 10), at(2025, 1, 29, 10)
    )
    c.complied(made["A"], at(2025, 3, 5, 12), True)
    # B: opened 5 February (outcome due 6 May), settled 14 May: 98 days, the D16 deadline closed late.
    b = c.open(c.refer(at(2025, 2, 3, 9)), at(2025, 2, 5, 10))
    c.answer(c.propose(b, at(2025, 5, 1, 10)), at(2025, 5, 14, 10), consumer=True, merchant=True)
    made["B"] = MediationCase.objects.get(pk=b.pk)
    # C: refused on time.
    made["C"] = c.reject(c.refer(at(2025, 3, 3, 9)), at(2025, 3, 10, 9), RefusalReason.TIME_BARRED)
    # D: referred 17 March (decision due 7 April), the sweep records the lapse, refused 11 April.
    made["D"] = c.refer(at(2025, 3, 17, 9))
    sweep_at(at(2025, 4, 8, 0, 5))
    made["D"] = c.reject(made["D"], at(2025, 4, 11, 9), RefusalReason.ALREADY_EXAMINED)
    c.complied(made["B"], at(2025, 7, 1, 12), False)
    # G: no agreement, the merchant refused.
    g = c.open(c.refer(at(2025, 6, 2, 9)), at(2025, 6, 3, 10))
    c.answer(c.propose(g, at(2025, 6, 20, 10)), at(2025, 6, 25, 10), merchant=False)
    made["G"] = MediationCase.objects.get(pk=g.pk)
    # H: settled in 14 days; compliance not known yet.
    made["H"] = c.settle(
        c.refer(at(2025, 7, 1, 9)), at(2025, 7, 2, 10), at(2025, 7, 10, 10), at(2025, 7, 16, 10)
    )
    # I: the merchant did not answer the complaint (D3 due 31 August); referred 3 September, refused.
    # Q: the same, never referred: the merchant's breach is not the body's (left out).
    with travel(at(2025, 8, 1, 10)):
        complaint_i = file_complaint(consumer, merchant)
        file_complaint(consumer, merchant)
    sweep_at(at(2025, 9, 1, 0, 5))
    with travel(at(2025, 9, 3, 9)):
        made["I"] = case_refer(
            complaint=complaint_i, by=consumer, other_proceedings=False, acting_as_consumer=True
        )
    made["I"] = c.reject(made["I"], at(2025, 9, 10, 9), RefusalReason.UNFOUNDED_OR_ABUSIVE)
    # E: referred 3 November (decision due 24 November), never decided. Another body's case likewise.
    made["E"] = c.refer(at(2025, 11, 3, 9))
    foreign_merchant = MerchantFactory(mediation_body=other_body)
    foreign_agent = MembershipFactory(role=Role.MERCHANT_AGENT, merchant=foreign_merchant).user
    made["foreign"] = Cases(consumer, foreign_merchant, foreign_agent, None).refer(at(2025, 11, 3, 9))
    sweep_at(at(2025, 11, 25, 0, 5))
    # F: open since 2 December, in time.
    made["F"] = c.open(c.refer(at(2025, 12, 1, 9)), at(2025, 12, 2, 10))
    for key, case in made.items():
        made[key] = MediationCase.objects.get(pk=case.pk)
    case_figures_refresh()  # the worker's run after these changes: the dashboard reads its buckets
    return made


def figure(html: str, name: str) -> str:
    """The text of the table cell (or counter) marked data-figure="name"."""
    found = re.search(rf'data-figure="{re.escape(name)}">([^<]*)<', html)
    assert found, f"no figure {name!r} in the page"
    return found.group(1).strip()


def officer_page(officer, url, **query):
    with travel(NOW):
        response = portal_for(officer).get(url, query)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


# --- The dashboard ------------------------------------------------------------------------------------


def test_d36_dashboard_counts_states_and_months_of_the_year(year_of_cases, body, compliance_officer):
    html = officer_page(compliance_officer, f"/compliance/{body.slug}/", year=YEAR)

    assert figure(html, "received") == "9"
    assert figure(html, "in_progress") == "2"
    assert figure(html, "closed:settled") == "3"
    assert figure(html, "closed:no_agreement") == "1"
    assert figure(html, "closed:discontinued") == "0"
    assert figure(html, "closed:merchant_declined") == "0"
    assert figure(html, "closed:rejected") == "3"
    states = {
        "received": "1",
        "awaiting_documents": "0",
        "open": "1",
        "proposal_issued": "0",
        "settled": "3",
        "no_agreement": "1",
        "discontinued": "0",
        "merchant_declined": "0",
        "rejected": "3",
    }
    for state, count in states.items():
        assert figure(html, f"state:{state}") == count, state
    months = [figure(html, f"month:{index}") for index in range(12)]
    assert months == ["1", "1", "2", "0", "0", "1", "1", "0", "1", "0", "1", "1"]
    # The same definitions as the annual report: the same numbers.
    report = annual_report_figures(body=body, year=YEAR)
    assert report["received"] == 9 and report["by_month"] == [int(m) for m in months]


def test_d36_d11_dashboard_refusal_reasons(year_of_cases, body, compliance_officer):
    html = officer_page(compliance_officer, f"/compliance/{body.slug}/", year=YEAR)

    assert figure(html, "reason:time_barred") == "1"
    assert figure(html, "reason:already_examined") == "1"
    assert figure(html, "reason:unfounded_or_abusive") == "1"
    assert figure(html, "reason:no_prior_complaint") == "0"
    assert figure(html, "reason:out_of_competence") == "0"
    assert figure(html, "reason:time_barred:percent") == "33.3\u00a0%"
    assert "Cases refused as not admissible: 3 (33.3\u00a0% of the cases received)." in html


def test_d36_d16_dashboard_durations_against_the_90_day_limit(year_of_cases, body, compliance_officer):
    html = officer_page(compliance_officer, f"/compliance/{body.slug}/", year=YEAR)

    assert figure(html, "duration:0-30") == "3"  # A 16, G 22, H 14
    assert figure(html, "duration:31-60") == "0"
    assert figure(html, "duration:61-90") == "0"
    assert figure(html, "duration:over_90") == "1"  # B 98
    assert figure(html, "duration:average") == "37.5"
    assert figure(html, "duration:past_90") == "1"
    assert figure(html, "duration:past_90_extended") == "0"
    assert figure(html, "duration:after_due_date") == "1"
    assert "90-day limit" in html  # the chart's dashed line, labelled


def test_d36_d12_d16_d3_dashboard_breaches_per_kind(year_of_cases, body, compliance_officer):
    html = officer_page(compliance_officer, f"/compliance/{body.slug}/", year=YEAR)

    # By due date in 2025: P (January), D (April) and E (November) for D12; B for D16; I for D3.
    assert figure(html, "breaches:admissibility") == "3"
    assert figure(html, "breaches:outcome") == "1"
    assert figure(html, "breaches:merchant_response") == "1"  # Q's, never referred, is not the body's
    # Still owed today: P and E.
    assert figure(html, "breaches:open") == "2"
    assert figure(html, "breaches:open:admissibility") == "2"
    assert figure(html, "breaches:open:outcome") == "0"
    assert figure(html, "breaches:open:merchant_response") == "0"
    table = html[html.index('id="table-breaches"') :]
    january = re.search(r"<th scope=\"row\">January 2025</th>((?:<td[^>]*>\d+</td>)+)", table).group(1)
    assert re.findall(r">(\d+)<", january) == ["0", "1", "0"]  # D3, D12, D16
    assert 'id="chart-breaches-admissibility"' in html


def test_d29_dashboard_compliance_with_outcome_rate(year_of_cases, body, compliance_officer):
    html = officer_page(compliance_officer, f"/compliance/{body.slug}/", year=YEAR)

    assert figure(html, "compliance:settled") == "3"
    assert figure(html, "compliance:complied") == "1"  # A
    assert figure(html, "compliance:not_complied") == "1"  # B
    assert figure(html, "compliance:unknown") == "1"  # H
    assert figure(html, "compliance:rate") == "50.0\u00a0%"


def test_d36_dashboard_charts_are_inline_svg_with_title_and_description(
    year_of_cases, body, compliance_officer
):
    html = officer_page(compliance_officer, f"/compliance/{body.slug}/", year=YEAR)

    charts = re.findall(r"<svg\b[^>]*>", html)
    ids = [re.search(r'id="([^"]+)"', tag).group(1) for tag in charts]
    assert ids == [
        "chart-states",
        "chart-months",
        "chart-refusals",
        "chart-durations",
        "chart-breaches-merchant_response",
        "chart-breaches-admissibility",
        "chart-breaches-outcome",
        "chart-compliance",
    ]
    for tag, chart_id in zip(charts, ids, strict=True):
        assert 'role="img"' in tag and f'aria-describedby="{chart_id}-desc"' in tag
        assert f'<title id="{chart_id}-title">' in html and f'<desc id="{chart_id}-desc">' in html
    assert '<desc id="chart-months-desc">January 2025: 1; February 2025: 1; March 2025: 2;' in html
    assert "<script" not in html.split("</head>")[1]  # no script in the body; CSP checked by Portal
    # Links to the rest of the compliance area, and to the annual report and bulk export.
    for url in (
        f"/compliance/{body.slug}/breaches/",
        f"/compliance/{body.slug}/cases/",
        f"/compliance/{body.slug}/documents/",
    ):
        assert f'href="{url}' in html


def test_d36_dashboard_defaults_to_the_current_year_and_takes_a_date_range(
    year_of_cases, body, compliance_officer
):
    html = officer_page(compliance_officer, f"/compliance/{body.slug}/")
    assert '<option value="2026" selected>' in html
    assert figure(html, "received") == "0"
    assert figure(html, "breaches:open") == "2"  # today's, whatever the period

    html = officer_page(
        compliance_officer, f"/compliance/{body.slug}/", **{"from": "2025-03-01", "to": "2025-04-30"}
    )
    assert figure(html, "received") == "2"  # C and D
    assert [figure(html, f"month:{index}") for index in range(2)] == ["2", "0"]
    assert 'data-figure="month:2"' not in html
    assert figure(html, "breaches:admissibility") == "1"  # D, due 7 April
    assert figure(html, "reason:already_examined") == "1"

    with travel(NOW):
        bad = portal_for(compliance_officer).get(
            f"/compliance/{body.slug}/", {"from": "2025-05-01", "to": "2025-04-01"}
        )
    assert bad.status_code == 400
    assert "The start date must not be after the end date." in bad.content.decode()
    for query in ({"from": "9999-12-30", "to": "9999-12-31"}, {"from": "2025-01-01"}, {"year": "1999"}):
        with travel(NOW):
            assert portal_for(compliance_officer).get(f"/compliance/{body.slug}/", query).status_code == 400
    html = officer_page(compliance_officer, f"/compliance/{body.slug}/", year=2019)
    assert '<option value="2019" selected>' in html


# --- The breaches -------------------------------------------------------------------------------------


def breach_rows(html: str) -> list[tuple[str, str]]:
    """(case:kind, days late) of each row of the breaches table, in order."""
    return re.findall(r'data-breach="([^"]+)".*?data-days-late="(-?\d+)"', html, re.DOTALL)


def test_d3_d12_d16_breaches_list_the_body_s_breaches_with_days_late(year_of_cases, body, compliance_officer):
    made = year_of_cases
    html = officer_page(compliance_officer, f"/compliance/{body.slug}/breaches/")

    assert breach_rows(html) == [  # latest due date first
        (f"{made['E'].reference}:admissibility", "52"),
        (f"{made['I'].reference}:merchant_response", "3"),
        (f"{made['B'].reference}:outcome", "8"),
        (f"{made['D'].reference}:admissibility", "4"),
        (f"{made['P'].reference}:admissibility", "370"),
    ]
    assert made["foreign"].reference not in html
    # The case's documents page, which compliance officers may open; the complaint named for D3.
    assert f'href="/cases/{made["E"].reference}/documents/"' in html
    assert f"complaint {made['I'].complaint.reference}" in html
    assert html.count("Still owed</strong>") == 2

    html = officer_page(
        compliance_officer, f"/compliance/{body.slug}/breaches/", sort="due", kind="admissibility"
    )
    assert [row for row, _days in breach_rows(html)] == [
        f"{made['P'].reference}:admissibility",
        f"{made['D'].reference}:admissibility",
        f"{made['E'].reference}:admissibility",
    ]
    html = officer_page(compliance_officer, f"/compliance/{body.slug}/breaches/", state="ended")
    assert len(breach_rows(html)) == 3


def test_d12_breach_listed_once_time_passes_and_recorded_by_the_sweep(
    consumer, merchant, agent, mediator, body, compliance_officer
):
    with travel(at(2026, 1, 20, 11)):
        case = referred_case(consumer, merchant, agent)  # decision due 10 February 23:59:59
    url = f"/compliance/{body.slug}/breaches/"

    with travel(at(2026, 2, 10, 23, 0)):
        assert breach_rows(portal_for(compliance_officer).get(url).content.decode()) == []
    with travel(at(2026, 2, 11, 0, 2)):  # past due, the sweep not run yet: shown, not hidden
        html = portal_for(compliance_officer).get(url).content.decode()
    assert breach_rows(html) == [(f"{case.reference}:admissibility", "1")]
    assert "not yet: the deadline sweep has not run" in html

    sweep_at(at(2026, 2, 11, 0, 5))
    assert Deadline.objects.get(kind=DeadlineKind.ADMISSIBILITY).status == DeadlineStatus.BREACHED
    with travel(at(2026, 2, 13, 12)):
        html = portal_for(compliance_officer).get(url).content.decode()
    assert breach_rows(html) == [(f"{case.reference}:admissibility", "3")]
    assert "not yet: the deadline sweep has not run" not in html
    assert "Still owed</strong>" in html and "Admissibility decision (D12)" in html

    with travel(at(2026, 2, 16, 9)):
        case_reject(case=case, by=mediator, reason=RefusalReason.TIME_BARRED, reasoning="Hors délai.")
    with travel(at(2026, 3, 1, 9)):
        html = portal_for(compliance_officer).get(url, {"state": "ended"}).content.decode()
    assert breach_rows(html) == [(f"{case.reference}:admissibility", "6")]  # 10 → 16 February


def test_d12_d13_a_late_request_for_documents_ends_the_breach(
    consumer, merchant, agent, mediator, body, compliance_officer
):
    with travel(at(2026, 1, 20, 11)):
        case = referred_case(consumer, merchant, agent)  # decision due 10 February 23:59:59
    sweep_at(at(2026, 2, 11, 0, 5))
    with travel(at(2026, 2, 13, 9)):  # the clock stops until the file is complete (D13)
        case_request_documents(case=case, by=mediator, text="La facture, s'il vous plaît.")
    with travel(at(2026, 3, 1, 9)):
        html = portal_for(compliance_officer).get(f"/compliance/{body.slug}/breaches/").content.decode()
    assert breach_rows(html) == [(f"{case.reference}:admissibility", "3")]
    assert "Still owed</strong>" not in html


# --- Cases and their audit trails --------------------------------------------------------------------


@pytest.fixture
def case(consumer, merchant, agent, mediator):
    c = Cases(consumer, merchant, agent, mediator)
    return c.open(c.refer(at(2026, 2, 2, 10)), at(2026, 2, 3, 10))


def test_cases_list_searches_by_reference_and_links_to_the_audit(
    case, consumer, merchant, agent, body, compliance_officer, other_body
):
    with travel(at(2026, 2, 4, 10)):
        second = referred_case(consumer, merchant, agent)
    client = portal_for(compliance_officer)
    html = client.get(f"/compliance/{body.slug}/cases/").content.decode()
    assert case.reference in html and second.reference in html
    assert f'href="/compliance/{body.slug}/cases/{case.reference}/audit/"' in html

    html = client.get(f"/compliance/{body.slug}/cases/", {"q": case.reference}).content.decode()
    assert case.reference in html and second.reference not in html
    html = client.get(f"/compliance/{body.slug}/cases/", {"q": second.complaint.reference}).content.decode()
    assert second.reference in html and case.reference not in html
    html = client.get(f"/compliance/{body.slug}/cases/", {"state": "open"}).content.decode()
    assert case.reference in html and second.reference not in html


def test_d34_audit_page_verifies_both_chains_and_shows_the_events(case, body, compliance_officer):
    response = portal_for(compliance_officer).get(f"/compliance/{body.slug}/cases/{case.reference}/audit/")
    html = response.content.decode()

    complaint_events = AuditEvent.objects.filter(stream=case.complaint.reference).count()
    case_events = list(AuditEvent.objects.filter(stream=case.reference).order_by("seq"))
    assert f'data-verdict="{case.complaint.reference}:ok"' in html
    assert f'data-verdict="{case.reference}:ok"' in html
    assert f"OK: {complaint_events} events checked, the chain is unbroken." in html
    assert f"OK: {len(case_events)} events checked, the chain is unbroken." in html
    for event in case_events:
        assert f"<code>{event.kind}</code>" in html
        assert f"{event.hash[:12]}…" in html
    assert "case.opened" in html and "complaint.filed" in html
    assert "BROKEN" not in html


def test_d34_audit_page_names_the_first_broken_event_after_tampering(case, body, compliance_officer):
    opened = AuditEvent.objects.get(stream=case.reference, kind="case.opened")
    tamper(
        "UPDATE audit_auditevent SET payload = %s WHERE id = %s",
        ['{"saisine_at": "2026-01-01T00:00:00Z"}', opened.pk],
    )
    html = (
        portal_for(compliance_officer)
        .get(f"/compliance/{body.slug}/cases/{case.reference}/audit/")
        .content.decode()
    )

    assert f'data-verdict="{case.reference}:broken:{opened.seq}"' in html
    assert (
        f"BROKEN at event #{opened.seq} (case.opened): {opened.seq - 1} event(s) before it verified." in html
    )
    assert "its content does not match its hash (edited after it was written)" in html
    assert f'data-verdict="{case.complaint.reference}:ok"' in html  # the other chain is intact
    assert html.count("first broken event") == 1


def test_d34_audit_page_gives_an_emptied_stream_its_own_verdict(case, body, compliance_officer):
    """A head's problem has no event to name or link to: its own verdict, no 'Go to the event'."""
    head_seq = AuditEvent.objects.filter(stream=case.reference).count()
    tamper("DELETE FROM audit_auditevent WHERE stream = %s", [case.reference])
    html = (
        portal_for(compliance_officer)
        .get(f"/compliance/{body.slug}/cases/{case.reference}/audit/")
        .content.decode()
    )
    assert f'data-verdict="{case.reference}:broken:head"' in html
    assert f"BROKEN at the chain's head, which records event #{head_seq}: 0 event(s) verified." in html
    assert "the stream was emptied" in html
    assert "Go to the event where the chain breaks" not in html and "()" not in html


def test_d37_audit_export_button_requests_the_audit_trail_pdf(case, body, compliance_officer):
    client = portal_for(compliance_officer)
    url = f"/compliance/{body.slug}/cases/{case.reference}/audit/"
    page = client.get(url).content.decode()
    assert f'action="{url}export/"' in page
    assert f'href="/cases/{case.reference}/documents/"' in page

    response = client.post(f"{url}export/")
    assert response.status_code == 302 and response["Location"] == url
    document = GeneratedDocument.objects.get()
    assert (document.kind, document.subject_reference, document.requested_by) == (
        DocumentKind.AUDIT_TRAIL,
        case.reference,
        compliance_officer,
    )
    assert document.language == "en"
    waiting = client.get(url).content.decode()
    assert 'hx-trigger="every 2s"' in waiting  # the list refreshes itself until the PDF is ready
    partial = client.get(url, {"part": "exports"}, HTTP_HX_REQUEST="true").content.decode()
    assert partial.startswith('<section id="exports"') and 'hx-trigger="every 2s"' in partial

    document_render(document.pk)
    document.refresh_from_db()
    assert document.status == DocumentStatus.READY
    ready = client.get(url, {"part": "exports"}, HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in ready and f"/documents/{document.pk}/download/" in ready
    assert document.sha256 in ready
    download = client.get(f"/documents/{document.pk}/download/")
    assert download.status_code == 200 and download["Content-Type"] == "application/pdf"
    # The export is in the chain, which still verifies.
    html = client.get(url).content.decode()
    assert "<code>document.generated</code>" in html and f'data-verdict="{case.reference}:ok"' in html


# --- The annual report and bulk export page, from the dashboard ---------------------------------------


def test_d36_d37_reports_page_progress_refreshes_itself(case, body, compliance_officer):
    client = portal_for(compliance_officer)
    dashboard = client.get(f"/compliance/{body.slug}/").content.decode()
    assert f'href="/compliance/{body.slug}/documents/"' in dashboard
    page = f"/compliance/{body.slug}/documents/"
    assert client.get(page).status_code == 200
    response = client.post(
        f"{page}generate/", {"kind": "case_export", "from": "2026-01-01", "to": "2026-12-31"}
    )
    assert response.status_code == 302
    document = GeneratedDocument.objects.get(kind=DocumentKind.CASE_EXPORT)
    GeneratedDocument.objects.filter(pk=document.pk).update(status=DocumentStatus.RUNNING, progress=40)

    html = client.get(page).content.decode()
    assert 'hx-trigger="every 2s"' in html and '<progress max="100" value="40">' in html
    assert '<noscript><meta http-equiv="refresh"' in html  # without JavaScript, the page reloads
    assert 'href="/compliance/' in html and "Dashboard" in html  # back to the compliance area
    partial = client.get(page, {"part": "documents"}, HTTP_HX_REQUEST="true").content.decode()
    assert partial.startswith('<section id="body-documents"') and 'value="40"' in partial

    GeneratedDocument.objects.filter(pk=document.pk).update(status=DocumentStatus.PENDING, progress=0)
    document_render(document.pk)
    done = client.get(page, {"part": "documents"}, HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in done and "<progress" not in done
    assert f"/documents/{document.pk}/download/" in done


# --- Who may see it (D30) ----------------------------------------------------------------------------


def test_d30_compliance_area_is_404_for_everyone_but_the_body_s_officers(
    case, body, compliance_officer, mediator, consumer, agent, other_body, foreign_mediator
):
    foreign_officer = MembershipFactory(
        role=Role.COMPLIANCE_OFFICER, mediation_body=other_body, merchant=None
    ).user
    pages = [
        f"/compliance/{body.slug}/",
        f"/compliance/{body.slug}/breaches/",
        f"/compliance/{body.slug}/cases/",
        f"/compliance/{body.slug}/cases/{case.reference}/audit/",
    ]
    export = f"/compliance/{body.slug}/cases/{case.reference}/audit/export/"
    for page in pages:
        assert portal_for(compliance_officer).get(page).status_code == 200, page
    for outsider in (mediator, consumer, agent, foreign_officer, foreign_mediator):
        client = portal_for(outsider)
        for page in pages:
            assert client.get(page).status_code == 404, (outsider, page)
        assert client.post(export).status_code == 404
    anonymous = Portal()
    assert anonymous.get(pages[0]).status_code == 302
    assert anonymous.post(export).status_code == 302
    # The body's officer, asking for another body's case or a body that does not exist.
    foreign_merchant = MerchantFactory(mediation_body=other_body)
    foreign_agent = MembershipFactory(role=Role.MERCHANT_AGENT, merchant=foreign_merchant).user
    with travel(at(2026, 2, 2, 11)):
        foreign_case = referred_case(consumer, foreign_merchant, foreign_agent)
    client = portal_for(compliance_officer)
    assert client.get(f"/compliance/{body.slug}/cases/{foreign_case.reference}/audit/").status_code == 404
    assert (
        client.post(f"/compliance/{body.slug}/cases/{foreign_case.reference}/audit/export/").status_code
        == 404
    )
    assert client.get(f"/compliance/{other_body.slug}/").status_code == 404
    assert client.get("/compliance/nobody/").status_code == 404
    assert not GeneratedDocument.objects.exists()


# --- Aggregate queries only ---------------------------------------------------------------------------


def build(c: Cases, count: int) -> None:
    """`count` cases in 2025 in every situation: refused, open, breached (sweep), settled."""
    for index in range(count):
        case = c.refer(at(YEAR, 1 + index % 10, 1 + index % 27, 9))
        if index % 4 == 0:
            c.reject(case, at(YEAR, 1 + index % 10, 2 + index % 27, 9), RefusalReason.TIME_BARRED)
        elif index % 4 == 1:
            c.open(case, at(YEAR, 1 + index % 10, 2 + index % 27, 9))
        elif index % 4 == 3:
            c.settle(case, at(YEAR, 11, 1, 9), at(YEAR, 11, 2, 9), at(YEAR, 11, 3, 9))
    sweep_at(at(YEAR, 12, 31, 12))
    case_figures_refresh()


def test_d36_compliance_pages_take_a_constant_number_of_queries(
    consumer, merchant, agent, mediator, body, compliance_officer
):
    c = Cases(consumer, merchant, agent, mediator)
    client = portal_for(compliance_officer)
    pages = [
        (f"/compliance/{body.slug}/", {"year": YEAR}),
        (f"/compliance/{body.slug}/breaches/", {}),
        (f"/compliance/{body.slug}/cases/", {}),
    ]

    def queries():
        counts = []
        for url, query in pages:
            with travel(NOW), CaptureQueriesContext(connection) as captured:
                assert client.get(url, query).status_code == 200
            counts.append(len(captured.captured_queries))
        return counts

    build(c, 3)  # a refusal, an open case, a breach
    few = queries()
    build(c, 37)
    assert MediationCase.objects.count() == 40
    assert Deadline.objects.filter(status=DeadlineStatus.BREACHED).count() > 10
    assert queries() == few
