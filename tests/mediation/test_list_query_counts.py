"""The mediation lists are paged at a constant cost (issue 14): the mediator's workspace (each queue's
first cases, a bounded counter and a page per queue) and the compliance lists (cases, breaches, the
body's documents), which used Django's Paginator (a COUNT(*) and an OFFSET that grow with the table).

Page sizes are made small so that "many" stays quick to build. The query counts with few and with
many rows must be equal and at most six; the pages walked through their "Next" links give every row
once, in order, and only what the person may see (D30).
"""

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from mediation.models import MediationCase
from mediation.services import case_assign, case_open, case_request_documents, proposal_issue
from mediation.views import compliance as compliance_views
from mediation.views import mediator as mediator_views
from odr.accounts.models import Role
from odr.documents.models import DocumentKind, GeneratedDocument
from tests.factories import MembershipFactory, MerchantFactory
from tests.helpers import referred_case, travel
from tests.list_walk import MAX_LIST_QUERIES, logged_in, page_queries, walk

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 5, 4, 10, 0, tzinfo=PARIS)
CASE_LINK = r'href="/mediator/cases/(M-[^/"]+)/"'
CASE_ROW = r'<th scope="row" class="nowrap"><a href="/cases/(M-[^/"]+)/documents/"'
BREACH_ROW = r'data-breach="([^"]+)"'
QUEUES = ("new", "incomplete", "admissibility", "outcome", "overdue", "proposals")


@pytest.fixture(autouse=True)
def _small_pages(monkeypatch, settings, tmp_path):
    monkeypatch.setattr(mediator_views, "WORKSPACE_ROWS", 1)
    monkeypatch.setattr(mediator_views, "QUEUE_PAGE_SIZE", 2)
    monkeypatch.setattr(compliance_views, "PAGE_SIZE", 2)
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ODR_SIGNING_KEYS_DIR = tmp_path / "signing-keys"


def at(moment, action):
    with travel(moment):
        return action()


def refer(moment, consumer, merchant, agent):
    return at(moment, lambda: referred_case(consumer, merchant, agent))


@pytest.fixture
def desk(consumer, merchant, agent, mediator, second_mediator):
    """Three of the mediator's cases in every queue, referred at distinct moments, and a case a
    colleague has taken (which the mediator must not see)."""
    queues = {key: [] for key in QUEUES}
    for n in range(3):
        day = timedelta(days=n)
        queues["new"].append(refer(NOW - timedelta(days=10) + day, consumer, merchant, agent))
        adm = refer(NOW - timedelta(days=12) + day, consumer, merchant, agent)
        at(
            NOW - timedelta(days=11) + day,
            lambda adm=adm: case_assign(case=adm, by=mediator, mediator=mediator),
        )
        queues["admissibility"].append(adm)
        docs = refer(NOW - timedelta(days=15) + day, consumer, merchant, agent)
        at(
            NOW - timedelta(days=14) + day,
            lambda d=docs: case_request_documents(case=d, by=mediator, text="Facture"),
        )
        queues["incomplete"].append(docs)
        opened = refer(NOW - timedelta(days=40) + day, consumer, merchant, agent)
        queues["outcome"].append(
            at(NOW - timedelta(days=39) + day, lambda c=opened: case_open(case=c, by=mediator))
        )
        late = refer(NOW - timedelta(days=140) + day, consumer, merchant, agent)
        queues["overdue"].append(
            at(NOW - timedelta(days=139) + day, lambda c=late: case_open(case=c, by=mediator))
        )
        prop = refer(NOW - timedelta(days=30) + day, consumer, merchant, agent)
        prop = at(NOW - timedelta(days=29) + day, lambda c=prop: case_open(case=c, by=mediator))
        at(
            NOW - timedelta(days=3) + day,
            lambda c=prop: proposal_issue(case=c, by=mediator, solution="Avoir."),
        )
        queues["proposals"].append(prop)
    colleague = refer(NOW - timedelta(days=9), consumer, merchant, agent)
    at(
        NOW - timedelta(days=8),
        lambda: case_assign(case=colleague, by=second_mediator, mediator=second_mediator),
    )
    queues["colleague"] = colleague
    return {
        key: [MediationCase.objects.get(pk=c.pk) for c in cases] if key != "colleague" else cases
        for key, cases in queues.items()
    }


@pytest.fixture
def small_desk(other_body, consumer):
    """Another body with one referral, and its mediator and compliance officer."""
    merchant = MerchantFactory(mediation_body=other_body)
    agent = MembershipFactory(role=Role.MERCHANT_AGENT, merchant=merchant).user
    refer(NOW - timedelta(days=10), consumer, merchant, agent)
    return {
        "mediator": MembershipFactory(role=Role.MEDIATOR, mediation_body=other_body, merchant=None).user,
        "officer": MembershipFactory(
            role=Role.COMPLIANCE_OFFICER, mediation_body=other_body, merchant=None
        ).user,
        "body": other_body,
    }


def queue_order(key, cases):
    date = {
        "new": "admissibility_due_at",
        "admissibility": "admissibility_due_at",
        "incomplete": "referred_at",
        "outcome": "outcome_due_at",
        "overdue": "outcome_due_at",
        "proposals": "proposal_due_at",
    }[key]
    return [c.reference for c in sorted(cases, key=lambda c: (getattr(c, date), c.pk))]


