"""D36 (C. consom. R614-2 1°–8°, Dir. 2013/11/EU art. 7(2)): the annual activity report.

A year of cases is built through the services, each step at its own moment (Europe/Paris), and the
report's figures are asserted exactly; then the PDF/A is rendered by the command and read back.
"""

import hashlib
import io
import json
import shutil
import subprocess
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pikepdf
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from complaints.models import Category
from complaints.services import complaint_answer
from mediation.models import MediationCase, RefusalReason
from mediation.reports import (
    annual_report_figures,
    annual_report_spec,
    bar_chart_svg,
    hbar_chart_svg,
    report_period,
)
from mediation.services import (
    case_extend,
    case_merchant_decline,
    case_open,
    case_record_compliance,
    case_refer,
    case_reject,
    case_withdraw,
    proposal_issue,
    proposal_respond,
)
from odr import clock
from odr.accounts.models import MediationBody, Role
from odr.documents.models import DocumentKind, GeneratedDocument
from tests.factories import MembershipFactory, MerchantFactory
from tests.helpers import file_complaint, travel

PARIS = ZoneInfo("Europe/Paris")
YEAR = 2025

pytestmark = pytest.mark.django_db


def at(*args):
    return datetime(*args, tzinfo=PARIS)


class Year:
    """Builds cases for one consumer, merchant and mediator, each step at its moment."""

    def __init__(self, consumer, merchant, agent, mediator):
        self.consumer, self.merchant, self.agent, self.mediator = consumer, merchant, agent, mediator

    def refer(self, moment, category, **complaint):
        with travel(moment):
            filed = file_complaint(self.consumer, self.merchant, category=category, **complaint)
            complaint_answer(complaint=filed, by=self.agent, decision="reject", text="Nous refusons.")
            return case_refer(
                complaint=filed, by=self.consumer, other_proceedings=False, acting_as_consumer=True
            )

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
        return case

    def reject(self, case, moment, reason):
        with travel(moment):
            return case_reject(case=case, by=self.mediator, reason=reason, reasoning="Motif écrit.")


@pytest.fixture
def year_of_cases(consumer, merchant, agent, mediator, other_body):
    """Fourteen disputes referred in 2025 (Paris time), one just after, one to another body.

    Durations (calendar days from the saisine day to the closure day): A 16, B 21, N 90, F 45, O 98,
    H 100, I 23, J 14 → average 407 / 8 = 50.875.
    """
    y = Year(consumer, merchant, agent, mediator)
    # M: 1 January 00:30 in Paris is still 2024 in UTC: it belongs to 2025. Left received.
    y.refer(at(2025, 1, 1, 0, 30), Category.NON_DELIVERY)
    # A: settled; the merchant complied (D29).
    a = y.settle(
        y.refer(at(2025, 1, 15, 9), Category.NON_DELIVERY),
        at(2025, 1, 20, 10),
        at(2025, 2, 1, 10),
        at(2025, 2, 5, 16),
    )
    with travel(at(2025, 3, 10, 12)):
        case_record_compliance(case=a, by=consumer, complied=True)
    # B: no agreement, the merchant refused (the consumer had not answered): in favour of the consumer.
    b = y.open(y.refer(at(2025, 2, 10, 9), Category.DELIVERY_DELAY), at(2025, 2, 12, 10))
    y.answer(y.propose(b, at(2025, 3, 1, 10)), at(2025, 3, 5, 10), merchant=False)
    # N: settled on the 90th day after the saisine day: on time, bucket 61–90.
    y.settle(
        y.refer(at(2025, 2, 25, 9), Category.DELIVERY_DELAY),
        at(2025, 3, 1, 10),
        at(2025, 5, 20, 10),
        at(2025, 5, 30, 18),
    )
    # C, D, E: refused (D11).
    y.reject(
        y.refer(at(2025, 3, 3, 9), Category.NON_DELIVERY), at(2025, 3, 10, 9), RefusalReason.ALREADY_EXAMINED
    )
    y.reject(y.refer(at(2025, 3, 20, 9), Category.BILLING), at(2025, 3, 25, 9), RefusalReason.TIME_BARRED)
    y.reject(
        y.refer(at(2025, 4, 2, 9), Category.NON_DELIVERY), at(2025, 4, 9, 9), RefusalReason.ALREADY_EXAMINED
    )
    # F: the consumer withdrew after the saisine (D19).
    f = y.open(y.refer(at(2025, 5, 5, 9), Category.GUARANTEE), at(2025, 5, 6, 10))
    with travel(at(2025, 6, 20, 10)):
        case_withdraw(case=f, by=consumer, reason="Accord trouvé.")
    # G: the merchant declined before the saisine (D23).
    g = y.refer(at(2025, 6, 1, 9), Category.NON_CONFORMITY)
    with travel(at(2025, 6, 3, 9)):
        case_merchant_decline(case=g, by=agent, reason="Nous ne participons pas.")
    # O: settled 98 days after the saisine, without extension: past the limit and the due date.
    y.settle(
        y.refer(at(2025, 6, 8, 9), Category.DELIVERY_DELAY),
        at(2025, 6, 10, 10),
        at(2025, 9, 15, 10),
        at(2025, 9, 16, 10),
    )
    # H: extended (D17), then no agreement 100 days after the saisine: the consumer refused.
    h = y.open(y.refer(at(2025, 7, 1, 9), Category.WITHDRAWAL_REFUND), at(2025, 7, 2, 10))
    with travel(at(2025, 9, 1, 10)):
        case_extend(case=h, by=mediator, reason="Expertise technique.", new_due_date=date(2025, 10, 31))
    y.answer(y.propose(h, at(2025, 10, 1, 10)), at(2025, 10, 10, 10), consumer=False)
    # I: cross-border (a consumer in Belgium), settled; the merchant did not comply.
    i = y.settle(
        y.refer(at(2025, 8, 10, 9), Category.NON_CONFORMITY, consumer_country="BE"),
        at(2025, 8, 11, 10),
        at(2025, 9, 1, 10),
        at(2025, 9, 3, 10),
    )
    with travel(at(2025, 10, 10, 12)):
        case_record_compliance(case=i, by=consumer, complied=False)
    # J: the merchant withdrew after the saisine.
    j = y.open(y.refer(at(2025, 10, 5, 9), Category.BILLING), at(2025, 10, 6, 10))
    with travel(at(2025, 10, 20, 10)):
        case_withdraw(case=j, by=agent)
    # K: 31 December 23:30 in Paris (22:30 UTC): December 2025, still received.
    y.refer(at(2025, 12, 31, 23, 30), Category.NON_DELIVERY)
    # L: 1 January 2026 00:30 in Paris is 2025 in UTC, but not in the body's year: left out.
    y.refer(at(2026, 1, 1, 0, 30), Category.OTHER)
    # Another body's case, referred in 2025: left out.
    foreign_merchant = MerchantFactory(mediation_body=other_body)
    foreign_agent = MembershipFactory(role=Role.MERCHANT_AGENT, merchant=foreign_merchant).user
    Year(consumer, foreign_merchant, foreign_agent, None).refer(at(2025, 5, 5, 9), Category.OTHER)
    return merchant.mediation_body


