"""The complaints' lists are paged at a constant cost (issue 14): the merchant dashboard (each list's
first rows, a bounded counter and a "see all" page per list) and the consumer's "My cases".

Page sizes are made small here so that "many" (more rows than a page) stays quick to build; the query
counts with few and with many rows must be equal and at most six, and the pages walked through their
"Next" links give every row once, in the list's order, and only the person's own.
"""

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from complaints.models import Complaint, ComplaintState
from complaints.services import complaint_answer
from complaints.views import consumer as consumer_views
from complaints.views import merchant as merchant_views
from mediation.services import case_refer
from tests.factories import UserFactory
from tests.helpers import file_complaint, travel
from tests.list_walk import MAX_LIST_QUERIES, logged_in, page_queries, walk

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 5, 4, 11, 0, tzinfo=PARIS)
COMPLAINT_LINK = r'href="/complaints/(C-[^/"]+)/"'
CASE_LINK = r'href="/cases/(M-[^/"]+)/"'


@pytest.fixture(autouse=True)
def _small_pages(monkeypatch, settings, tmp_path):
    monkeypatch.setattr(merchant_views, "DASHBOARD_ROWS", 2)
    monkeypatch.setattr(merchant_views, "PAGE_SIZE", 2)
    monkeypatch.setattr(consumer_views, "PAGE_SIZE", 2)
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ODR_SIGNING_KEYS_DIR = tmp_path / "signing-keys"


def filed(moment, consumer, merchant, n=0):
    with travel(moment):
        return file_complaint(consumer, merchant, order_reference=f"CMD-{7000 + n}")


@pytest.fixture
def busy_merchant(other_merchant, other_agent):
    """Three complaints in every list of `other_merchant`'s dashboard, filed at distinct moments."""
    consumers = [UserFactory() for _ in range(3)]
    lists = {name: [] for name in merchant_views.MERCHANT_SECTIONS}
    for n in range(3):
        who = consumers[n]
        lists["overdue"].append(filed(NOW - timedelta(days=40, hours=n), who, other_merchant, n))
        lists["due_soon"].append(filed(NOW - timedelta(days=26, hours=n), who, other_merchant, 10 + n))
        lists["waiting"].append(filed(NOW - timedelta(days=2, hours=n), who, other_merchant, 20 + n))
        answered = filed(NOW - timedelta(days=10, hours=n), who, other_merchant, 30 + n)
        with travel(NOW - timedelta(days=9, hours=n)):
            complaint_answer(
                complaint=answered, by=other_agent, decision="offer", text="Avoir.", amount_cents=900
            )
        lists["answered"].append(answered)
        referred = filed(NOW - timedelta(days=20, hours=n), who, other_merchant, 40 + n)
        with travel(NOW - timedelta(days=19, hours=n)):
            complaint_answer(complaint=referred, by=other_agent, decision="reject", text="Nous refusons.")
            case_refer(complaint=referred, by=who, other_proceedings=False, acting_as_consumer=True)
        lists["in_mediation"].append(referred)
    return lists


def test_merchant_dashboard_costs_the_same_with_one_complaint_and_with_lists_longer_than_shown(
    merchant, agent, other_agent, consumer, busy_merchant
):
    filed(NOW - timedelta(days=3), consumer, merchant)
    with travel(NOW):
        few, _html = page_queries(logged_in(agent), "/merchant/")
        many, html = page_queries(logged_in(other_agent), "/merchant/")

    assert few == many <= MAX_LIST_QUERIES, f"dashboard: {few} queries for 1 complaint, {many} for 15"
    # Each list shows its first two rows (most urgent first), its count, and a link to all of it.
    shown = re.findall(COMPLAINT_LINK, html)
    for name in ("overdue", "due_soon", "waiting", "answered"):
        ordered = sorted(busy_merchant[name], key=lambda c: (c.response_due_at, c.pk))
        assert [c.reference for c in ordered[:2]] == [r for r in shown if r in {c.reference for c in ordered}]
        assert f'href="?section={name}"' in html
    assert len(re.findall(CASE_LINK, html)) == 2 and 'href="?section=in_mediation"' in html
    assert html.count('<span class="muted">(3)</span>') == 4  # the mediations are not counted


