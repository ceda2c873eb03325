"""Keyset pagination for the web pages: a page costs the same whatever the total.

Django's `Paginator` counts every row (`COUNT(*)`) and skips with `OFFSET`: both grow with the table,
so page 2,000 of a national body's cases would read 100,000 rows. A keyset page instead asks for the
rows after (or before) the last one shown, through the index that serves the ordering, and fetches
one row more than it shows to know whether there is a next page. There is no total and no page
number: lists say "Next" and "Previous", which is what people use on long lists anyway.

Use:

    page = keyset_page(queryset, order=("-created_at", "-pk"), request=request, size=25)
    # template: {% include "includes/pager.html" with page=page %}  (links: page.next_url, …)

A conversation or a timeline is paged newest first and shown oldest first within the page
(`KeysetPage.reversed()`, and `newest_first=True` with `older_label`/`newer_label` for the pager).

`order` must end with a unique field (the primary key) so that the order is total, and its fields
must not be NULL; they may follow relations (`user__last_name`), though only the model's own fields
can be served by one of its indexes. The cursor in the URL (`?after=…` or `?before=…`) carries the
values of the order fields of the row at the page's edge; a cursor that cannot be read (edited by
hand, from an older version) gives the first page rather than an error.
"""

import base64
import datetime
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connections
from django.db.models import CharField, Q, QuerySet, Value
from django.http import QueryDict
from django.utils.formats import number_format

AFTER = "after"
BEFORE = "before"
DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class KeysetPage:
    items: list
    next_cursor: str = ""
    previous_cursor: str = ""
    after_param: str = AFTER
    before_param: str = BEFORE
    # The request's other query parameters (filters, another list's cursor), kept by the links.
    query: QueryDict = field(default_factory=QueryDict)
    anchor: str = ""

    def __iter__(self):
        return iter(self.items)

    def __len__(self):
        return len(self.items)

    def __bool__(self):
        return bool(self.items)

    def reversed(self) -> "KeysetPage":
        """The same page, its rows in the opposite order, its links unchanged.

        A conversation is paged newest first (the first page is the latest messages, "next" leads to
        earlier ones) but read oldest first within a page: `keyset_page(…, order=("-sent_at", "-pk"))
        .reversed()`, shown with `newest_first=True` in templates/includes/pager.html.
        """
        return replace(self, items=self.items[::-1])

    @property
    def has_next(self) -> bool:
        return bool(self.next_cursor)

    @property
    def has_previous(self) -> bool:
        return bool(self.previous_cursor)

    @property
    def has_other_pages(self) -> bool:
        return self.has_next or self.has_previous

    def _link(self, param: str, cursor: str) -> str:
        query = self.query.copy()
        query.pop(self.after_param, None)
        query.pop(self.before_param, None)
        query[param] = cursor
        return f"?{query.urlencode()}{'#' + self.anchor if self.anchor else ''}"

    @property
    def next_url(self) -> str:
        return self._link(self.after_param, self.next_cursor) if self.next_cursor else ""

    @property
    def previous_url(self) -> str:
        return self._link(self.before_param, self.previous_cursor) if self.previous_cursor else ""


def _field_name(term: str) -> tuple[str, bool]:
    """("created_at", True) for "-created_at": the name and whether the order is descending."""
    return (term[1:], True) if term.startswith("-") else (term, False)


class _CursorEncoder(DjangoJSONEncoder):
    """DjangoJSONEncoder cuts datetimes to the millisecond; a cursor needs them whole, or the rows
    within the same millisecond as the page's edge would be skipped or shown twice."""

    def default(self, o):
        if isinstance(o, datetime.datetime | datetime.time):
            return o.isoformat()
        return super().default(o)


