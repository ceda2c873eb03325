"""Cursor pagination: stable pages while complaints arrive, whatever the table's size."""

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination as BaseCursorPagination


class CursorPagination(BaseCursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering = "-pk"

    def decode_cursor(self, request):
        """A cursor that is not one of ours is a 400 on the `cursor` parameter (DRF answers 404, which
        says the list does not exist), and so is one whose position is not a primary key (DRF would
        pass it to the query: a 500)."""
        try:
            cursor = super().decode_cursor(request)
            if cursor is not None and cursor.position is not None:
                int(cursor.position)
        except (NotFound, ValueError):
            raise ValidationError(
                {self.cursor_query_param: [self.invalid_cursor_message]}, code="invalid"
            ) from None
        return cursor


class ChronologicalCursorPagination(CursorPagination):
    """Threads (messages, offers, files): oldest first, as they are read."""

    ordering = "pk"
