"""`manage.py create_api_key --merchant "Lumière" --name ci --scopes read_write`: a merchant's API key
made through the same service as the merchant portal (`odr.api.keys.api_key_create`), for scripts
(CI, the schemathesis run, a shop's first integration before anyone opens the portal)."""

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from odr.accounts.models import Merchant, Role, User
from odr.api.keys import api_key_create
from odr.api.models import ApiKeyScope
from odr.errors import DomainError


class Command(BaseCommand):
    help = (
        "Create an API key for a merchant, made by one of its owners, and print the full key once "
        "(alone on stdout, so that scripts can capture it). The platform keeps only its hash."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--merchant", required=True, help="Part of the merchant's name, or its SIREN/SIRET."
        )
        parser.add_argument("--name", required=True, help="Where the key is used, e.g. 'ci'.")
        parser.add_argument("--scopes", default=ApiKeyScope.READ, choices=ApiKeyScope.values)
        parser.add_argument(
            "--owner",
            help="E-mail address of the owner the key acts as (default: the merchant's only owner).",
        )

    def handle(self, *args, merchant, name, scopes, owner, **options):
        matches = Merchant.objects.filter(
            Q(legal_name__icontains=merchant)
            | Q(trading_name__icontains=merchant)
            | Q(registration_number=merchant)
        )
        if matches.count() != 1:
            raise CommandError(f"{matches.count()} merchants match {merchant!r}: be more precise.")
        found = matches.get()
        owners = User.objects.filter(
            memberships__merchant=found, memberships__role=Role.MERCHANT_OWNER, is_active=True
        ).order_by("pk")
        if owner:
            owners = owners.filter(email=owner.lower())
            if not owners.exists():
                raise CommandError(f"{owner} is not an active owner of {found}.")
        elif owners.count() != 1:
            raise CommandError(f"{found} has {owners.count()} active owners: choose one with --owner.")
        try:
            key, full_key = api_key_create(merchant=found, by=owners.first(), name=name, scopes=scopes)
        except DomainError as exc:
            raise CommandError(str(exc.message)) from exc
        self.stderr.write(
            f"Key {key.prefix} ({key.scopes}) created for merchant #{found.pk}, acting as user "
            f"#{key.created_by_id}. It is shown only now: store it."
        )
        self.stdout.write(full_key)
