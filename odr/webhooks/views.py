"""The merchant portal's webhook pages: endpoints, their secret, and their delivery log.

Thin views, as in odr/accounts/views.py: every URL answers 404 to anyone who is not on the merchant's
staff; agents see the pages, only the owner changes anything (the services refuse otherwise) and only
the owner sees the signing secret.
"""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from odr.accounts.access import merchant_get_for
from odr.accounts.models import Role
from odr.accounts.selectors import is_merchant_owner
from odr.context_processors import Navigation
from odr.paging import keyset_page
from odr.web import attempt, form_errors, get_or_404

from .events import EVENTS
from .forms import EndpointEditForm, EndpointForm
from .selectors import endpoint_get_for, endpoints_of
from .services import (
    can_resend,
    endpoint_deliveries,
    webhook_delivery_resend,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_rotate_secret,
    webhook_endpoint_update,
)

LOG_SIZE = 100


def _endpoint_or_404(request, merchant_id: int, endpoint_id: int):
    return get_or_404(endpoint_get_for, request.user, merchant_id, endpoint_id)


def _to_detail(endpoint):
    return redirect("webhooks:detail", merchant_id=endpoint.merchant_id, endpoint_id=endpoint.pk)


@login_required
@require_http_methods(["GET", "POST"])
def endpoint_list(request, merchant_id: int):
    merchant = get_or_404(merchant_get_for, request.user, merchant_id)
    is_owner = is_merchant_owner(request.user, merchant)
    form = EndpointForm(request.POST or None)
    # Agents have no form; should one post anyway, the service refuses with a message.
    if request.method == "POST" and form.is_valid():
        endpoint = attempt(
            request,
            lambda: webhook_endpoint_create(merchant=merchant, by=request.user, **form.cleaned_data),
            success=_("The endpoint is registered. Copy its signing secret to your receiver."),
        )
        if endpoint:
            return _to_detail(endpoint)
    return render(
        request,
        "webhooks/list.html",
        {
            "merchant": merchant,
            "is_owner": is_owner,
            "endpoints": keyset_page(
                endpoints_of(merchant), order=("created_at", "pk"), request=request, size=LOG_SIZE
            ),
            "form": form if is_owner else None,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def endpoint_detail(request, merchant_id: int, endpoint_id: int):
    # The person's role from the layout's memberships (one query for both): the page and its
    # delivery log stay within the lists' query budget. A 404 alike for missing and forbidden.
    nav = Navigation(request.user)
    membership = nav.staff_membership(merchant_id)
    endpoint = membership and endpoints_of(membership.merchant).filter(pk=endpoint_id).first()
    if not endpoint:
        raise Http404
    endpoint.merchant = merchant = membership.merchant
    is_owner = membership.role == Role.MERCHANT_OWNER
    initial = {k: getattr(endpoint, k) for k in ("url", "description", "events", "active")}
    form = EndpointEditForm(request.POST or None, initial=initial)
    if request.method == "POST":
        if form.is_valid():
            done = attempt(
                request,
                lambda: webhook_endpoint_update(endpoint=endpoint, by=request.user, **form.cleaned_data),
                success=_("The endpoint has been updated."),
            )
            if done:
                return _to_detail(endpoint)
        else:
            form_errors(request, form)
    # Newest first, a page at a time: older deliveries stay reachable through the pager.
    deliveries = keyset_page(
        endpoint_deliveries(endpoint),
        order=("-created_at", "-pk"),
        request=request,
        size=LOG_SIZE,
        anchor="log-heading",
    )
    for message in deliveries:
        message.can_resend = can_resend(message)
    return render(
        request,
        "webhooks/detail.html",
        {
            "nav": nav,
            "merchant": merchant,
            "endpoint": endpoint,
            "is_owner": is_owner,
            "form": form if is_owner else None,
            "event_labels": [EVENTS.get(event, event) for event in endpoint.events],
            "deliveries": deliveries,
            "log_size": LOG_SIZE,
        },
    )


@login_required
@require_POST
def rotate(request, merchant_id: int, endpoint_id: int):
    endpoint = _endpoint_or_404(request, merchant_id, endpoint_id)
    attempt(
        request,
        lambda: webhook_endpoint_rotate_secret(endpoint=endpoint, by=request.user),
        success=_("A new signing secret replaces the old one from now on. Update your receiver."),
    )
    return _to_detail(endpoint)


@login_required
@require_POST
def delete(request, merchant_id: int, endpoint_id: int):
    endpoint = _endpoint_or_404(request, merchant_id, endpoint_id)
    if attempt(
        request,
        lambda: webhook_endpoint_delete(endpoint=endpoint, by=request.user),
        success=_("The endpoint has been deleted."),
    ):
        return redirect("webhooks:list", merchant_id=endpoint.merchant_id)
    return _to_detail(endpoint)


@login_required
@require_POST
def resend(request, merchant_id: int, endpoint_id: int, message_id: int):
    endpoint = _endpoint_or_404(request, merchant_id, endpoint_id)
    if not endpoint_deliveries(endpoint).filter(pk=message_id).exists():
        raise Http404
    attempt(
        request,
        lambda: webhook_delivery_resend(endpoint=endpoint, message_id=message_id, by=request.user),
        success=_("The delivery is queued again."),
    )
    return _to_detail(endpoint)
