"""Keyset pages (odr/paging.py): every row once, in order, both ways, at one query a page."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from odr.accounts.models import User
from odr.paging import BoundedCount, bounded_counts, cursor_after, keyset_page, list_heads
from tests.factories import MembershipFactory, MerchantFactory, UserFactory

PARIS = ZoneInfo("Europe/Paris")
START = datetime(2026, 3, 1, 9, 0, tzinfo=PARIS)


@pytest.fixture
def people(db):
    # Ties on the date (three people per minute): the primary key must break them.
    people = [UserFactory(date_joined=START + timedelta(minutes=n // 3)) for n in range(23)]
    return User.objects.filter(pk__in=[p.pk for p in people])


def get(url):
    return RequestFactory().get(url)


def walk(queryset, order, *, size, direction="next", start=None):
    """Follow the links from `start` (a URL), collecting the rows of every page."""
    seen, url, queries = [], start or "/people/", []
    while url:
        with CaptureQueriesContext(connection) as captured:
            page = keyset_page(queryset, order=order, request=get(url), size=size)
        queries.append(len(captured))
        seen.append([person.pk for person in page])
        url = ("/people/" + page.next_url) if direction == "next" else ("/people/" + page.previous_url)
        url = url if url != "/people/" else ""
    return seen, queries


def test_forward_pages_give_every_row_once_in_order_at_one_query_each(people):
    expected = list(people.order_by("-date_joined", "-pk").values_list("pk", flat=True))
    pages, queries = walk(people, ("-date_joined", "-pk"), size=5)
    assert [pk for page in pages for pk in page] == expected
    assert [len(page) for page in pages] == [5, 5, 5, 5, 3]
    assert set(queries) == {1}


def test_previous_links_walk_back_over_the_same_pages(people):
    order = ("date_joined", "pk")
    forward, _ = walk(people, order, size=4)
    last = keyset_page(people, order=order, request=get("/people/"), size=4)
    while last.has_next:
        last = keyset_page(people, order=order, request=get("/people/" + last.next_url), size=4)
    backward, queries = walk(
        people, order, size=4, direction="previous", start="/people/" + last.previous_url
    )
    assert backward == forward[-2::-1]
    assert set(queries) == {1}


def test_first_page_has_no_previous_and_last_has_no_next(people):
    first = keyset_page(people, order=("pk",), request=get("/people/"), size=30)
    assert len(first) == 23
    assert not first.has_previous and not first.has_next and not first.has_other_pages


def test_links_keep_the_other_parameters_and_drop_the_old_cursor(people):
    page = keyset_page(
        people, order=("pk",), request=get("/people/?q=dupont&state=open"), size=5, anchor="list"
    )
    second = keyset_page(people, order=("pk",), request=get("/people/" + page.next_url), size=5)
    assert page.next_url.startswith("?q=dupont&state=open&after=") and page.next_url.endswith("#list")
    assert "after=" not in second.previous_url and "before=" in second.previous_url
    assert "q=dupont" in second.previous_url


@pytest.mark.parametrize(
    "cursor", ["nonsense", "W10", "WyJ4Il0", "eyJhIjogMX0", "WyJub3QtYS1kYXRlIiwgMV0", "%00"]
)
def test_an_unreadable_cursor_gives_the_first_page(people, cursor):
    page = keyset_page(people, order=("-date_joined", "-pk"), request=get(f"/people/?after={cursor}"), size=5)
    first = keyset_page(people, order=("-date_joined", "-pk"), request=get("/people/"), size=5)
    assert [p.pk for p in page] == [p.pk for p in first]


def test_two_lists_on_one_page_page_independently(db):
    merchants = [MerchantFactory() for _ in range(7)]
    queryset = type(merchants[0]).objects.filter(pk__in=[m.pk for m in merchants])
    request = get(
        "/x/?a_after="
        + keyset_page(queryset, order=("pk",), request=get("/x/"), size=3, prefix="a_").next_cursor
    )
    a = keyset_page(queryset, order=("pk",), request=request, size=3, prefix="a_")
    b = keyset_page(queryset, order=("pk",), request=request, size=3, prefix="b_")
    assert [m.pk for m in a] == [m.pk for m in merchants[3:6]]
    assert [m.pk for m in b] == [m.pk for m in merchants[:3]]
    assert "a_after=" in b.next_url and "b_after=" in b.next_url


def test_values_rows_page_too(people):
    rows = people.values("pk", "email")
    page = keyset_page(rows, order=("pk",), request=get("/people/"), size=10)
    second = keyset_page(rows, order=("pk",), request=get("/people/" + page.next_url), size=10)
    assert [r["pk"] for r in second] == sorted(people.values_list("pk", flat=True))[10:20]


def test_a_conversation_paged_latest_first_reads_oldest_first_within_each_page(people):
    """`reversed()`: the first page holds the latest rows, shown oldest first; "next" leads to the
    earlier ones and "previous" back to the later ones, the links unchanged by the reversal."""
    order = ("-date_joined", "-pk")
    chronological = list(people.order_by("date_joined", "pk").values_list("pk", flat=True))
    first = keyset_page(people, order=order, request=get("/people/"), size=10)
    shown = first.reversed()
    assert [p.pk for p in shown] == chronological[-10:]
    assert (shown.next_url, shown.previous_url) == (first.next_url, "")
    earlier = keyset_page(people, order=order, request=get("/people/" + shown.next_url), size=10).reversed()
    assert [p.pk for p in earlier] == chronological[-20:-10]
    later = keyset_page(people, order=order, request=get("/people/" + earlier.previous_url), size=10)
    assert [p.pk for p in later.reversed()] == chronological[-10:]


def test_a_cursor_made_from_values_starts_a_page_at_the_first_row_after_them(people):
    """`cursor_after`: a link to the page that starts at a given row, from values no row need hold."""
    ordered = list(people.order_by("pk"))
    target = ordered[7]
    page = keyset_page(
        people, order=("pk",), request=get(f"/people/?after={cursor_after([target.pk - 1])}"), size=5
    )
    assert [p.pk for p in page] == [p.pk for p in ordered[7:12]]
    assert page.has_previous


# --- Extensions for the lists of issue 14 -------------------------------------------------------------


def test_rows_within_the_same_millisecond_are_neither_skipped_nor_repeated(db):
    # DjangoJSONEncoder writes datetimes to the millisecond: the cursor must keep the microseconds.
    moment = START.replace(microsecond=123_000)
    people = [UserFactory(date_joined=moment + timedelta(microseconds=n * 100)) for n in range(7)]
    queryset = User.objects.filter(pk__in=[p.pk for p in people])
    for order in (("-date_joined", "-pk"), ("date_joined", "pk")):
        pages, _queries = walk(queryset, order, size=2)
        assert [pk for page in pages for pk in page] == list(
            queryset.order_by(*order).values_list("pk", flat=True)
        ), order


def test_orders_may_follow_relations(db):
    from odr.accounts.models import Membership, Role

    merchant = MerchantFactory()
    for last in ["Petit", "Bernard", "Moreau", "Durand", "Bernard"]:
        MembershipFactory(role=Role.MERCHANT_AGENT, merchant=merchant, user=UserFactory(last_name=last))
    queryset = Membership.objects.filter(merchant=merchant).select_related("user")
    order = ("user__last_name", "pk")
    seen, url = [], "/team/"
    while url:
        page = keyset_page(queryset, order=order, request=get(url), size=2)
        seen.extend(m.user.last_name for m in page)
        url = "/team/" + page.next_url if page.has_next else ""
    assert seen == ["Bernard", "Bernard", "Durand", "Moreau", "Petit"]


def test_list_heads_gives_each_lists_first_rows_in_one_query(people):
    lists = {
        "newest": (people, ("-date_joined", "-pk")),
        "oldest": (people, ("date_joined", "pk")),
        "none": (people.filter(pk__lt=0), ("pk",)),
        "three": (people.filter(pk__in=list(people.values_list("pk", flat=True)[:3])), ("pk",)),
    }
    with CaptureQueriesContext(connection) as captured:
        heads = list_heads(User.objects.all(), lists, size=4)
    assert len(captured) == 1
    for name, (queryset, order) in lists.items():
        expected = list(queryset.order_by(*order).values_list("pk", flat=True))
        assert [p.pk for p in heads[name]] == expected[:4], name
        assert heads[name].has_next == (len(expected) > 4), name


def test_bounded_counts_count_up_to_their_limit_in_one_query(people):
    few = people.filter(pk__in=[p.pk for p in people[:3]])
    with CaptureQueriesContext(connection) as captured:
        counts = bounded_counts({"all": people, "few": few}, limit=10)
    assert len(captured) == 1
    assert counts["all"].exceeds and counts["all"].label == "10+"
    with translation.override("fr"):
        assert bounded_counts({"all": people}, limit=1000)["all"].label == "23"
        assert BoundedCount(1001, limit=1000).label == "1\N{NO-BREAK SPACE}000+"
    with translation.override("en"):
        assert BoundedCount(1001, limit=1000).label == "1,000+"
    assert counts["few"] == 3 and not counts["few"].exceeds and counts["few"].label == "3"
    assert bounded_counts({"exact": people}, limit=23)["exact"].label == "23"
