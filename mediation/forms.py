"""Forms of the parties' side of a mediation: they parse input; the services decide."""

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import ExcludedSubject

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
