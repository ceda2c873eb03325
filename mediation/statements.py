"""The statements every proposal carries (D24, C. consom. R612-4, Dir. 2013/11/EU art. 9(2)(b)-(c)).

The platform adds them to every proposal, in every language the platform speaks, and stores the exact
text shown; the mediator writes only the solution and cannot remove them.
"""

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext_lazy as _

MANDATORY_STATEMENTS = (
    _("You are free to accept or to refuse this proposed solution."),
    _("Taking part in the mediation does not prevent you from bringing the dispute before a court."),
    _("The solution proposed may differ from the decision a judge would make."),
)

LEGAL_EFFECT = _(
    "If both parties accept this proposal, the solution binds them as an agreement between them; "
    "either party may ask a judge to give it enforceable effect."
)


def statements_snapshot() -> dict[str, dict[str, object]]:
    """The statements and the legal effect, as shown, in each of the platform's languages."""
    snapshot = {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            snapshot[code] = {
                "statements": [str(text) for text in MANDATORY_STATEMENTS],
                "legal_effect": str(LEGAL_EFFECT),
            }
    return snapshot


# D15 (R612-2; Dir. 2013/11/EU art. 8(d), 9(2)(a)): the notice of saisine says so.
WITHDRAWAL_AT_ANY_TIME = _("Either party may withdraw from the mediation at any time.")

# D28 (Code civil art. 2238): the closure notice says so.
LIMITATION_RESTARTS = _(
    "The limitation period, suspended during the mediation, runs again from the closure date for at "
    "least six months."
)


def in_languages(text) -> dict[str, str]:
    """`text` in each of the platform's languages, so the outbox keeps exactly what is sent."""
    result = {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            result[code] = str(text)
    return result
