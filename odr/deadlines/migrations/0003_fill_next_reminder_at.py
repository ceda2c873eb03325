"""Fill `next_reminder_at` for the deadlines pending when it was added.

Respects what was already done: the reminders recorded in DeadlineEffect for a deadline's current due
date are not sent again (see reminders.next_reminder_from_effects). The reminder days are the ones the
stages register in their AppConfig.ready (their settings at the time of the migration). Batched by
primary key, so that memory stays flat whatever the number of pending deadlines.
"""

from django.db import migrations
from django.utils import timezone


def fill(apps, schema_editor):
    from odr.deadlines.services import deadline_reminders_reschedule

    deadline_reminders_reschedule(
        now=timezone.now(),
        deadline_model=apps.get_model("deadlines", "Deadline"),
        effect_model=apps.get_model("deadlines", "DeadlineEffect"),
    )


class Migration(migrations.Migration):
    dependencies = [("deadlines", "0002_deadline_next_reminder_at")]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