def test_d36_figures_count_the_disputes_referred_in_the_body_year(year_of_cases):
    figures = annual_report_figures(body=year_of_cases, year=YEAR)

    assert figures["received"] == 14
    assert figures["period_start"] == "2025-01-01" and figures["period_end"] == "2025-12-31"
    assert figures["by_month"] == [2, 2, 2, 1, 1, 2, 1, 1, 0, 1, 0, 1]
    assert figures["opened"] == 8
    assert figures["in_progress"] == 2
    assert figures["closed"] == {
        "settled": 4,
        "no_agreement": 2,
        "discontinued": 2,
        "merchant_declined": 1,
        "rejected": 3,
        "total": 12,
    }


def test_d36_subjects_and_most_frequent_problems(year_of_cases):
    figures = annual_report_figures(body=year_of_cases, year=YEAR)

    assert figures["by_category"] == {
        "delivery_delay": 3,
        "non_delivery": 5,
        "non_conformity": 2,
        "withdrawal_refund": 1,
        "guarantee": 1,
        "billing": 2,
        "other": 0,
    }
    assert figures["top_categories"] == [  # ties in the order of the categories
        {"category": "non_delivery", "count": 5, "percent": 35.7},
        {"category": "delivery_delay", "count": 3, "percent": 21.4},
        {"category": "non_conformity", "count": 2, "percent": 14.3},
    ]


def test_d36_d11_share_refused_and_percentage_per_reason(year_of_cases):
    refused = annual_report_figures(body=year_of_cases, year=YEAR)["refused"]

    assert (refused["count"], refused["percent"]) == (3, 21.4)
    assert refused["by_reason"] == {
        "no_prior_complaint": {"count": 0, "percent": 0.0},
        "unfounded_or_abusive": {"count": 0, "percent": 0.0},
        "already_examined": {"count": 2, "percent": 66.7},
        "time_barred": {"count": 1, "percent": 33.3},
        "out_of_competence": {"count": 0, "percent": 0.0},
    }


