from django.core.management.base import BaseCommand

from odr.consent.services import consents_expire_due


class Command(BaseCommand):
    help = "Expire every consent whose end of validity has passed, issuing its expired receipt (D31)."

    def handle(self, *args, **options):
        self.stdout.write(f"{consents_expire_due()} consent(s) expired.")
