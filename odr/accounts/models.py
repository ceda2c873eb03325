"""People and organisations: users, mediation bodies, merchants, and who works for whom.

A consumer is simply a user without any membership. Everyone else acts through a Membership that ties
them, with one role, to one merchant (owner, agent) or one mediation body (mediator, compliance).
"""

import secrets
from datetime import timedelta
from zoneinfo import available_timezones

from django.contrib.auth.base_user import BaseUserManager
from django.contrib.auth.models import AbstractUser
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An e-mail address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    """A person who logs in with an e-mail address."""

    username = None
    email = models.EmailField(_("e-mail address"), unique=True)
    preferred_language = models.CharField(
        _("preferred language"),
        max_length=8,
        default="fr",
        choices=[("fr", "Français"), ("en", "English")],
    )

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self):
        return self.get_full_name() or self.email

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.email


def _time_zone_choices():
    return [(name, name) for name in sorted(available_timezones()) if "/" in name]


class MediationBody(models.Model):
    """A consumer mediator (or body of mediators) listed by the national evaluation commission."""

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("short name"), unique=True)
    website = models.URLField(_("website"))
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="Europe/Paris", choices=_time_zone_choices
    )
    listing_number = models.CharField(
        _("listing number"),
        max_length=64,
        blank=True,
        help_text=_("Reference of the listing by the evaluation commission (CECMC)."),
    )
    paid_by_single_merchant = models.BooleanField(
        _("paid by a single merchant"),
        default=False,
        help_text=_("Such a mediator reports the share of outcomes in favour of each side (D36)."),
    )

    class Meta:
        verbose_name = _("mediation body")
        verbose_name_plural = _("mediation bodies")
        ordering = ["name"]

    def __str__(self):
        return self.name


registration_validator = RegexValidator(
    r"^(\d{9}|\d{14})$", _("A SIREN has 9 digits and a SIRET 14 digits, without spaces.")
)
vat_validator = RegexValidator(
    r"^[A-Z]{2}[0-9A-Z+*]{2,13}$",
    _("An EU VAT number starts with the country code, e.g. FR12345678901."),
)


class Merchant(models.Model):
    """A business selling to consumers. It cannot exist without a designated mediator (D5)."""

    legal_name = models.CharField(_("legal name"), max_length=200)
    trading_name = models.CharField(_("trading name"), max_length=200, blank=True)
    registration_number = models.CharField(
        _("SIREN or SIRET"), max_length=14, blank=True, validators=[registration_validator]
    )
    vat_number = models.CharField(_("VAT number"), max_length=15, blank=True, validators=[vat_validator])
    website = models.URLField(_("website"))
    contact_email = models.EmailField(_("complaints e-mail address"), blank=True)
    country = models.CharField(_("country"), max_length=2, default="FR")
    # D5 / L616-1: the designated mediator is mandatory; PROTECT keeps a body with merchants from
    # being deleted and leaving them without one.
    mediation_body = models.ForeignKey(
        MediationBody,
        on_delete=models.PROTECT,
        related_name="merchants",
        verbose_name=_("designated mediation body"),
    )
    # D4 / Dir. 13(3): the consumer must be told whether the merchant will take part in mediation.
    takes_part_in_mediation = models.BooleanField(_("takes part in mediation"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("merchant")
        verbose_name_plural = _("merchants")
        ordering = ["legal_name"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(registration_number="") | ~Q(vat_number=""),
                name="merchant_has_registration_or_vat",
                violation_error_message=_("Give a SIREN/SIRET or a VAT number."),
            ),
        ]

    def __str__(self):
        return self.trading_name or self.legal_name


class Role(models.TextChoices):
    MERCHANT_OWNER = "merchant_owner", _("Merchant owner")
    MERCHANT_AGENT = "merchant_agent", _("Merchant agent")
    MEDIATOR = "mediator", _("Mediator")
    COMPLIANCE_OFFICER = "compliance_officer", _("Compliance officer")


MERCHANT_ROLES = (Role.MERCHANT_OWNER, Role.MERCHANT_AGENT)
BODY_ROLES = (Role.MEDIATOR, Role.COMPLIANCE_OFFICER)


class Membership(models.Model):
    """One role of one user in one organisation: merchant staff, or mediator / compliance officer."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=32, choices=Role.choices)
    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, null=True, blank=True, related_name="memberships"
    )
    mediation_body = models.ForeignKey(
        MediationBody, on_delete=models.CASCADE, null=True, blank=True, related_name="memberships"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            # A merchant role belongs to a merchant, a body role to a mediation body; never both.
            models.CheckConstraint(
                condition=(
                    Q(role__in=MERCHANT_ROLES, merchant__isnull=False, mediation_body__isnull=True)
                    | Q(role__in=BODY_ROLES, merchant__isnull=True, mediation_body__isnull=False)
                ),
                name="membership_role_matches_organisation",
                violation_error_message=_(
                    "Merchant roles need a merchant; mediator and compliance roles need a mediation body."
                ),
            ),
            models.UniqueConstraint(
                fields=["user", "role", "merchant"],
                condition=Q(merchant__isnull=False),
                name="membership_unique_merchant_role",
            ),
            models.UniqueConstraint(
                fields=["user", "role", "mediation_body"],
                condition=Q(mediation_body__isnull=False),
                name="membership_unique_body_role",
            ),
        ]

    def __str__(self):
        return f"{self.user} — {self.get_role_display()} — {self.merchant or self.mediation_body}"


# How long an invitation link stays valid (not a legal period: a security choice).
INVITATION_VALID_DAYS = 14


def new_invitation_token() -> str:
    return secrets.token_urlsafe(32)


class StaffInvitation(models.Model):
    """An invitation, sent by e-mail by a merchant's owner, to join its team as an agent.

    The role is always merchant agent: owners are set up by platform staff in the admin. The token in
    the link is the only secret; the invitation is pending until it is accepted, revoked or
    INVITATION_VALID_DAYS old. E-mail addresses are stored in lower case.
    """

    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="staff_invitations", verbose_name=_("merchant")
    )
    email = models.EmailField(_("e-mail address"))
    invited_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", verbose_name=_("invited by")
    )
    token = models.CharField(max_length=64, unique=True, default=new_invitation_token, editable=False)
    invited_at = models.DateTimeField(_("invited"))
    accepted_at = models.DateTimeField(_("accepted"), null=True, blank=True)
    accepted_by = models.ForeignKey(
        User,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("accepted by"),
    )
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        verbose_name = _("staff invitation")
        verbose_name_plural = _("staff invitations")
        ordering = ["-invited_at"]
        indexes = [models.Index(fields=["merchant", "email"], name="staffinvite_merchant_email")]

    def __str__(self):
        return f"{self.email} → {self.merchant}"

    @property
    def role(self) -> str:
        return Role.MERCHANT_AGENT

    @property
    def expires_at(self):
        return self.invited_at + timedelta(days=INVITATION_VALID_DAYS)

    def is_pending(self, now) -> bool:
        return self.accepted_at is None and self.revoked_at is None and now < self.expires_at
