"""The lists and the complaint page issue the same number of SQL queries whatever their size, the
complaint page at most 10, its messages and timeline paged.

"My cases" with 1 and 50 complaints, the merchant dashboard with 1 and 50 open complaints, and the
complaint page with its first events only and with more than 300 (messages, offers, files), for the
consumer and for the merchant's agent. The counts must be equal, not merely close: a query per row
shows up here as a difference of 49 or 300.
"""

import re
from datetime import datetime, timedelta
from html import unescape
from itertools import cycle
from zoneinfo import ZoneInfo

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import formats
from django.utils.timezone import localtime

from complaints.evidence import evidence_add
from complaints.models import Category, ComplaintState
from complaints.selectors import EVENTS_PAGE_SIZE, MESSAGES_PAGE_SIZE
from complaints.services import (
    complaint_answer,
    complaint_post_message,
    complaint_withdraw,
    offer_make,
    offer_respond,
    offer_withdraw,
)
from mediation.services import case_refer
from odr.audit.models import AuditEvent
from odr.documents.models import DocumentKind, GeneratedDocument
from tests.factories import UserFactory
from tests.helpers import file_complaint, pdf_bytes, travel

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 5, 4, 11, 0, tzinfo=PARIS)

CATEGORIES = cycle(Category.values)
DESCRIPTIONS = cycle(
    [
        "Commande d'un lave-linge payée 549 €, livraison annoncée le 12 avril, toujours rien.",
        "Le canapé livré n'a pas la couleur commandée (gris anthracite au lieu de bleu canard).",
        "Rétractation envoyée dans les 14 jours, remboursement jamais reçu.",
        "Téléphone tombé en panne au bout de trois mois, la garantie légale m'est refusée.",
        "Prélèvement en double sur ma carte pour l'abonnement de mars.",
    ]
)


