"""Human-readable, gap-free case references: `C-2026-000123` (D1), `M-2026-000045`.

A counter row per prefix and year, incremented under a row lock inside the caller's transaction: two
complaints filed at the same instant get two numbers, and a rolled-back filing gives its number back.
"""

from django.db import IntegrityError, transaction

from odr import clock
from odr.deadlines.calendar import local_date, zone

from .models import ReferenceSequence


def reference_next(prefix: str, *, time_zone: str | None = None) -> str:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("reference_next() must run inside the use case's transaction")
    year = local_date(clock.now(), zone(time_zone)).year
    sequence = ReferenceSequence.objects.select_for_update().filter(prefix=prefix, year=year).first()
    if sequence is None:
        try:
            with transaction.atomic():
                sequence = ReferenceSequence.objects.create(prefix=prefix, year=year)
        except IntegrityError:  # another transaction created this year's counter just now
            pass
        sequence = ReferenceSequence.objects.select_for_update().get(prefix=prefix, year=year)
    sequence.last_value += 1
    sequence.save(update_fields=["last_value"])
    return f"{prefix}-{year}-{sequence.last_value:06d}"
