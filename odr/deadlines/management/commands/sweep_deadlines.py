from django.core.management.base import BaseCommand

from odr.deadlines.services import deadline_reminders_reschedule
from odr.deadlines.sweep import sweep_deadlines


class Command(BaseCommand):
    help = "Fire the legal deadlines that are due and send due reminders (beat runs this every minute)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--reschedule-reminders",
            action="store_true",
            help="Recompute every pending deadline's next reminder from the reminder days now set "
            "(after changing ODR_*_REMINDER_DAYS), instead of sweeping.",
        )

    def handle(self, *args, **options):
        if options["reschedule_reminders"]:
            changed = deadline_reminders_reschedule()
            self.stdout.write(f"{changed} deadline(s) rescheduled.")
            return
        report = sweep_deadlines()
        for line in report.due:
            self.stdout.write(f"due: {line}")
        for line in report.reminders:
            self.stdout.write(f"reminder: {line}")
        for line in report.failed:
            self.stderr.write(f"FAILED: {line}")
        self.stdout.write(
            f"{len(report.due)} deadline(s) fired, {len(report.reminders)} reminder(s) sent, "
            f"{report.skipped} reminder(s) skipped, {len(report.failed)} failure(s)"
            + (" (capped: the next run continues)." if report.capped else ".")
        )
        if report.failed:
            raise SystemExit(1)
