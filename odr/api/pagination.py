"""Cursor pagination: stable pages while complaints arrive, whatever the table's size."""

from rest_framework.pagination import CursorPagination as BaseCursorPagination


class CursorPagination(BaseCursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering = "-pk"


class ChronologicalCursorPagination(CursorPagination):
    """Threads (messages, offers, files): oldest first, as they are read."""

    ordering = "pk"