@pytest.mark.parametrize("section", ["overdue", "due_soon", "waiting", "answered"])
def test_merchant_list_pages_walk_to_the_end_in_due_order(busy_merchant, other_agent, section):
    expected = [c.reference for c in sorted(busy_merchant[section], key=lambda c: (c.response_due_at, c.pk))]
    with travel(NOW):
        found, queries = walk(logged_in(other_agent), f"/merchant/?section={section}", COMPLAINT_LINK)
    assert found == expected
    assert len(queries) == 2 and len(set(queries)) == 1 and queries[0] <= MAX_LIST_QUERIES


def test_merchant_in_mediation_list_walks_newest_first(busy_merchant, other_agent):
    expected = [
        c.mediation_case.reference
        for c in sorted(busy_merchant["in_mediation"], key=lambda c: (c.filed_at, c.pk), reverse=True)
    ]
    with travel(NOW):
        found, queries = walk(logged_in(other_agent), "/merchant/?section=in_mediation", CASE_LINK)
    assert found == expected and len(set(queries)) == 1


def test_d30_a_merchant_list_shows_only_the_merchants_own_complaints(
    busy_merchant, merchant, agent, consumer
):
    own = filed(NOW - timedelta(days=40), consumer, merchant)
    with travel(NOW):
        found, _queries = walk(logged_in(agent), "/merchant/?section=overdue", COMPLAINT_LINK)
        _count, dashboard = page_queries(logged_in(agent), "/merchant/")
    assert found == [own.reference]
    others = {c.reference for complaints in busy_merchant.values() for c in complaints}
    assert not others & set(re.findall(COMPLAINT_LINK, dashboard))


def test_an_unknown_section_or_cursor_gives_the_dashboard_or_the_first_page(busy_merchant, other_agent):
    client = logged_in(other_agent)
    with travel(NOW):
        assert client.get("/merchant/?section=everything").templates[0].name == "merchant/dashboard.html"
        first = re.findall(COMPLAINT_LINK, client.get("/merchant/?section=overdue").content.decode())
        garbled = client.get("/merchant/?section=overdue&after=not-a-cursor")
    assert garbled.status_code == 200 and re.findall(COMPLAINT_LINK, garbled.content.decode()) == first


# --- "My cases" ----------------------------------------------------------------------------------------


def test_my_cases_costs_the_same_with_one_and_with_many_complaints_and_walks_newest_first(
    merchant, other_merchant, consumer, other_consumer
):
    one = UserFactory()
    filed(NOW - timedelta(days=1), one, merchant)
    mine = [
        filed(NOW - timedelta(days=30 - n), consumer, (merchant, other_merchant)[n % 2], n) for n in range(5)
    ]
    theirs = [filed(NOW - timedelta(days=20 - n), other_consumer, merchant, 50 + n) for n in range(2)]

    with travel(NOW):
        few, _html = page_queries(logged_in(one), "/complaints/")
        many, html = page_queries(logged_in(consumer), "/complaints/")
        found, queries = walk(logged_in(consumer), "/complaints/", COMPLAINT_LINK)

    assert few == many <= MAX_LIST_QUERIES, f"My cases: {few} queries for 1 complaint, {many} for 5"
    assert len(re.findall(COMPLAINT_LINK, html)) == 2 and 'rel="next"' in html
    assert found == [c.reference for c in reversed(mine)]  # newest first, each once
    assert len(queries) == 3 and len(set(queries)) == 1
    assert not {c.reference for c in theirs} & set(found)
    assert Complaint.objects.filter(consumer=consumer, state=ComplaintState.FILED).count() == 5


def test_my_cases_walks_back_with_previous_links(merchant, consumer):
    mine = [filed(NOW - timedelta(days=30 - n), consumer, merchant, n) for n in range(5)]
    client = logged_in(consumer)
    with travel(NOW):
        first = client.get("/complaints/").content.decode()
        second_url = "/complaints/" + re.search(r'<a href="([^"]*)" rel="next"', first).group(1)
        second = client.get(second_url.replace("&amp;", "&")).content.decode()
        back_url = "/complaints/" + re.search(r'<a href="([^"]*)" rel="prev"', second).group(1)
        back = client.get(back_url.replace("&amp;", "&")).content.decode()
    newest = [c.reference for c in reversed(mine)]
    assert re.findall(COMPLAINT_LINK, second) == newest[2:4]
    assert re.findall(COMPLAINT_LINK, back) == newest[:2]
