"""`python manage.py case_figures [--rebuild] [--body SLUG]`: the compliance dashboard's day buckets.

Without --rebuild: count the changes waiting (what the worker does every minute), until none is left.
With --rebuild: recount every day of each body (or of --body) from its cases and breaches: the backfill
after the migration that adds the buckets, and the repair after a body changes its time zone.
"""

from django.core.management.base import BaseCommand, CommandError

from mediation.case_figures import case_figures_rebuild, case_figures_refresh
from odr.accounts.models import MediationBody


class Command(BaseCommand):
    help = "Refresh (or, with --rebuild, recount from scratch) the compliance dashboard's day buckets."

    def add_arguments(self, parser):
        parser.add_argument("--rebuild", action="store_true", help="recount every day from the cases")
        parser.add_argument("--body", help="only this mediation body (its short name, slug); with --rebuild")

    def handle(self, *args, rebuild: bool, body: str | None, **options):
        if body and not rebuild:
            raise CommandError("--body goes with --rebuild.")
        if not rebuild:
            total = 0
            while True:
                report = case_figures_refresh()
                if report.busy:
                    raise CommandError("Another refresh of the case figures is running; try again.")
                total += report.changes
                if not report.left:
                    break
            self.stdout.write(f"{total} change(s) counted.")
            return
        bodies = MediationBody.objects.order_by("slug")
        if body:
            bodies = bodies.filter(slug=body)
            if not bodies.exists():
                known = ", ".join(MediationBody.objects.order_by("slug").values_list("slug", flat=True))
                raise CommandError(f"No mediation body {body!r}. Known bodies: {known or 'none'}.")
        for each in bodies.iterator():
            try:
                days = case_figures_rebuild(body=each)
            except RuntimeError as error:
                raise CommandError(str(error)) from error
            self.stdout.write(f"{each.slug}: {days} day(s) recounted.")
