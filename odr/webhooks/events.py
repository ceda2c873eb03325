"""The catalogue of webhook events a merchant can subscribe to.

The stages (complaints, mediation) emit them by name through `odr.webhooks.services.webhooks_emit`;
an unknown name is a programming error. Payloads carry ids, references, states and dates only: the
receiver fetches anything else through the REST API with its API key.
"""

from django.utils.translation import gettext_lazy as _

EVENTS: dict[str, str] = {
    "complaint.filed": _("A complaint is filed against your business"),
    "complaint.answered": _("Your business answered a complaint"),
    "complaint.message": _("The consumer sent a message about a complaint"),
    "complaint.deadline_soon": _("The period to answer a complaint ends soon"),
    "complaint.closed": _("A complaint is closed (resolved, withdrawn or expired)"),
    "complaint.referred": _("A complaint is referred to the mediator"),
    "mediation.received": _("The mediator received a referral"),
    "mediation.opened": _("The mediation is opened (notice of saisine)"),
    "proposal.issued": _("The mediator issued a proposal"),
    "case.closed": _(
        "A mediation case is closed (settled, no agreement, discontinued, declined or rejected)"
    ),
}

EVENT_CHOICES = list(EVENTS.items())
