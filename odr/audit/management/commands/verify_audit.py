from django.core.management.base import BaseCommand, CommandError

from odr.audit.services import audit_verify


class Command(BaseCommand):
    help = "Verify the audit trail's hash chains (D34); exits non-zero at the first broken event."

    def add_arguments(self, parser):
        parser.add_argument("--case", dest="case", help="Only the chain of this case reference.")

    def handle(self, *args, case=None, **options):
        result = audit_verify(stream=case)
        if not result.ok:
            event = result.broken_event
            raise CommandError(
                f"BROKEN: event {event.stream} #{event.seq} ({event.kind}, id {event.pk}): "
                f"{result.problem}. {result.checked} event(s) before it verified."
            )
        if case and result.checked == 0:
            raise CommandError(f"No audit events for case {case}.")
        self.stdout.write(
            self.style.SUCCESS(
                f"OK: {result.checked} event(s) in {result.streams} chain(s) verified, chain unbroken."
            )
        )