def test_workspace_costs_the_same_with_one_case_and_with_queues_longer_than_shown(desk, mediator, small_desk):
    with travel(NOW):
        few, _html = page_queries(logged_in(small_desk["mediator"]), "/mediator/")
        many, html = page_queries(logged_in(mediator), "/mediator/")

    assert few == many <= MAX_LIST_QUERIES, f"workspace: {few} queries for 1 case, {many} for 18"
    shown = re.findall(CASE_LINK, html)
    assert len(shown) == 6  # the first case of each queue
    for key in QUEUES:
        assert queue_order(key, desk[key])[0] in shown, key
        assert f'href="?queue={key}"' in html, key
    assert html.count('<span class="muted">(3)</span>') == 6
    assert desk["colleague"].reference not in html


@pytest.mark.parametrize("key", QUEUES)
def test_each_queue_walks_to_the_end_by_due_date(desk, mediator, key):
    with travel(NOW):
        found, queries = walk(logged_in(mediator), f"/mediator/?queue={key}", CASE_LINK)
    assert found == queue_order(key, desk[key])
    assert len(queries) == 2 and len(set(queries)) == 1 and queries[0] <= MAX_LIST_QUERIES


def test_d30_a_queue_page_never_shows_a_colleagues_case_or_another_bodys(desk, second_mediator, small_desk):
    with travel(NOW):
        theirs, _queries = walk(logged_in(second_mediator), "/mediator/?queue=admissibility", CASE_LINK)
        foreign, _queries = walk(logged_in(small_desk["mediator"]), "/mediator/?queue=new", CASE_LINK)
    assert theirs == [desk["colleague"].reference]
    assert len(foreign) == 1 and not set(foreign) & {
        c.reference for cases in desk.values() if isinstance(cases, list) for c in cases
    }


# --- The compliance lists ---------------------------------------------------------------------------


def test_compliance_cases_cost_the_same_few_or_many_and_walk_newest_first(
    desk, body, compliance_officer, small_desk
):
    url = f"/compliance/{body.slug}/cases/"
    with travel(NOW):
        few, _html = page_queries(
            logged_in(small_desk["officer"]), f"/compliance/{small_desk['body'].slug}/cases/"
        )
        many, html = page_queries(logged_in(compliance_officer), url)
        found, queries = walk(logged_in(compliance_officer), url, CASE_ROW)
    everything = MediationCase.objects.filter(mediation_body=body).order_by("-referred_at", "-pk")
    assert few == many <= MAX_LIST_QUERIES, f"cases: {few} queries for 1 case, {many} for 19"
    assert "19 cases." in html
    assert found == [c.reference for c in everything]
    assert len(queries) == 10 and len(set(queries)) == 1
    # Filtered by state: the filter stays in the links.
    with travel(NOW):
        opened, _queries = walk(logged_in(compliance_officer), url + "?state=open", CASE_ROW)
    assert opened == [c.reference for c in everything.filter(state="open")]


def test_compliance_breaches_cost_the_same_few_or_many_and_walk_by_due_date(
    desk, body, compliance_officer, small_desk
):
    url = f"/compliance/{body.slug}/breaches/"
    with travel(NOW):
        few, _html = page_queries(
            logged_in(small_desk["officer"]), f"/compliance/{small_desk['body'].slug}/breaches/"
        )
        many, html = page_queries(logged_in(compliance_officer), url)
        newest, queries = walk(logged_in(compliance_officer), url, BREACH_ROW)
        oldest, _queries = walk(logged_in(compliance_officer), url + "?sort=due", BREACH_ROW)
    assert few == many <= MAX_LIST_QUERIES, f"breaches: {few} queries for none, {many} for many"
    assert len(newest) > 2 and len(set(queries)) == 1
    assert newest == oldest[::-1] and len(set(newest)) == len(newest)
    assert f"{len(newest)} breaches." in html  # the bounded counter, below its bound: exact


def test_body_documents_are_paged_newest_first(body, compliance_officer, small_desk):
    reference = f"B-{body.slug}"
    for n in range(5):
        GeneratedDocument.objects.create(
            kind=DocumentKind.ANNUAL_REPORT,
            subject_reference=reference,
            requested_by=compliance_officer,
            requested_at=NOW - timedelta(days=n),
            parameters={"body": body.slug, "year": 2020 + n},
        )
    url = f"/compliance/{body.slug}/documents/"
    with travel(NOW):
        few, _html = page_queries(
            logged_in(small_desk["officer"]), f"/compliance/{small_desk['body'].slug}/documents/"
        )
        many, _html = page_queries(logged_in(compliance_officer), url)
        years, queries = walk(
            logged_in(compliance_officer), url, r"<strong>Annual activity report</strong> (\d{4})"
        )
    assert few == many <= MAX_LIST_QUERIES
    assert years == ["2020", "2021", "2022", "2023", "2024"] and len(set(queries)) == 1


def test_d30_compliance_lists_are_for_the_bodys_officers_only(body, small_desk, mediator):
    for who in (small_desk["officer"], mediator):
        for page in ("cases", "breaches", "documents"):
            assert logged_in(who).get(f"/compliance/{body.slug}/{page}/").status_code == 404
