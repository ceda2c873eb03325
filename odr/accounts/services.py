"""Merchant team use cases: an owner invites agents by e-mail, revokes invitations, removes agents.

Each one runs in one transaction: lock the row it changes, check the actor's role, change, write the
audit event on the merchant's own chain (`merchant-<id>`), add the outbox rows. A refused action
leaves nothing behind. Owners themselves are set up (and changed) by platform staff in the admin.
"""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from odr import clock
from odr.audit.services import audit_record
from odr.errors import Forbidden, InvalidInput
from odr.locking import lock
from odr.notifications.services import outbox_email

from .models import (
    BODY_ROLES,
    INVITATION_VALID_DAYS,
    MERCHANT_ROLES,
    Membership,
    Merchant,
    Role,
    StaffInvitation,
    User,
)
from .selectors import is_merchant_owner


def merchant_stream(merchant: Merchant) -> str:
    """The audit chain of a merchant's team events."""
    return f"merchant-{merchant.pk}"


def _audit(merchant: Merchant, kind: str, *, actor: User, role: str, **payload) -> None:
    audit_record(stream=merchant_stream(merchant), kind=kind, actor=actor, actor_role=role, payload=payload)


def _require_owner(user, merchant: Merchant, message) -> None:
    if not is_merchant_owner(user, merchant):
        raise Forbidden(message)


def _normalised_email(email: str) -> str:
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidInput(_("Enter a valid e-mail address.")) from None
    return email


def pending_invitations(merchant: Merchant, now=None):
    """Invitations of `merchant` still waiting for an answer (not accepted, revoked or expired)."""
    now = now or clock.now()
    return StaffInvitation.objects.filter(
        merchant=merchant,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        invited_at__gt=now - timedelta(days=INVITATION_VALID_DAYS),
    )


def has_acted_as_consumer(user: User) -> bool:
    """Whether `user` has filed a complaint. Read through the reverse relation the complaint stage
    declares on the user (`related_name="complaints"`), so that odr.accounts imports no stage."""
    return user.complaints.exists()


def _public(path: str) -> str:
    return settings.ODR_PUBLIC_URL.rstrip("/") + path


def invitation_links(invitation: StaffInvitation) -> dict[str, str]:
    """The invitation page, and the sign-up page that leads back to it once the address is verified."""
    path = reverse("team:invitation_accept", kwargs={"token": invitation.token})
    signup = reverse("account_signup") + "?" + urlencode({"next": path})
    return {"accept_url": _public(path), "signup_url": _public(signup)}


# --- Inviting -------------------------------------------------------------------------------------


def staff_invite(*, merchant: Merchant, by: User, email: str) -> StaffInvitation:
    """The merchant's owner invites `email` to join the team as an agent; the link goes by e-mail."""
    with transaction.atomic():
        # The merchant's row orders concurrent invitations: two owners inviting the same address at
        # once cannot both create a pending invitation.
        merchant = lock(merchant)
        _require_owner(by, merchant, _("Only the merchant's owner can invite staff."))
        email = _normalised_email(email)
        if Membership.objects.filter(
            merchant=merchant, role__in=MERCHANT_ROLES, user__email__iexact=email
        ).exists():
            raise InvalidInput(_("%(email)s is already a member of the team.") % {"email": email})
        now = clock.now()
        if pending_invitations(merchant, now).filter(email=email).exists():
            raise InvalidInput(
                _(
                    "An invitation to %(email)s is already waiting for an answer. "
                    "Revoke it first if you want to send a new one."
                )
                % {"email": email}
            )
        invitation = StaffInvitation.objects.create(
            merchant=merchant, email=email, invited_by=by, invited_at=now
        )
        _audit(
            merchant,
            "staff.invited",
            actor=by,
            role=Role.MERCHANT_OWNER,
            invitation_id=invitation.pk,
            role_offered=Role.MERCHANT_AGENT,
        )
        outbox_email(
            key=f"staff.invited:{invitation.pk}",
            template="staff_invitation",
            to_address=email,
            language=by.preferred_language,
            context={
                "merchant_name": str(merchant),
                "invited_by_name": by.display_name,
                **invitation_links(invitation),
                "expires_at": invitation.expires_at,
                "time_zone": merchant.mediation_body.time_zone,
            },
        )
    return invitation


