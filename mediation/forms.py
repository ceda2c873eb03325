"""Forms of the parties' side of a mediation: they parse input; the services decide."""

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from .models import Audience, ExcludedSubject, RefusalReason

YES_NO = [("yes", _("Yes")), ("no", _("No"))]


class ReferForm(forms.Form):
    """The consumer's declarations for a referral (D9, D10) and the consent to enter mediation (D31)."""

    other_proceedings = forms.ChoiceField(
        label=_("Is or was this dispute before another mediator or a court?"),
        choices=YES_NO,
        widget=forms.RadioSelect,
    )
    acting_as_consumer = forms.ChoiceField(
        label=_("Did you buy as a private person, outside any business or profession?"),
        choices=YES_NO,
        widget=forms.RadioSelect,
    )
    excluded_subject = forms.ChoiceField(
        label=_("Is the dispute about one of these?"), choices=ExcludedSubject.choices, required=False
    )
    consent = forms.BooleanField(
        label=_("I refer my dispute to the consumer mediator and accept the notice above.")
    )


# --- The mediator's case page (issue 6). Each form parses one action's input; the service decides. ---


def _text(label, *, rows: int = 4, help_text: str = "") -> forms.CharField:
    return forms.CharField(label=label, help_text=help_text, widget=forms.Textarea(attrs={"rows": rows}))


class AssignForm(forms.Form):
    """Hand a case to a colleague of the same mediation body (the choices are the view's)."""

    mediator = forms.ModelChoiceField(label=_("Colleague"), queryset=None, empty_label=None)

    def __init__(self, *args, colleagues, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["mediator"].queryset = colleagues
        self.fields["mediator"].label_from_instance = lambda user: user.display_name


class DocumentRequestForm(forms.Form):
    """D13: what is missing from the file."""

    text = _text(
        _("Documents needed"),
        help_text=_(
            "The consumer is told by e-mail. The 21-day period runs only from receipt of the complete file."
        ),
    )


class RejectForm(forms.Form):
    """D11–D12: exactly one reason code, and the mediator's written reasoning."""

    reason = forms.ChoiceField(
        label=_("Reason for refusal"),
        choices=[("", _("Choose one reason")), *RefusalReason.choices],
    )
    reasoning = _text(_("Reasoning"), rows=5, help_text=_("Sent to both parties with the reason."))


class MediatorMessageForm(forms.Form):
    """D20: to both parties, or privately to one of them."""

    audience = forms.ChoiceField(
        label=_("To"),
        choices=[
            (Audience.EVERYONE, _("Both parties")),
            (Audience.CONSUMER_PRIVATE, _("The consumer only (private)")),
            (Audience.MERCHANT_PRIVATE, _("The merchant only (private)")),
        ],
    )
    body = _text(_("Message"))


class DisclosureForm(forms.Form):
    """D22: a circumstance that could affect the mediator's independence or impartiality."""

    text = _text(
        _("Circumstance to disclose"),
        help_text=_("Both parties are told at once."),
    )


class ExtensionForm(forms.Form):
    """D17: a new outcome date and the reason, told to both parties at once."""

    new_due_date = forms.DateField(label=_("New due date"), widget=forms.DateInput(attrs={"type": "date"}))
    reason = _text(_("Reason (complex dispute)"), rows=3)


class ProposalForm(forms.Form):
    """D24–D25: the solution and the answer period. The mandatory statements are not fields: the
    service adds them, so no input can remove or change them."""

    solution = _text(_("Proposed solution"), rows=8)
    acceptance_days = forms.IntegerField(
        label=_("Days the parties have to answer"),
        min_value=1,
        max_value=365,
        help_text=_("Calendar days; the deadline ends at the end of the last day (23:59, local time)."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["acceptance_days"].initial = settings.ODR_PROPOSAL_ACCEPTANCE_DAYS


class AgreementForm(ProposalForm):
    """The terms the parties agreed on, recorded as a proposal both confirm (D24–D26)."""

    solution = _text(_("Terms the parties agreed on"), rows=8)


class CloseForm(forms.Form):
    """Close an open mediation without agreement, with written grounds (D27)."""

    grounds = _text(
        _("Grounds"),
        rows=5,
        help_text=_("Why no solution could be found. Sent to both parties with the closure notice."),
    )
