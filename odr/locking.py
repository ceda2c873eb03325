"""Row locks for use cases: one action on a case at a time (Saleor-style `select_for_update`)."""

from typing import TypeVar

from django.db import transaction
from django.db.models import Model

M = TypeVar("M", bound=Model)


def lock(instance: M) -> M:
    """Re-read `instance` under a row lock and return the fresh copy.

    Must run inside `transaction.atomic()`. Callers act on the returned copy only: the instance they
    held may be stale, and a second concurrent caller waits here until the first commits, then sees
    the committed state (and is refused if its transition is no longer allowed).
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("lock() must be called inside transaction.atomic()")
    # `_meta.model`, not `type(instance)`: a view passes `request.user`, a SimpleLazyObject.
    return instance._meta.model._default_manager.select_for_update().get(pk=instance.pk)