def test_d36_d19_d23_discontinued_and_declined_with_their_causes(year_of_cases):
    figures = annual_report_figures(body=year_of_cases, year=YEAR)

    assert figures["discontinued"] == {
        "count": 2,
        "percent": 14.3,
        "by_consumer": 1,
        "by_merchant": 1,
        "before_saisine": 0,
        "after_saisine": 2,
    }
    assert figures["merchant_declined"] == {
        "count": 1,
        "percent": 7.1,
        "before_saisine": 1,
        "after_saisine": 0,
    }


def test_d36_d16_average_duration_and_buckets_against_the_90_day_limit(year_of_cases):
    duration = annual_report_figures(body=year_of_cases, year=YEAR)["duration"]

    assert duration == {
        "closed_after_saisine": 8,
        "average_days": 50.9,  # 407 / 8
        "buckets": {"0-30": 4, "31-60": 1, "61-90": 1, "over_90": 2},  # day 90 is on time
        "past_90_days": 2,
        "past_90_days_extended": 1,  # D17
        "closed_after_due_date": 1,  # the one not extended
        "extended": 1,
    }


def test_d36_d29_compliance_rate_where_known(year_of_cases):
    compliance = annual_report_figures(body=year_of_cases, year=YEAR)["compliance"]

    assert compliance == {"settled": 4, "known": 2, "complied": 1, "not_complied": 1, "percent": 50.0}


def test_d36_cross_border_cases(year_of_cases):
    assert annual_report_figures(body=year_of_cases, year=YEAR)["cross_border"] == {
        "count": 1,
        "percent": 7.1,
    }


def test_d36_in_favour_shares_only_for_a_mediator_paid_by_a_single_merchant(year_of_cases):
    assert annual_report_figures(body=year_of_cases, year=YEAR)["single_merchant"] is None

    year_of_cases.paid_by_single_merchant = True
    assert annual_report_figures(body=year_of_cases, year=YEAR)["single_merchant"] == {
        "proposals_with_outcome": 6,
        "in_favour_of_consumer": {"count": 1, "percent": 16.7},  # the merchant refused
        "in_favour_of_merchant": {"count": 1, "percent": 16.7},  # the consumer refused
        "undetermined": {"count": 4, "percent": 66.7},  # the four settlements
        "settled_amicably": {"count": 4, "percent": 50.0},  # of the 8 closed after a saisine
    }


def test_d36_a_year_without_cases_gives_zeros_and_no_division_by_zero(body):
    figures = annual_report_figures(body=body, year=YEAR)

    assert figures["received"] == 0 and figures["by_month"] == [0] * 12
    assert figures["refused"]["percent"] is None
    assert figures["refused"]["by_reason"]["time_barred"] == {"count": 0, "percent": None}
    assert figures["duration"]["average_days"] is None
    assert figures["compliance"]["percent"] is None
    assert figures["top_categories"] == []
    json.dumps(figures)  # plain data


def test_d36_figures_take_a_constant_number_of_queries(consumer, merchant, agent, mediator):
    y = Year(consumer, merchant, agent, mediator)
    body = merchant.mediation_body

    def build(count, first_month):
        for index in range(count):
            case = y.refer(at(YEAR, first_month + index % 6, 3 + index, 9), Category.BILLING)
            if index % 2:
                y.settle(case, at(YEAR, 7, 1, 9), at(YEAR, 7, 2, 9), at(YEAR, 7, 3, 9))

    def queries():
        with CaptureQueriesContext(connection) as captured:
            annual_report_figures(body=body, year=YEAR)
        return len(captured.captured_queries)

    build(2, 1)
    with_two = queries()
    build(10, 1)
    assert MediationCase.objects.count() == 12
    assert queries() == with_two == 2


def test_d36_charts_are_accessible_and_escape_their_text():
    chart = bar_chart_svg(
        chart_id="c", title='Cases <script>alert("x")</script>', labels=["<b>", "a & b"], values=[1, 2]
    )
    assert chart.startswith("<svg") and 'role="img"' in chart
    assert '<title id="c-title">Cases &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;</title>' in chart
    assert "&lt;b&gt;" in chart and "a &amp; b" in chart and "<script>" not in chart
    bars = hbar_chart_svg(chart_id="h", title="T", rows=[("<i>", 3, "3 (100 %)")])
    assert "&lt;i&gt;" in bars and "<i>" not in bars


