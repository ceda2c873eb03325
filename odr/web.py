"""Small helpers every browser view uses, so that views stay thin and answer alike."""

from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404

from odr.errors import DomainError


def get_or_404(selector: Callable, *args, **kwargs):
    """Run a `*_get_for` selector; a missing row and a forbidden one are the same 404 (D30)."""
    try:
        return selector(*args, **kwargs)
    except ObjectDoesNotExist as exc:
        raise Http404 from exc


def attempt(request, action: Callable, *, success: str = ""):
    """Call one service. A refusal becomes a message for the person (nothing was saved: the service's
    transaction rolled back) and the result is None; success adds `success` as a message."""
    try:
        result = action()
    except DomainError as error:
        messages.error(request, str(error.message))
        return None
    if success:
        messages.success(request, success)
    return result if result is not None else True


def form_errors(request, form) -> None:
    """A form that did not validate: its errors as messages, for views that redirect back."""
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        for error in errors:
            messages.error(request, f"{label}: {error}" if label else error)