def _encode(values: list) -> str:
    text = json.dumps(values, cls=_CursorEncoder, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def cursor_after(values: Sequence) -> str:
    """A cursor for the rows after `values` (the order fields' values, which no row need hold): a link
    to the page that starts at a given row, e.g. `?after=` + cursor_after([stream, seq - 1])."""
    return _encode(list(values))


def _model_field(model, name: str):
    """The model field `name` names, following relations (`user__last_name`); None if there is none."""
    *path, last = name.split("__")
    try:
        for step in path:
            model = model._meta.get_field(step).related_model
            if model is None:
                return None
        return model._meta.pk if last == "pk" else model._meta.get_field(last)
    except FieldDoesNotExist:
        return None


def _value(row, name: str):
    """The value of the order field `name` on a row (a model instance, or a dict from .values())."""
    if isinstance(row, dict):
        return row[name]
    for step in name.split("__"):
        row = getattr(row, step)
    return row


def _decode(cursor: str, queryset: QuerySet, names: Sequence[str]) -> list | None:
    """The order fields' values from a cursor, typed by the model's fields; None if unreadable."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError):
        return None
    if not isinstance(raw, list) or len(raw) != len(names):
        return None
    values = []
    for name, value in zip(names, raw, strict=True):
        if value is None or isinstance(value, (dict, list)):
            return None
        model_field = _model_field(queryset.model, name)
        if model_field is None:
            return None
        try:
            values.append(model_field.to_python(value))
        except (ValidationError, ValueError, TypeError, OverflowError):
            return None
    return values


def _beyond(order: Sequence[str], values: list, *, forward: bool) -> Q:
    """Rows strictly after `values` in `order` (or strictly before when not `forward`).

    For (a, b): a > va OR (a = va AND b > vb), with > turned into < for descending terms and for
    going backwards.
    """
    condition = Q()
    equal_so_far = Q()
    for term, value in zip(order, values, strict=True):
        name, descending = _field_name(term)
        lookup = "lt" if descending == forward else "gt"
        condition |= equal_so_far & Q(**{f"{name}__{lookup}": value})
        equal_so_far &= Q(**{name: value})
    # The same rows, plus a plain range on the first field: PostgreSQL cannot start an index scan
    # from the OR above, but it can from `a >= va` (its "Index Cond"), so a deep page reads the page's
    # rows and not every row before it.
    first, descending = _field_name(order[0])
    bound = Q(**{f"{first}__{'lte' if descending == forward else 'gte'}": values[0]})
    return bound & condition


def _reversed(order: Sequence[str]) -> list[str]:
    return [term[1:] if term.startswith("-") else f"-{term}" for term in order]


def _cursor_of(row, order: Sequence[str]) -> str:
    return _encode([_value(row, _field_name(term)[0]) for term in order])


def keyset_page(
    queryset: QuerySet,
    *,
    order: Sequence[str],
    request=None,
    size: int = DEFAULT_PAGE_SIZE,
    prefix: str = "",
    anchor: str = "",
) -> KeysetPage:
    """One page of `queryset` in `order`, from the `after`/`before` cursor of the request's query.

    `prefix` names the cursor parameters (`msg_after`, …) when one page shows several paged lists;
    `anchor` is appended to the links (`#messages`) so the person lands back on the list.
    Costs one query, whatever the table's size, when an index serves `order`.
    """
    size = max(1, min(size, MAX_PAGE_SIZE))
    after_param, before_param = f"{prefix}{AFTER}", f"{prefix}{BEFORE}"
    names = [_field_name(term)[0] for term in order]
    query = request.GET if request is not None else QueryDict()
    links = {"after_param": after_param, "before_param": before_param, "query": query, "anchor": anchor}
    after = _decode(query.get(after_param, ""), queryset, names) if query.get(after_param) else None
    before = _decode(query.get(before_param, ""), queryset, names) if query.get(before_param) else None

    if before is not None and after is None:
        rows = list(
            queryset.filter(_beyond(order, before, forward=False)).order_by(*_reversed(order))[: size + 1]
        )
        more_before = len(rows) > size
        rows = rows[:size][::-1]
        return KeysetPage(
            items=rows,
            next_cursor=_cursor_of(rows[-1], order) if rows else "",
            previous_cursor=_cursor_of(rows[0], order) if rows and more_before else "",
            **links,
        )

    page_query = queryset.filter(_beyond(order, after, forward=True)) if after is not None else queryset
    rows = list(page_query.order_by(*order)[: size + 1])
    more_after = len(rows) > size
    rows = rows[:size]
    return KeysetPage(
        items=rows,
        next_cursor=_cursor_of(rows[-1], order) if rows and more_after else "",
        # A page reached through a cursor has rows before it (those the cursor came from).
        previous_cursor=_cursor_of(rows[0], order) if rows and after is not None else "",
        **links,
    )


# --- Conversations and timelines: the latest page first, each page read oldest first -----------------

THREAD_PAGE_SIZE = 50


def latest_first(
    queryset: QuerySet,
    *,
    order: Sequence[str],
    request,
    prefix: str,
    anchor: str,
    size: int = THREAD_PAGE_SIZE,
) -> KeysetPage:
    """The latest page of `queryset` in `order` (newest first, e.g. ("-sent_at", "-pk")), its rows shown
    oldest first; its "next" link leads to earlier rows (templates/includes/pager.html with
    `newest_first=True`). The messages and timelines of every case page are read this way."""
    page = keyset_page(queryset, order=order, request=request, size=size, prefix=prefix, anchor=anchor)
    return page.reversed()


def conversation_page(queryset: QuerySet, *, request) -> KeysetPage:
    """A case's or a complaint's messages (`sent_at`), paged as `latest_first` under `?msg_…`."""
    return latest_first(
        queryset, order=("-sent_at", "-pk"), request=request, prefix="msg_", anchor="messages"
    )


# --- Dashboards: the first rows of several lists, and their sizes up to a bound ------------------------


def _sort(rows: list, order: Sequence[str]) -> list:
    """`rows` in `order` (mixed directions), in Python: one stable sort per term, the last term first."""
    for term in reversed(order):
        name, descending = _field_name(term)
        rows.sort(key=lambda row, name=name: _value(row, name), reverse=descending)
    return rows


def list_heads(rows: QuerySet, lists: dict[str, tuple[QuerySet, Sequence[str]]], *, size: int) -> dict:
    """The first `size` rows of each named list, in one query whatever the lists' lengths.

    `lists` maps a name to (queryset, order); `rows` says what to load for each row (select_related,
    annotations) and must be of the same model. One `UNION ALL` of `rows.filter(pk IN (the list's
    first size+1 keys))`: each part is an index scan stopped after size+1 rows, so a dashboard of
    several lists costs one query, constant in the number of rows behind each list. Returns
    {name: KeysetPage} (no cursors: `has_next` says whether the list goes on beyond these rows).
    """
    size = max(1, min(size, MAX_PAGE_SIZE))
    if not lists:
        return {}
    parts = [
        rows.filter(pk__in=queryset.order_by(*order).values("pk")[: size + 1])
        .annotate(_list=Value(name, output_field=CharField()))
        .order_by()
        for name, (queryset, order) in lists.items()
    ]
    grouped: dict[str, list] = {name: [] for name in lists}
    for row in parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]:
        grouped[row._list].append(row)
    heads = {}
    for name, (_queryset, order) in lists.items():
        found = _sort(grouped[name], order)
        heads[name] = KeysetPage(items=found[:size], next_cursor="more" if len(found) > size else "")
    return heads


class BoundedCount(int):
    """A count that stopped at `limit` + 1: `label` is "1 000+" beyond the limit, the number otherwise."""

    limit: int

    def __new__(cls, value: int, *, limit: int):
        count = super().__new__(cls, min(value, limit + 1))
        count.limit = limit
        return count

    @property
    def exceeds(self) -> bool:
        return self > self.limit

    @property
    def label(self) -> str:
        """In the page's language: "1 000+" in French, "1,000+" in English."""
        return f"{number_format(self.limit, force_grouping=True)}+" if self.exceeds else str(int(self))


def bounded_counts(querysets: dict[str, QuerySet], *, limit: int) -> dict[str, BoundedCount]:
    """The number of rows of each queryset, counted up to `limit` + 1 (beyond: "limit+").

    One query, `SELECT (SELECT COUNT(*) FROM (… LIMIT limit+1)), …`: each count stops after limit+1
    rows of its index, so a counter reads "1000+" rather than counting 200,000 rows on every view.
    """
    if not querysets:
        return {}
    names = list(querysets)
    using = next(iter(querysets.values())).db
    selects, params = [], []
    for name in names:
        sql, part_params = (
            querysets[name].order_by().values("pk")[: limit + 1].query.get_compiler(using).as_sql()
        )
        selects.append(f"(SELECT COUNT(*) FROM ({sql}) AS bounded_{len(selects)})")
        params.extend(part_params)
    with connections[using].cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(selects)}", params)
        values = cursor.fetchone()
    return {name: BoundedCount(int(value), limit=limit) for name, value in zip(names, values, strict=True)}