@pytest.fixture(autouse=True)
def _files(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ODR_SIGNING_KEYS_DIR = tmp_path / "signing-keys"


def file_at(moment, consumer, merchant, **fields):
    with travel(moment):
        return file_complaint(
            consumer, merchant, category=next(CATEGORIES), description=next(DESCRIPTIONS), **fields
        )


def logged_in(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def queries(client, url) -> int:
    """The queries one page view issues, the page rendered in full."""
    with travel(NOW), CaptureQueriesContext(connection) as captured:
        response = client.get(url)
        assert response.status_code == 200, url
    return len(captured)


def measure(client, small_url, large_url, *, large_client=None) -> tuple[int, int]:
    """Queries for the small page, then for the large one (seen by `large_client`, if another)."""
    with travel(NOW):
        client.get(small_url)  # warm the per-process caches (content types, translations) first
    return queries(client, small_url), queries(large_client or client, large_url)


# --- "My cases" -------------------------------------------------------------------------------------


def test_my_cases_queries_do_not_grow_with_the_number_of_complaints(
    merchant, other_merchant, agent, other_agent
):
    one = UserFactory(email="lea.martin@example.test")
    many = UserFactory(email="hugo.bernard@example.test")
    file_at(NOW - timedelta(days=2), one, merchant)

    states = cycle(["filed", "answered", "referred", "withdrawn", "resolved"])
    for n in range(50):
        shop, staff = (merchant, agent) if n % 2 else (other_merchant, other_agent)
        complaint = file_at(NOW - timedelta(days=60 - n), many, shop, order_reference=f"CMD-{8800 + n}")
        state = next(states)
        with travel(NOW - timedelta(days=59 - n)):  # the day after filing
            if state in ("answered", "referred", "resolved"):
                decision = {"answered": "offer", "referred": "reject", "resolved": "offer"}[state]
                complaint = complaint_answer(
                    complaint=complaint,
                    by=staff,
                    decision=decision,
                    text="Nous avons bien reçu votre réclamation.",
                    amount_cents=2500 if decision == "offer" else None,
                    terms="Avoir de 25 €." if decision == "offer" else "",
                )
            if state == "referred":
                case_refer(complaint=complaint, by=many, other_proceedings=False, acting_as_consumer=True)
            elif state == "resolved":
                offer_respond(offer=complaint.offers.get(), by=many, accept=True)
            elif state == "withdrawn":
                complaint_withdraw(complaint=complaint, by=many, reason="Le colis est finalement arrivé.")
    assert many.complaints.filter(state=ComplaintState.REFERRED).count() == 10

    url = reverse("complaints:list")
    client = logged_in(many)
    small, large = measure(logged_in(one), url, url, large_client=client)

    assert large == small, f"My cases: {small} queries for 1 complaint, {large} for 50"
    page = client.get(url).content.decode()
    assert page.count('href="/complaints/C-') == 25  # the first page of "My cases" (paged by 25)


# --- The merchant dashboard --------------------------------------------------------------------------


def test_merchant_dashboard_queries_do_not_grow_with_the_number_of_open_complaints(
    merchant, other_merchant, agent, other_agent
):
    consumers = [UserFactory() for _ in range(10)]
    file_at(NOW - timedelta(days=3), consumers[0], merchant)

    # Overdue (filed 40 days ago, no answer), due within 7 days, waiting, and answered but open.
    for n in range(50):
        kind = ("overdue", "due_soon", "waiting", "answered")[n % 4]
        filed = NOW - timedelta(
            days={"overdue": 40, "due_soon": 26, "waiting": 2, "answered": 10}[kind], hours=n
        )
        complaint = file_at(filed, consumers[n % 10], other_merchant, order_reference=f"WEB-{5100 + n}")
        if kind == "answered":
            with travel(filed + timedelta(days=1)):
                complaint_answer(
                    complaint=complaint,
                    by=other_agent,
                    decision="offer",
                    text="Nous vous proposons un geste commercial.",
                    amount_cents=1500,
                    terms="Bon d'achat de 15 €.",
                )

    url = reverse("merchant:dashboard")
    client = logged_in(other_agent)
    small, large = measure(logged_in(agent), url, url, large_client=client)

    assert large == small, f"dashboard: {small} queries for 1 open complaint, {large} for 50"
    with travel(NOW):
        context = client.get(url).context
    assert context["open_count"] == 50
    assert [len(context[part]) for part in ("overdue", "due_soon", "waiting", "answered")] == [13, 13, 12, 12]


# --- The complaint page ------------------------------------------------------------------------------


@pytest.fixture
def two_complaints(consumer, merchant, agent):
    """The same parties' complaint as filed (its first events only) and one with 300+ events."""
    small = file_at(NOW - timedelta(days=1), consumer, merchant)
    large = file_at(NOW - timedelta(days=29), consumer, merchant, order_reference="CMD-2026-7781")
    moment = NOW - timedelta(days=28)

    def tick():
        nonlocal moment
        moment += timedelta(minutes=37)
        return travel(moment)

    with tick():
        large = complaint_answer(
            complaint=large,
            by=agent,
            decision="offer",
            text="Nous proposons un remboursement partiel.",
            amount_cents=3000,
            terms="Remboursement de 30 € sous 14 jours.",
        )
    for n in range(4):  # files from both sides
        with tick():
            evidence_add(
                complaint=large,
                by=consumer if n % 2 == 0 else agent,
                file=ContentFile(pdf_bytes(f"Pièce n°{n + 1}"), name=f"piece-{n + 1}.pdf"),
            )
    for n in range(6):  # the offer ledger: counter-offers, new offers, withdrawals
        open_offer = large.offers.get(status="open")
        with tick():
            counter = offer_make(
                complaint=large,
                by=consumer,
                terms=f"J'accepterais {60 + n} € de remboursement.",
                amount_cents=(60 + n) * 100,
                responds_to=open_offer,
            )
        with tick():
            if n == 5:
                offer_withdraw(offer=counter, by=consumer)
            else:
                offer_respond(offer=counter, by=agent, accept=False)
        with tick():
            offer_make(
                complaint=large, by=agent, terms=f"Remboursement de {40 + n} €.", amount_cents=(40 + n) * 100
            )
    speakers = cycle([(consumer, "Pouvez-vous me dire où en est mon dossier ?"), (agent, "Nous vérifions.")])
    while AuditEvent.objects.filter(stream=large.reference).count() < 300:
        author, body = next(speakers)
        with tick():
            complaint_post_message(complaint=large, by=author, body=body)
    for kind in (DocumentKind.COMPLAINT_ACKNOWLEDGEMENT, DocumentKind.MEDIATOR_NOTICE):
        GeneratedDocument.objects.create(
            kind=kind, subject_reference=large.reference, requested_by=consumer, requested_at=moment
        )
    return small, large


@pytest.mark.parametrize("reader", ["consumer", "agent"])
def test_complaint_page_queries_do_not_grow_with_the_number_of_events(two_complaints, reader, request):
    small, large = two_complaints
    events = AuditEvent.objects.filter(stream=large.reference)
    assert AuditEvent.objects.filter(stream=small.reference).count() == 3  # filed, two consents
    assert events.count() >= 300
    assert large.messages.count() >= 270 and large.offers.count() == 13 and large.evidence.count() == 4

    client = logged_in(request.getfixturevalue(reader))
    few, many = measure(
        client,
        reverse("complaints:detail", args=[small.reference]),
        reverse("complaints:detail", args=[large.reference]),
    )

    assert many == few, f"complaint page ({reader}): {few} queries for 3 events, {many} for {events.count()}"
    assert many <= 10, f"complaint page ({reader}): {many} queries"


def _section(html: str, anchor: str) -> str:
    start = html.index(f'id="{anchor}"')
    return html[start : html.index("</section>", start)]


def _walk(client, url: str, anchor: str, pattern: str) -> list[list[str]]:
    """The rows matching `pattern` in section `anchor`, page after page through its "earlier" links."""
    pages = []
    while url:
        with travel(NOW):
            response = client.get(url)
        assert response.status_code == 200
        part = _section(response.content.decode(), anchor)
        pages.append(re.findall(pattern, part))
        earlier = re.search(r'<a href="([^"]+)" rel="next">', part)
        url = earlier and response.request["PATH_INFO"] + unescape(earlier.group(1)).split("#")[0]
    return pages


@pytest.mark.parametrize("reader", ["consumer", "agent"])
def test_complaint_page_pages_its_messages_and_timeline_latest_first(two_complaints, reader, request):
    _small, large = two_complaints
    client = logged_in(request.getfixturevalue(reader))
    url = reverse("complaints:detail", args=[large.reference])
    with travel(NOW):
        first = client.get(url).content.decode()
    assert "Earlier messages" in first and "Earlier events" in first
    assert 'action="/complaints/' in _section(first, "messages")  # the form stays under the thread

    pages = _walk(client, url, "messages", r'<time datetime="([^"]+)"')
    sent = [m.isoformat() for m in large.messages.order_by("sent_at", "pk").values_list("sent_at", flat=True)]
    assert len(pages) > 1 and all(len(rows) <= MESSAGES_PAGE_SIZE for rows in pages)
    assert [moment for rows in reversed(pages) for moment in rows] == [
        formats.date_format(localtime(datetime.fromisoformat(m)), "c") for m in sent
    ], "every message once, oldest first, the latest page first"

    pages = _walk(client, url, "timeline", r"<li><time")
    assert len(pages) > 1 and all(len(rows) <= EVENTS_PAGE_SIZE for rows in pages)
    assert sum(len(rows) for rows in pages) == AuditEvent.objects.filter(stream=large.reference).count()
