"""Running a django-fsm-2 transition so that a refusal says why, in words a person understands.

A transition's conditions are plain functions of the instance. Give one a `refusal` attribute (with
`refusal()` below) and, when it fails, the person reads that message instead of a generic one.
"""

from collections.abc import Callable

from django_fsm import TransitionNotAllowed

from odr.errors import TransitionRefused


def refusal(message) -> Callable:
    """Decorate a transition condition with the message shown when it is not met."""

    def decorate(condition: Callable) -> Callable:
        condition.refusal = message
        return condition

    return decorate


def run_transition(instance, name: str, *args, not_in_state_message=None, **kwargs):
    """Call transition `name` on `instance`, or raise TransitionRefused with a clear message."""
    method = getattr(instance, name)
    meta = method._django_fsm
    state = meta.field.get_state(instance)
    transition = meta.get_transition(state) if meta.has_transition(state) else None
    if transition is None:
        raise (TransitionRefused(not_in_state_message) if not_in_state_message else TransitionRefused())
    for condition in transition.conditions:
        if not condition(instance):
            raise TransitionRefused(getattr(condition, "refusal", None))
    try:
        return method(*args, **kwargs)
    except TransitionNotAllowed as exc:  # pragma: no cover - guarded above; kept as a safety net
        raise TransitionRefused() from exc
