"""The statements every proposal carries (D24, C. consom. R612-4, Dir. 2013/11/EU art. 9(2)(b)-(c)).

The platform adds them to every proposal, in every language the platform speaks, and stores the exact
text shown; the mediator writes only the solution and cannot remove them.
"""

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext_lazy as _

MANDATORY_STATEMENTS = (
    _("You are free to accept or to refuse this proposed solution."),
    _(
        "Taking part in the mediation does not prevent you from bringing the dispute before a court."
    ),
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
