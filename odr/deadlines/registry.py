"""What to do when a deadline of a kind falls due, and when to remind before it.

The stages register, per deadline kind, the service to call when a deadline is due and, for duties,
the one that reminds the person who must act (`register_deadline_handler`, in their AppConfig.ready):
this package never imports a stage. Kept apart from the sweep because opening and moving a deadline
(odr.deadlines.services) need the reminder days too, to schedule the first reminder.
"""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class DeadlineHandler:
    on_due: Callable[[object], object]
    on_remind: Callable[[object, int], object] | None = None
    # Read when a reminder is scheduled (opening, moving, firing the previous one): see reminders.py.
    remind_days: Callable[[], list[int]] | None = None


_handlers: dict[str, DeadlineHandler] = {}


def register_deadline_handler(kind: str, handler: DeadlineHandler) -> None:
    _handlers[kind] = handler


def handler_for(kind: str) -> DeadlineHandler | None:
    return _handlers.get(kind)


def remind_days_for(kind: str) -> list[int]:
    """The reminder days of `kind` (days before the due day), or [] when the kind has no reminders."""
    handler = _handlers.get(kind)
    if handler is None or handler.on_remind is None or handler.remind_days is None:
        return []
    return sorted({int(d) for d in handler.remind_days() if int(d) >= 0}, reverse=True)
