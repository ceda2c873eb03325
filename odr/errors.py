"""Domain errors: what a service raises when the law or the state of a case refuses an action.

Views turn them into a message for the person, the API into HTTP 409 (or 403/404 for `Forbidden`).
Every message is translatable and says what is wrong in words a consumer understands.
"""

from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    """A refused action. `code` is stable for machines; `message` is for people."""

    code = "refused"
    default_message = _("This action is not possible.")

    def __init__(self, message=None, *, code: str | None = None):
        self.message = message if message is not None else self.default_message
        if code is not None:
            self.code = code
        super().__init__(str(self.message))


class TransitionRefused(DomainError):
    """The case is not in a state that allows this action (or a condition of the law is not met)."""

    code = "transition_refused"
    default_message = _("This action is not possible at this stage of the case.")


class Forbidden(DomainError):
    """The person acting has no role that allows this action on this case."""

    code = "forbidden"
    default_message = _("You are not allowed to do this on this case.")


class InvalidInput(DomainError):
    code = "invalid"
    default_message = _("Some of the information given is not valid.")