def test_d36_d37_spec_renders_the_report_with_its_figures_attached(year_of_cases):
    document = GeneratedDocument(
        kind=DocumentKind.ANNUAL_REPORT,
        subject_reference=f"B-{year_of_cases.slug}",
        parameters={"body": year_of_cases.slug, "year": YEAR},
        language="en",
        requested_at=clock.now(),
    )
    spec = annual_report_spec(document)

    assert spec.template == "pdf/annual_report.html"
    assert spec.filename == "annual-report-mediateur-ecommerce-2025.pdf"
    assert spec.time_zone == "Europe/Paris" and spec.audit_stream == ""
    assert spec.context["issuer"] == year_of_cases.name
    [attachment] = spec.attachments
    assert attachment.name == "figures.json"
    assert json.loads(attachment.content) == annual_report_figures(body=year_of_cases, year=YEAR)
    assert set(spec.context["charts"]) == {"months", "refusals", "durations", "outcomes"}
    assert "90-day limit" in spec.context["charts"]["durations"]


def _render(tmp_path, body_slug, year, language="en"):
    out = tmp_path / f"report-{year}.pdf"
    stdout = io.StringIO()
    call_command("annual_report", body=body_slug, year=year, out=str(out), language=language, stdout=stdout)
    return out, stdout.getvalue()


def _text(path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("needs poppler-utils (pdftotext); .ci/run installs it")
    text = subprocess.run(["pdftotext", "-layout", path, "-"], check=True, capture_output=True).stdout
    return " ".join(text.decode().split())


def test_d36_d37_command_renders_the_report_as_pdf_a_with_its_figures(year_of_cases, tmp_path):
    year_of_cases.paid_by_single_merchant = True
    year_of_cases.save()
    path, output = _render(tmp_path, year_of_cases.slug, YEAR)

    data = path.read_bytes()
    assert output.splitlines()[0] == str(path)
    assert f"SHA-256: {hashlib.sha256(data).hexdigest()}" in output
    with pikepdf.open(path) as pdf:
        assert f"Pages: {len(pdf.pages)}" in output
        assert 2 <= len(pdf.pages) <= 4
        assert pdf.open_metadata().get("pdfaid:part") == "3"
        assert list(pdf.attachments) == ["figures.json"]
        embedded = json.loads(pdf.attachments["figures.json"].get_file().read_bytes())
    assert embedded == annual_report_figures(body=year_of_cases, year=YEAR)

    text = _text(path)
    for heading in (
        "Annual activity report 2025",
        "1° Number of disputes received and their subjects",
        "2° Most frequent problems",
        "3° Disputes refused and grounds for refusal",
        "4° Mediations discontinued and main causes",
        "5° Average duration of the mediations",
        "6° Compliance with the outcomes",
        "7° Cross-border disputes and cooperation within networks of mediators",
        "8° Outcomes in favour of each party and amicable settlements",
        "About these figures",
    ):
        assert heading in text
    assert "14 disputes were referred to the mediator in 2025." in text
    assert "50.9 days" in text
    assert "21.4 %" in text and "2 (66.7 %)" in text and "1 (33.3 %)" in text  # refusals
    assert "Compliance rate, where known 50.0 %" in text
    assert "Cross-border disputes (consumer and merchant in different countries) 1 (7.1 %)" in text
    assert "In favour of the consumer (approximation) 1 (16.7 %)" in text
    assert "90-day limit" in text  # the chart's text is real text too
    assert "Médiateur du e-commerce" in text

    subprocess.run(
        ["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", path, tmp_path / "page"], check=True
    )
    [png] = tmp_path.glob("page*.png")
    assert png.read_bytes().startswith(b"\x89PNG")


def test_d36_command_says_0_for_a_year_without_cases_and_refuses_an_unknown_body(body, tmp_path):
    path, _output = _render(tmp_path, body.slug, 2024)
    with pikepdf.open(path) as pdf:
        assert json.loads(pdf.attachments["figures.json"].get_file().read_bytes())["received"] == 0
    text = _text(path)
    assert "0 disputes were referred to the mediator in 2024." in text
    assert "Not computable" in text

    with pytest.raises(CommandError, match="No mediation body 'nobody'"):
        _render(tmp_path, "nobody", 2024)
    with pytest.raises(CommandError, match="year"):
        _render(tmp_path, body.slug, clock.now().year + 1)


def test_d36_command_on_the_demo_data(tmp_path):
    call_command("seed_demo", stdout=io.StringIO())
    body = MediationBody.objects.get(slug="demo")
    year = clock.now().astimezone(PARIS).year

    path, output = _render(tmp_path, "demo", year, language="fr")

    with pikepdf.open(path) as pdf:
        assert pdf.open_metadata().get("pdfaid:part") == "3"
        figures = json.loads(pdf.attachments["figures.json"].get_file().read_bytes())
    assert figures == annual_report_figures(body=body, year=year)
    start, end = report_period(body, year)
    in_year = MediationCase.objects.filter(referred_at__gte=start, referred_at__lt=end).count()
    assert figures["received"] == in_year
    assert "Pages:" in output
