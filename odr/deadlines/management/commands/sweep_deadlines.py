from django.core.management.base import BaseCommand

from odr.deadlines.sweep import sweep_deadlines


class Command(BaseCommand):
    help = "Fire the legal deadlines that are due and send due reminders (beat runs this every minute)."

    def handle(self, *args, **options):
        report = sweep_deadlines()
        for line in report.due:
            self.stdout.write(f"due: {line}")
        for line in report.reminders:
            self.stdout.write(f"reminder: {line}")
        for line in report.failed:
            self.stderr.write(f"FAILED: {line}")
        self.stdout.write(
            f"{len(report.due)} deadline(s) fired, {len(report.reminders)} reminder(s) sent, "
            f"{len(report.failed)} failure(s)."
        )
        if report.failed:
            raise SystemExit(1)
