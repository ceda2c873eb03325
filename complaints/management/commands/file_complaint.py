from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q
from django.utils import timezone

from complaints.models import Category
from complaints.services import complaint_file
from odr.accounts.models import Merchant, User
from odr.errors import DomainError


class Command(BaseCommand):
    help = (
        "File a complaint as a consumer, through the same service as the portal (until the portals "
        "exist, this is how to try the complaint stage from the shell)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--consumer", required=True, help="The consumer's e-mail address.")
        parser.add_argument(
            "--merchant", required=True, help="Part of the merchant's name, or its SIREN/SIRET."
        )
        parser.add_argument("--category", default=Category.NON_DELIVERY, choices=Category.values)
        parser.add_argument("--description", default="Commande payée, jamais livrée.")
        parser.add_argument("--wants", default="Le remboursement de ma commande.")
        parser.add_argument("--amount-cents", type=int, default=None)

    def handle(self, *args, consumer, merchant, category, description, wants, amount_cents, **options):
        try:
            person = User.objects.get(email=consumer.lower())
        except User.DoesNotExist as exc:
            raise CommandError(f"No user with the e-mail address {consumer}.") from exc
        matches = Merchant.objects.filter(
            Q(legal_name__icontains=merchant)
            | Q(trading_name__icontains=merchant)
            | Q(registration_number=merchant)
        )
        if matches.count() != 1:
            raise CommandError(f"{matches.count()} merchants match {merchant!r}: be more precise.")
        try:
            complaint = complaint_file(
                consumer=person,
                merchant=matches.get(),
                category=category,
                description=description,
                desired_outcome=wants,
                amount_cents=amount_cents,
            )
        except DomainError as exc:
            raise CommandError(str(exc.message)) from exc
        due = complaint.response_due_at.astimezone(timezone.get_current_timezone())
        self.stdout.write(
            f"Filed {complaint.reference}; the merchant must answer by {due:%Y-%m-%d %H:%M %Z}."
        )
