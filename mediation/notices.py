"""The notices read before consenting in the mediation stage (D31): entering mediation, and each
answer to a proposal, whose notice is the proposal itself with its mandatory statements."""

from django.utils import translation
from django.utils.translation import gettext_lazy as _

NOTICE_VERSION = "2026-11-23"

ENTER_MEDIATION_NOTICE = _(
    "I refer my dispute to the consumer mediator. Mediation is free for me. Either party may withdraw "
    "at any time. The mediator will propose a solution that I am free to accept or refuse, and I keep "
    "the right to go to court."
)


def notice_text(notice, language: str) -> str:
    """The notice exactly as shown in `language`."""
    with translation.override(language):
        return str(notice)


def proposal_answer_notice(proposal, *, accept: bool, language: str) -> str:
    """What the party read and decided: the solution, the statements in its language, the answer."""
    snapshot = proposal.statements.get(language) or next(iter(proposal.statements.values()))
    with translation.override(language):
        decision = _("I accept the proposed solution.") if accept else _("I refuse the proposed solution.")
        return "\n\n".join(
            [proposal.solution, *snapshot["statements"], snapshot["legal_effect"], str(decision)]
        )
