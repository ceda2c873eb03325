"""The base of every API view: authenticated (an API key or the browser session) and scoped."""

from rest_framework.generics import GenericAPIView
from rest_framework.mixins import ListModelMixin
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated

from .permissions import KeyScope


class ApiView(GenericAPIView):
    """JSON only; the one upload endpoint takes multipart/form-data instead."""

    permission_classes = [IsAuthenticated, KeyScope]
    parser_classes = [JSONParser]
    # No OPTIONS: the OpenAPI document describes the API (DRF's metadata needs a serializer_class,
    # which action views have not: a 500), and there is no cross-origin use to preflight. → 405.
    http_method_names = ["get", "post", "head"]


class ApiListView(ListModelMixin, ApiView):
    """A paginated list (cursor pagination, filters): `get_queryset` says what."""

    def get(self, request, *args, **kwargs):
        return self.list(request, *args, **kwargs)
