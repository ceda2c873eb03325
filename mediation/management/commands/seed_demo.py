from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from complaints.models import Complaint
from mediation.demo import DEMO_PASSWORD, LOGINS, seed_demo
from mediation.models import MediationCase


class Command(BaseCommand):
    help = "Create the demo data (idempotent) and print the demo logins."

    def handle(self, *args, **options):
        if not (settings.DEBUG or settings.TESTING):
            # The demo's superuser and its published password must never reach a real deployment.
            raise CommandError("seed_demo creates well-known demo accounts: it runs only with DEBUG=1.")
        created = seed_demo()
        if created:
            self.stdout.write(self.style.SUCCESS("Demo data created."))
        else:
            self.stdout.write("Demo data already present: nothing changed.")
        self.stdout.write(
            f"{Complaint.objects.count()} complaints, {MediationCase.objects.count()} mediation cases.\n"
        )
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        width = max(len(email) for email, _ in LOGINS)
        for email, role in LOGINS:
            self.stdout.write(f"  {email.ljust(width)}  {role}")
