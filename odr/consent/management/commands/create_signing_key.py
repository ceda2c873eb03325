from django.conf import settings
from django.core.management.base import BaseCommand

from odr.consent.keys import signing_key_create


class Command(BaseCommand):
    help = (
        "Create a new Ed25519 key for signing consent receipts (D32) and print its kid. The new key "
        "signs from now on; older keys stay published so that the receipts they signed keep verifying."
    )

    def handle(self, *args, **options):
        kid = signing_key_create()
        self.stderr.write(f"Key stored in {settings.ODR_SIGNING_KEYS_DIR} (readable by its owner only).")
        # The kid alone on stdout, so that scripts can capture it.
        self.stdout.write(kid)