def staff_invitation_revoke(*, invitation: StaffInvitation, by: User) -> StaffInvitation:
    """The owner withdraws an invitation that has not been accepted: its link stops working."""
    with transaction.atomic():
        invitation = lock(invitation)
        merchant = invitation.merchant
        _require_owner(by, merchant, _("Only the merchant's owner can revoke an invitation."))
        if invitation.accepted_at is not None:
            raise InvalidInput(
                _("This invitation has already been accepted: remove the agent from the team instead.")
            )
        if invitation.revoked_at is not None:
            raise InvalidInput(_("This invitation has already been revoked."))
        invitation.revoked_at = clock.now()
        invitation.save(update_fields=["revoked_at"])
        _audit(
            merchant,
            "staff.invitation_revoked",
            actor=by,
            role=Role.MERCHANT_OWNER,
            invitation_id=invitation.pk,
        )
    return invitation


# --- Accepting ------------------------------------------------------------------------------------


def invitation_problem(invitation: StaffInvitation, user: User, now=None) -> str | None:
    """Why `user` cannot accept `invitation` now (a message for them), or None if they can.

    The invitation page shows it before anyone presses a button; `staff_invitation_accept` raises it.
    """
    now = now or clock.now()
    if invitation.revoked_at is not None:
        return _("This invitation has been revoked by the merchant.")
    if invitation.accepted_at is not None:
        return _("This invitation has already been accepted.")
    if not invitation.is_pending(now):
        return _("This invitation has expired. Ask the merchant's owner to send you a new one.")
    if (user.email or "").strip().lower() != invitation.email.lower():
        return _(
            "This invitation was sent to another e-mail address. "
            "Log in (or sign up) with the address that received it."
        )
    if Membership.objects.filter(user=user, merchant=invitation.merchant, role__in=MERCHANT_ROLES).exists():
        return _("You are already a member of this team.")
    if Membership.objects.filter(user=user, role__in=BODY_ROLES).exists():
        return _("A mediator's or compliance officer's account cannot join a merchant's team.")
    if has_acted_as_consumer(user):
        return _(
            "This account has been used as a consumer to file complaints, and a consumer account "
            "cannot become a merchant's staff. Ask the merchant's owner to invite another e-mail address."
        )
    return None


def staff_invitation_accept(*, token: str, user: User) -> Membership:
    """The invited person, logged in with the invited address, joins the team as an agent."""
    with transaction.atomic():
        invitation = (
            StaffInvitation.objects.select_for_update().select_related("merchant").filter(token=token).first()
        )
        if invitation is None:
            raise InvalidInput(_("This invitation link is not valid."))
        problem = invitation_problem(invitation, user)
        if problem:
            raise InvalidInput(problem)
        now = clock.now()
        membership = Membership.objects.create(
            user=user, role=Role.MERCHANT_AGENT, merchant=invitation.merchant
        )
        invitation.accepted_at = now
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
        _audit(
            invitation.merchant,
            "staff.joined",
            actor=user,
            role=Role.MERCHANT_AGENT,
            invitation_id=invitation.pk,
            membership_id=membership.pk,
        )
    return membership


# --- Removing -------------------------------------------------------------------------------------


def staff_remove(*, membership: Membership, by: User) -> None:
    """The owner removes an agent from the team. Owners are changed by platform staff only."""
    with transaction.atomic():
        membership = lock(membership)
        merchant = membership.merchant
        if merchant is None:
            raise Forbidden(_("Only the merchant's owner can remove staff."))
        _require_owner(by, merchant, _("Only the merchant's owner can remove staff."))
        if membership.role != Role.MERCHANT_AGENT:
            raise InvalidInput(
                _("An owner cannot be removed from the team here: the platform's staff change owners.")
            )
        _audit(
            merchant,
            "staff.removed",
            actor=by,
            role=Role.MERCHANT_OWNER,
            membership_id=membership.pk,
            user_id=membership.user_id,
            removed_role=membership.role,
        )
        membership.delete()
