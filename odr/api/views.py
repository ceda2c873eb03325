"""Platform endpoints of the API: consent-receipt verification (D32); the 404 of a path that is no
endpoint."""

from django.http import HttpResponsePermanentRedirect, JsonResponse
from django.urls import Resolver404, resolve
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response

from odr.consent.receipts import receipt_verify

from .base import ApiView
from .idempotency import idempotent
from .problems import PROBLEM_CONTENT_TYPE, problem_data
from .schema import IDEMPOTENCY_KEY, IDEMPOTENT_ERRORS, problem_responses


class ReceiptVerifyInputSerializer(serializers.Serializer):
    receipt = serializers.CharField(max_length=25_000, help_text="The receipt: a compact JWS.")


@extend_schema_field(OpenApiTypes.OBJECT)
class ClaimsField(serializers.JSONField):
    pass


class ReceiptVerificationSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    reason = serializers.CharField(help_text="Why the receipt is valid or not, in the request's language.")
    claims = ClaimsField(
        allow_null=True, help_text="The receipt's claims when it is valid (Kantara CR v1.1)."
    )


class ReceiptVerifyView(ApiView):
    read_only_post = True  # checks a signature, changes nothing: a read-only key may call it

    @extend_schema(
        tags=["consent receipts"],
        operation_id="consent_receipts_verify",
        summary="Verify a consent receipt's signature (D32)",
        parameters=[IDEMPOTENCY_KEY],
        request=ReceiptVerifyInputSerializer,
        responses={200: ReceiptVerificationSerializer, **problem_responses(*IDEMPOTENT_ERRORS, 415)},
    )
    @idempotent
    def post(self, request):
        serializer = ReceiptVerifyInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = receipt_verify(serializer.validated_data["receipt"])
        data = {"valid": result.valid, "reason": result.reason, "claims": result.claims}
        return Response(ReceiptVerificationSerializer(data).data)


@csrf_exempt
def not_found(request, path: str = ""):
    """Any path under /api/v1/ that is no endpoint (a typo, an id that is not a number): a problem
    like every other API error, not the site's HTML page. A path missing its final slash is
    redirected for GET and HEAD, as Django's APPEND_SLASH did (the documentation pages); any other
    method gets the problem, with the hint: a redirect would turn a POST into a GET."""
    if not request.path.endswith("/"):
        match = _resolve_or_none(request.path_info + "/")
        if match is not None and match.func is not not_found:
            if request.method in ("GET", "HEAD"):
                return HttpResponsePermanentRedirect(request.get_full_path(force_append_slash=True))
            detail = _("There is no endpoint at this address: API paths end with a slash.")
            return _not_found(detail)
    return _not_found(_("There is no endpoint at this address."))


def _resolve_or_none(path: str):
    try:
        return resolve(path)
    except Resolver404:
        return None


def _not_found(detail) -> JsonResponse:
    return JsonResponse(problem_data(404, "not_found", detail), status=404, content_type=PROBLEM_CONTENT_TYPE)
