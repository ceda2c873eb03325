"""The merchant portal's API-key pages: list, create (the full key shown once), revoke.

Anyone who is not on the merchant's staff gets a 404 (`merchant_get_for`); agents see the list;
only owners create and revoke keys (the services check it).
"""

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from odr.accounts.access import merchant_get_for
from odr.accounts.models import Merchant
from odr.accounts.selectors import is_merchant_owner
from odr.paging import keyset_page
from odr.web import attempt

from .keys import api_key_create, api_key_revoke
from .models import ApiKey, ApiKeyScope


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Name of the key"),
        max_length=100,
        help_text=gettext_lazy("Where it is used, e.g. “Shop back office”."),
    )
    scopes = forms.ChoiceField(
        label=gettext_lazy("What the key may do"),
        choices=ApiKeyScope.choices,
        initial=ApiKeyScope.READ,
        widget=forms.RadioSelect,
    )


def _merchant_or_404(user, merchant_id: int) -> Merchant:
    try:
        return merchant_get_for(user, merchant_id)
    except Merchant.DoesNotExist:
        raise Http404 from None


PAGE_SIZE = 50


def _list_page(request, merchant: Merchant, form=None):
    is_owner = is_merchant_owner(request.user, merchant)
    return render(
        request,
        "apikeys/list.html",
        {
            "merchant": merchant,
            "is_owner": is_owner,
            # Newest first, a page at a time (the (merchant, created_at, id) index).
            "keys": keyset_page(
                ApiKey.objects.filter(merchant=merchant).select_related("created_by", "revoked_by"),
                order=("-created_at", "-pk"),
                request=request,
                size=PAGE_SIZE,
            ),
            "form": (form or ApiKeyForm()) if is_owner else None,
        },
    )


@login_required
@require_GET
def key_list(request, merchant_id: int):
    return _list_page(request, _merchant_or_404(request.user, merchant_id))


@login_required
@require_POST
def key_create(request, merchant_id: int):
    merchant = _merchant_or_404(request.user, merchant_id)
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        return _list_page(request, merchant, form)
    created = attempt(
        request,
        lambda: api_key_create(
            merchant=merchant,
            by=request.user,
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
        ),
    )
    if not created:
        return redirect("apikeys:list", merchant_id=merchant.pk)
    key, full_key = created
    response = render(
        request, "apikeys/created.html", {"merchant": merchant, "key": key, "full_key": full_key}
    )
    add_never_cache_headers(response)  # the only time the key is shown: keep it out of every cache
    return response


@login_required
@require_POST
def key_revoke(request, merchant_id: int, key_id: int):
    merchant = _merchant_or_404(request.user, merchant_id)
    key = get_object_or_404(ApiKey, pk=key_id, merchant=merchant)
    attempt(
        request,
        lambda: api_key_revoke(key=key, by=request.user),
        success=_("The key %(prefix)s is revoked: it no longer works.") % {"prefix": key.prefix},
    )
    return redirect("apikeys:list", merchant_id=merchant.pk)
