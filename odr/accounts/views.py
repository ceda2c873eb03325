"""The merchant's team and settings pages, and the page where an invited agent accepts.

Thin views: fetch with authorisation (404 for anyone who is not on the merchant's staff, whether the
merchant exists or not), call one service, turn a refusal into a message and go back.
"""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from odr.context_processors import Navigation
from odr.errors import DomainError
from odr.paging import keyset_page

from .access import merchant_get_for
from .models import INVITATION_VALID_DAYS, MERCHANT_ROLES, Membership, Merchant, Role, StaffInvitation
from .selectors import is_merchant_owner
from .services import (
    invitation_problem,
    pending_invitations,
    staff_invitation_accept,
    staff_invitation_revoke,
    staff_invite,
    staff_remove,
)


class StaffInviteForm(forms.Form):
    email = forms.EmailField(
        label=gettext_lazy("E-mail address of the person to invite"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )


def _merchant_or_404(user, merchant_id: int) -> Merchant:
    try:
        return merchant_get_for(user, merchant_id)
    except Merchant.DoesNotExist:
        raise Http404 from None


def _back_to_team(merchant: Merchant):
    return redirect("team:members", merchant_id=merchant.pk)


# --- Team -----------------------------------------------------------------------------------------


@login_required
@require_GET
def members(request, merchant_id: int):
    nav = Navigation(request.user)  # the layout's one query, also giving the person's role here
    membership = nav.staff_membership(merchant_id)
    if membership is None:
        raise Http404
    merchant = membership.merchant
    is_owner = membership.role == Role.MERCHANT_OWNER
    # Owners first, then by name: a page of the merchant's staff (the sort reads this merchant's
    # memberships only, through the membership's merchant index).
    memberships = keyset_page(
        Membership.objects.filter(merchant=merchant, role__in=MERCHANT_ROLES).select_related("user"),
        order=("-role", "user__last_name", "user__first_name", "user__email", "pk"),
        request=request,
        size=TEAM_PAGE_SIZE,
    )
    invitations = keyset_page(
        pending_invitations(merchant).select_related("invited_by"),
        order=("invited_at", "pk"),
        request=request,
        size=TEAM_PAGE_SIZE,
        prefix="inv_",
        anchor="invitations-heading",
    )
    return render(
        request,
        "team/members.html",
        {
            "nav": nav,
            "merchant": merchant,
            "is_owner": is_owner,
            "memberships": memberships,
            "invitations": invitations,
            "form": StaffInviteForm() if is_owner else None,
            "valid_days": INVITATION_VALID_DAYS,
        },
    )


@login_required
@require_POST
def invite(request, merchant_id: int):
    merchant = _merchant_or_404(request.user, merchant_id)
    form = StaffInviteForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Enter a valid e-mail address to send an invitation."))
        return _back_to_team(merchant)
    try:
        invitation = staff_invite(merchant=merchant, by=request.user, email=form.cleaned_data["email"])
    except DomainError as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(
            request,
            _("Invitation sent to %(email)s. It is valid for %(days)s days.")
            % {"email": invitation.email, "days": INVITATION_VALID_DAYS},
        )
    return _back_to_team(merchant)


@login_required
@require_POST
def remove(request, merchant_id: int, membership_id: int):
    merchant = _merchant_or_404(request.user, merchant_id)
    membership = get_object_or_404(
        Membership.objects.select_related("user"),
        pk=membership_id,
        merchant=merchant,
        role__in=MERCHANT_ROLES,
    )
    name = membership.user.display_name
    try:
        staff_remove(membership=membership, by=request.user)
    except DomainError as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, _("%(name)s has been removed from the team.") % {"name": name})
    return _back_to_team(merchant)


@login_required
@require_POST
def revoke(request, merchant_id: int, invitation_id: int):
    merchant = _merchant_or_404(request.user, merchant_id)
    invitation = get_object_or_404(StaffInvitation, pk=invitation_id, merchant=merchant)
    try:
        staff_invitation_revoke(invitation=invitation, by=request.user)
    except DomainError as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(
            request, _("The invitation to %(email)s has been revoked.") % {"email": invitation.email}
        )
    return _back_to_team(merchant)


# --- Accepting an invitation ----------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def invitation_accept(request, token: str):
    invitation = get_object_or_404(StaffInvitation.objects.select_related("merchant"), token=token)
    if request.method == "POST":
        try:
            staff_invitation_accept(token=token, user=request.user)
        except DomainError as refusal:
            messages.error(request, refusal.message)
            return redirect("team:invitation_accept", token=token)
        messages.success(
            request, _("Welcome to the team of %(merchant)s.") % {"merchant": invitation.merchant}
        )
        return redirect("merchant:dashboard")
    return render(
        request,
        "team/invitation.html",
        {
            "invitation": invitation,
            "problem": invitation_problem(invitation, request.user),
            # Logged in with another account: offer to log out and come back with the invited one.
            "other_account": request.user.email.lower() != invitation.email.lower(),
            "login_again_url": reverse("account_login") + "?" + urlencode({"next": request.path}),
        },
    )


# --- Settings: the designated mediator and the text to publish (D5, L616-1, R616-1) ---------------

TEAM_PAGE_SIZE = 50

NOTICE_LANGUAGES = [("fr", "Français"), ("en", "English")]


def mediation_notice(merchant: Merchant, language: str) -> dict:
    """The information the merchant must publish, in `language`, as plain text and as HTML."""
    body = merchant.mediation_body
    context = {
        "merchant_name": str(merchant),
        "mediator_name": body.name,
        "mediator_website": body.website,
        "takes_part": merchant.takes_part_in_mediation,
        "platform_url": settings.ODR_PUBLIC_URL.rstrip("/") + "/",
        "response_days": settings.ODR_MERCHANT_RESPONSE_DAYS,
        "window_years": settings.ODR_REFERRAL_WINDOW_YEARS,
    }
    with translation.override(language):
        text = render_to_string("team/notice.txt", context).strip()
        snippet = render_to_string("team/notice_snippet.html", {**context, "language": language}).strip()
    return {"language": language, "text": text, "html": snippet}


@login_required
@require_GET
def merchant_settings(request, merchant_id: int):
    merchant = _merchant_or_404(request.user, merchant_id)
    notices = [
        {**mediation_notice(merchant, code), "name": name, "code": code} for code, name in NOTICE_LANGUAGES
    ]
    return render(
        request,
        "team/settings.html",
        {
            "merchant": merchant,
            "body": merchant.mediation_body,
            "is_owner": is_merchant_owner(request.user, merchant),
            "notices": notices,
        },
    )
