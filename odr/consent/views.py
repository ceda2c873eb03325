"""Public pages of consent receipts (D32): anyone holding a receipt can check it, without an account."""

import json
from datetime import UTC, datetime

from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET, require_http_methods

from .forms import VerifyForm
from .keys import public_jwks
from .models import ConsentReceipt
from .pdf import receipt_pdf
from .receipts import receipt_verify


@require_GET
@cache_control(public=True, max_age=300)
def jwks(request):
    """The public keys, for anyone who wants to verify receipts with their own tools."""
    return JsonResponse(public_jwks())


def _readable(claims: dict) -> dict:
    """What the result page shows, with the times as datetimes (rendered in the local time zone)."""
    purpose = claims["services"][0]["purposes"][0]
    event = claims.get("event", {})
    return {
        "receipt_id": claims["consentReceiptID"],
        "event_type": event.get("event_type"),
        "purpose": purpose["purpose"],
        "consent_at": datetime.fromtimestamp(claims["consentTimestamp"], tz=UTC),
        "event_at": datetime.fromisoformat(event["event_time"]) if event.get("event_time") else None,
        "valid_until": datetime.fromisoformat(event["validity_until"])
        if event.get("validity_until")
        else None,
        "principal": claims["piiPrincipalId"],
        "controller": claims["piiControllers"][0],
        "policy_url": claims["policyUrl"],
        "notice_sha256": claims.get("notice", {}).get("sha256"),
        "notice_version": claims.get("notice", {}).get("version"),
        "case_reference": claims.get("caseReference"),
        "json": json.dumps(claims, indent=2, sort_keys=True, ensure_ascii=False),
    }


@require_http_methods(["GET", "POST"])
def verify(request):
    if request.method == "GET":
        return render(request, "consent/verify.html", {"form": VerifyForm()})
    form = VerifyForm(request.POST, request.FILES)
    if not form.is_valid():
        return render(request, "consent/verify.html", {"form": form}, status=400)
    result = receipt_verify(form.cleaned_data["compact"])
    context = {"form": VerifyForm(), "result": result}
    if result.valid:
        context["readable"] = _readable(result.claims)
    return render(request, "consent/verify.html", context)


def receipt_download_response(*, person, case_reference: str, receipt_id) -> HttpResponse:
    """D32: `person`'s own receipt for a consent about `case_reference`, as its PDF; a receipt of
    anyone else, or of another case, is the same 404 as one that does not exist."""
    receipt = (
        ConsentReceipt.objects.filter(
            receipt_id=receipt_id, record__case_reference=case_reference, record__person=person
        )
        .select_related("record")
        .first()
    )
    if receipt is None:
        raise Http404
    response = HttpResponse(receipt_pdf(receipt), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="receipt-{receipt.receipt_id}.pdf"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
