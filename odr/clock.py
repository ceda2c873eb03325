"""The platform's clock.

Every service asks this module for the current time instead of calling `timezone.now()` directly, so
that a whole scenario can be played at a chosen moment: the demo seeds cases that were filed months ago
through the very same services, and imports can backdate a fact they recorded elsewhere. Tests move
time with time-machine instead, which this module follows because it reads `timezone.now()`.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime

from django.utils import timezone

_frozen_at: ContextVar[datetime | None] = ContextVar("odr_clock_frozen_at", default=None)


def now() -> datetime:
    """The current aware datetime, or the moment set by `at()`."""
    return _frozen_at.get() or timezone.now()


@contextmanager
def at(moment: datetime) -> Iterator[None]:
    """Run the block as if it were `moment` (aware)."""
    if timezone.is_naive(moment):
        raise ValueError("odr.clock.at() needs an aware datetime")
    token = _frozen_at.set(moment)
    try:
        yield
    finally:
        _frozen_at.reset(token)
