from django.db import models


class ReferenceSequence(models.Model):
    """The last number handed out for one prefix and year (C-2026-…, M-2026-…)."""

    prefix = models.CharField(max_length=4)
    year = models.PositiveSmallIntegerField()
    last_value = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["prefix", "year"], name="reference_sequence")]

    def __str__(self):
        return f"{self.prefix}-{self.year}: {self.last_value}"
