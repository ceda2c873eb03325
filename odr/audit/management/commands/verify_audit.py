from django.core.management.base import BaseCommand, CommandError

from odr.audit.services import audit_verify


class Command(BaseCommand):
    help = (
        "Verify the audit trail's hash chains (D34), every chain against its head; exits non-zero at "
        "the first problem, naming the case and what is wrong."
    )

    def add_arguments(self, parser):
        parser.add_argument("--case", dest="case", help="Only the chain of this case reference.")
        parser.add_argument(
            "--jobs",
            type=int,
            default=1,
            help="Check the chains in this many processes (disjoint ranges of cases, one connection each).",
        )
        parser.add_argument(
            "--since-checkpoint",
            action="store_true",
            help=(
                "Only the events added since the last signed checkpoint, "
                "each chain from its checkpointed hash."
            ),
        )

    def handle(self, *args, case=None, jobs=1, since_checkpoint=False, **options):
        if jobs < 1:
            raise CommandError("--jobs must be at least 1.")
        result = audit_verify(stream=case, jobs=jobs, since_checkpoint=since_checkpoint)
        if not result.ok:
            event = result.broken_event
            where = f"event {event.stream} #{event.seq}"
            if event.pk is not None:
                where += f" ({event.kind}, id {event.pk})"
            elif event.seq:
                where = f"chain {event.stream} (head #{event.seq})"
            raise CommandError(
                f"BROKEN: {where}: {result.problem}. {result.checked} event(s) before it verified."
            )
        if case and result.checked == 0:
            raise CommandError(f"No audit events for case {case}.")
        scope = "added since the last checkpoint " if since_checkpoint else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"OK: {result.checked} event(s) {scope}in {result.streams} chain(s) verified, "
                "every chain unbroken and matching its head."
            )
        )
