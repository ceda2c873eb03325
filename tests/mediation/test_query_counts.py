"""The case pages: at most 10 queries for every reader, the same whatever the case's size, and paged
where they grow.

Each page is measured on a case with one message of each kind and on one with more messages and
events than a page holds (so a query per row, or one per page of rows, shows as a difference), for
each person who reads it: the consumer and the merchant's agent (their case page and the complaint
page), the mediator (with a colleague to hand the case to) and the body's compliance officer (the
case's audit page). Then the pages are walked through their links: every message and event is on
exactly one page, in order, and a party never sees the other party's private messages on any page
(D20).
"""

import re
from datetime import date, datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from mediation.case_documents import case_document_add, case_document_comment
from mediation.models import Audience, CaseMessage
from mediation.queues import EVENTS_PAGE_SIZE, MESSAGES_PAGE_SIZE
from mediation.services import (
    case_add_representative,
    case_complete_file,
    case_disclose_conflict,
    case_extend,
    case_open,
    case_post_message,
    case_request_documents,
    proposal_issue,
)
from mediation.views.compliance import AUDIT_EVENTS_PAGE_SIZE
from odr.audit.models import AuditEvent
from tests.helpers import pdf_bytes, referred_case, travel

PARIS = ZoneInfo("Europe/Paris")
START = datetime(2026, 3, 2, 9, 0, tzinfo=PARIS)
NOW = datetime(2026, 5, 4, 10, 0, tzinfo=PARIS)
MAX_QUERIES = 10
MANY = 130  # more messages than a page holds (50), and more events than a timeline page

# Who writes, to whom, in turn: both joint and every private channel, from both directions.
SPEAKERS = (
    ("consumer", Audience.EVERYONE),
    ("agent", Audience.EVERYONE),
    ("mediator", Audience.CONSUMER_PRIVATE),
    ("mediator", Audience.MERCHANT_PRIVATE),
    ("consumer", Audience.CONSUMER_PRIVATE),
    ("agent", Audience.MERCHANT_PRIVATE),
    ("mediator", Audience.EVERYONE),
)


