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
must not be NULL. The cursor in the URL (`?after=…` or `?before=…`) carries the values of the order
fields of the row at the page's edge; a cursor that cannot be read (edited by hand, from an older
version) gives the first page rather than an error.
"""

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q, QuerySet
from django.http import QueryDict

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


def _encode(values: list) -> str:
    text = json.dumps(values, cls=DjangoJSONEncoder, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def cursor_after(values: Sequence) -> str:
    """A cursor for the rows after `values` (the order fields' values, which no row need hold): a link
    to the page that starts at a given row, e.g. `?after=` + cursor_after([stream, seq - 1])."""
    return _encode(list(values))


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
        try:
            model_field = queryset.model._meta.get_field("pk" if name == "pk" else name)
        except FieldDoesNotExist:
            model_field = queryset.model._meta.pk if name == "pk" else None
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
    return condition


def _reversed(order: Sequence[str]) -> list[str]:
    return [term[1:] if term.startswith("-") else f"-{term}" for term in order]


def _cursor_of(row, order: Sequence[str]) -> str:
    names = [_field_name(term)[0] for term in order]
    if isinstance(row, dict):  # a .values() queryset
        return _encode([row[name] for name in names])
    return _encode([getattr(row, name) for name in names])


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