@pytest.fixture(autouse=True)
def _files(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ODR_SIGNING_KEYS_DIR = tmp_path / "signing-keys"


def build(people: dict, *, messages: int):
    """A case with every kind of record (documents requested, files and comments, a representative,
    a disclosure, an extension, a proposal) and `messages` messages, one minute apart."""
    moment = START

    def tick():
        nonlocal moment
        moment += timedelta(minutes=1)
        return travel(moment)

    consumer, agent, mediator = people["consumer"], people["agent"], people["mediator"]
    with tick():
        case = referred_case(consumer, people["merchant"], agent)
    with tick():
        case_request_documents(case=case, by=mediator, text="La facture, s'il vous plaît.")
    with tick():
        case_complete_file(case=case, by=mediator)
    with tick():
        case = case_open(case=case, by=mediator)
    with tick():
        case_add_representative(case=case, by=consumer, name="Me Durand", email="durand@example.test")
    with tick():
        case_disclose_conflict(case=case, by=mediator, text="J'ai été client de ce marchand.")
    with tick():
        case_extend(case=case, by=mediator, reason="Expertise nécessaire.", new_due_date=date(2026, 9, 1))
    for n, by in enumerate((consumer, agent)):
        with tick():
            file = case_document_add(
                case=case, by=by, file=ContentFile(pdf_bytes(f"Pièce {n}"), name=f"piece-{n}.pdf")
            )
        with tick():
            case_document_comment(case=case, by=consumer if n else agent, evidence=file, body=f"comment-{n}")
    for n in range(messages):
        role, audience = SPEAKERS[n % len(SPEAKERS)]
        with tick():
            case_post_message(case=case, by=people[role], body=f"msg-{n:04d}", audience=audience)
    with tick():
        proposal_issue(case=case, by=mediator, solution="Remboursement de 60 €.")
    return case


@pytest.fixture
def people(consumer, merchant, agent, mediator, second_mediator, compliance_officer):
    return {
        "consumer": consumer,
        "merchant": merchant,
        "agent": agent,
        "mediator": mediator,
        "compliance_officer": compliance_officer,
    }


@pytest.fixture
def small(people):
    return build(people, messages=len(SPEAKERS))


@pytest.fixture
def large(people, small):
    return build(people, messages=MANY)


def logged_in(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def get(client, url) -> str:
    with travel(NOW):
        response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


def queries(client, url) -> int:
    with travel(NOW), CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200, url
    return len(captured)


# The pages each reader has on a case.
PAGES = {
    "consumer": ("parties:case", "complaints:detail"),
    "agent": ("parties:case", "complaints:detail"),
    "mediator": ("mediator:case",),
    "compliance_officer": ("compliance:audit",),
}


def url_of(name: str, case, body) -> str:
    if name == "complaints:detail":
        return reverse(name, args=[case.complaint.reference])
    if name == "compliance:audit":
        return reverse(name, args=[body.slug, case.reference])
    return reverse(name, args=[case.reference])


@pytest.mark.parametrize("reader", list(PAGES))
def test_case_pages_take_at_most_ten_queries_whatever_the_size_of_the_case(
    reader, people, small, large, body
):
    assert CaseMessage.objects.filter(case=large, about__isnull=True).count() == MANY > MESSAGES_PAGE_SIZE
    streams = [large.reference, large.complaint.reference]
    assert AuditEvent.objects.filter(stream__in=streams).count() > 2 * EVENTS_PAGE_SIZE
    client = logged_in(people[reader])
    for name in PAGES[reader]:
        get(client, url_of(name, small, body))  # warm the per-process caches (content types)
        few = queries(client, url_of(name, small, body))
        many = queries(client, url_of(name, large, body))
        assert few == many, f"{name} for the {reader}: {few} queries on a small case, {many} on a large one"
        assert many <= MAX_QUERIES, f"{name} for the {reader}: {many} queries"


# --- Walking the pages ---------------------------------------------------------------------------------


def section(html: str, anchor: str) -> str:
    start = html.index(f'id="{anchor}"')
    return html[start : html.index("</section>", start)]


def link(part: str, rel: str) -> str | None:
    found = re.search(rf'<a href="([^"]+)" rel="{rel}">', part)
    return unescape(found.group(1)) if found else None


def walk(client, url: str, anchor: str, rel: str, pattern: str) -> list[list[str]]:
    """The rows matching `pattern` in section `anchor` of each page, following the `rel` links."""
    pages, seen = [], set()
    while url:
        assert url not in seen, "the links go round in circles"
        seen.add(url)
        part = section(get(client, url), anchor)
        pages.append(re.findall(pattern, part))
        following = link(part, rel)
        url = following and url.split("?")[0] + following.split("#")[0]
    return pages


def readable_by(reader: str, case) -> list[str]:
    """D20: the bodies of the conversation `reader` may read, oldest first, from the database."""
    messages = CaseMessage.objects.filter(case=case, about__isnull=True).order_by("sent_at", "pk")
    if reader == "consumer":
        messages = messages.filter(audience__in=[Audience.EVERYONE, Audience.CONSUMER_PRIVATE])
    elif reader == "agent":
        messages = messages.filter(audience__in=[Audience.EVERYONE, Audience.MERCHANT_PRIVATE])
    return list(messages.values_list("body", flat=True))


@pytest.mark.parametrize(
    "reader,page", [("mediator", "mediator:case"), ("consumer", "parties:case"), ("agent", "parties:case")]
)
def test_messages_are_paged_latest_first_each_once_and_d20_on_every_page(reader, page, people, large, body):
    client = logged_in(people[reader])
    first = get(client, url_of(page, large, body))
    # The form to write is on the page, after the conversation, as before paging.
    assert section(first, "messages").count("<form") == 1
    assert link(section(first, "messages"), "prev") is None  # the latest messages: nothing later

    pages = walk(client, url_of(page, large, body), "messages", "next", r"msg-\d{4}")

    expected = readable_by(reader, large)
    assert len(pages) > 1 and all(len(rows) <= MESSAGES_PAGE_SIZE for rows in pages)
    assert pages[0] == expected[-len(pages[0]) :], "the first page holds the latest messages, oldest first"
    every = [body for rows in reversed(pages) for body in rows]
    assert every == expected, "each message readable by the reader once, in order, on some page"
    if reader != "mediator":
        others = set(readable_by("mediator", large)) - set(expected)
        assert others and not others & set(every), "D20: another party's private message was shown"


def test_earlier_messages_link_back_to_later_ones(people, large, body):
    client = logged_in(people["mediator"])
    url = url_of("mediator:case", large, body)
    first = section(get(client, url), "messages")
    earlier = link(first, "next")
    second = section(get(client, url + earlier.split("#")[0]), "messages")
    assert earlier.endswith("#messages") and "Earlier messages" in first
    later = link(second, "prev")
    back = section(get(client, url + later.split("#")[0]), "messages")
    assert re.findall(r"msg-\d{4}", back) == re.findall(r"msg-\d{4}", first)


def test_the_mediator_timeline_is_paged_latest_first_with_every_event_once(people, large, body):
    client = logged_in(people["mediator"])
    pages = walk(
        client, url_of("mediator:case", large, body), "timeline", "next", r'<li><time datetime="([^"]+)"'
    )
    events = AuditEvent.objects.filter(stream__in=[large.reference, large.complaint.reference])
    assert len(pages) > 2 and all(len(rows) <= EVENTS_PAGE_SIZE for rows in pages)
    every = [moment for rows in reversed(pages) for moment in rows]
    assert len(every) == events.count()
    assert every == sorted(every), "the timeline reads oldest first across its pages"


def test_the_audit_page_shows_every_event_of_both_chains_once_in_chain_order(people, large, body):
    client = logged_in(people["compliance_officer"])
    url = url_of("compliance:audit", large, body)
    html = get(client, url)
    for stream in (large.complaint.reference, large.reference):  # both chains verified in full
        assert f'data-verdict="{stream}:ok"' in html

    pages = walk(client, url, "events", "next", r'title="([0-9a-f]{64})"')

    expected = list(
        AuditEvent.objects.filter(stream__in=[large.complaint.reference, large.reference])
        .order_by("stream", "seq")
        .values_list("hash", flat=True)
    )
    assert large.complaint.reference < large.reference  # the complaint's chain first
    assert len(pages) > 2 and all(len(rows) <= AUDIT_EVENTS_PAGE_SIZE for rows in pages)
    assert [event for rows in pages for event in rows] == expected


def test_a_broken_chain_links_to_the_page_of_its_first_broken_event(people, large, body):
    """D34: the table is paged, so the verdict links to the page that starts at the broken event."""
    from tests.odr.audit.test_chain import tamper

    late = AuditEvent.objects.filter(stream=large.reference).order_by("-seq")[3]
    tamper("UPDATE audit_auditevent SET payload = %s WHERE id = %s", ['{"body": "autre"}', late.pk])
    client = logged_in(people["compliance_officer"])
    url = url_of("compliance:audit", large, body)
    first = get(client, url)
    assert f'data-verdict="{large.reference}:broken:{late.seq}"' in first
    assert "first broken event</strong>" not in first  # far down the trail: not on the first page

    found = re.search(r'<a href="([^"]+)">Go to the event where the chain breaks</a>', first)
    shown = section(get(client, url + unescape(found.group(1)).split("#")[0]), "events")

    assert re.findall(r'title="([0-9a-f]{64})"', shown)[0] == late.hash
    assert shown.count("first broken event</strong>") == 1
