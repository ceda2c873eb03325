"""Forms of the complaint pages: they parse and check input; the services decide."""

from django import forms
from django.utils.translation import gettext_lazy as _

from odr import clock

from .models import AnswerDecision, Category

CURRENCIES = [("EUR", "EUR"), ("GBP", "GBP"), ("CHF", "CHF"), ("USD", "USD")]


class MerchantSearchForm(forms.Form):
    q = forms.CharField(
        label=_("Merchant's name, SIREN/SIRET, VAT number or website"), max_length=200, required=False
    )


class MerchantInviteForm(forms.Form):
    name = forms.CharField(label=_("Merchant's name"), max_length=200)
    website = forms.URLField(label=_("Website"), required=False, assume_scheme="https")
    email = forms.EmailField(label=_("Merchant's e-mail address"))


class DetailsForm(forms.Form):
    category = forms.ChoiceField(label=_("What is the problem about?"), choices=Category.choices)
    order_reference = forms.CharField(label=_("Order or contract number"), max_length=100, required=False)
    order_date = forms.DateField(
        label=_("Order date"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    amount = forms.DecimalField(
        label=_("Amount in dispute"), required=False, min_value=0, max_digits=12, decimal_places=2
    )
    currency = forms.ChoiceField(label=_("Currency"), choices=CURRENCIES, initial="EUR")
    description = forms.CharField(label=_("What happened?"), widget=forms.Textarea(attrs={"rows": 6}))
    desired_outcome = forms.CharField(
        label=_("What do you want from the merchant?"), widget=forms.Textarea(attrs={"rows": 3})
    )
    written_complaint_date = forms.DateField(
        label=_("Date of an earlier written complaint to the merchant, if any"),
        help_text=_("Leave empty if this is your first written complaint: filing it here counts as one."),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def clean(self):
        cleaned = super().clean()
        today = clock.now().date()
        for name in ("order_date", "written_complaint_date"):
            if cleaned.get(name) and cleaned[name] > today:
                self.add_error(name, _("This date is in the future."))
        return cleaned

    def answers(self) -> dict:
        """The cleaned answers as the draft keeps them (JSON: dates and amounts as strings)."""
        data = self.cleaned_data
        return {
            "category": data["category"],
            "order_reference": data["order_reference"],
            "order_date": data["order_date"].isoformat() if data["order_date"] else "",
            "amount": str(data["amount"]) if data["amount"] is not None else "",
            "currency": data["currency"],
            "description": data["description"],
            "desired_outcome": data["desired_outcome"],
            "written_complaint_date": (
                data["written_complaint_date"].isoformat() if data["written_complaint_date"] else ""
            ),
        }


class EvidenceForm(forms.Form):
    # "Continue" submits the same form without a file: the browser must not block it.
    use_required_attribute = False

    file = forms.FileField(
        label=_("Add a file"),
        help_text=_("PDF, JPEG, PNG or plain text; up to 10 MB per file."),
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.jpg,.jpeg,.png,.txt"}),
    )


class ConsentsForm(forms.Form):
    consent_processing = forms.BooleanField(label=_("I consent to the processing of my complaint's data."))
    consent_sharing = forms.BooleanField(
        label=_("I consent to my complaint being shared with the merchant and, if I refer it, the mediator.")
    )


# The merchant's choice as the merchant says it (the stored labels describe it: "Rejects the complaint").
ANSWER_CHOICES = [
    (AnswerDecision.ACCEPT, _("Accept the request")),
    (AnswerDecision.OFFER, _("Make an offer")),
    (AnswerDecision.REJECT, _("Reject the complaint")),
]


class AnswerForm(forms.Form):
    decision = forms.ChoiceField(label=_("Your decision"), choices=ANSWER_CHOICES, widget=forms.RadioSelect)
    text = forms.CharField(label=_("Your answer to the customer"), widget=forms.Textarea(attrs={"rows": 5}))
    amount = forms.DecimalField(
        label=_("Amount offered (for an offer)"), required=False, min_value=0, max_digits=12, decimal_places=2
    )
    terms = forms.CharField(
        label=_("Terms of the offer"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class MessageForm(forms.Form):
    body = forms.CharField(
        label=_("Your message"), widget=forms.Textarea(attrs={"rows": 3}), max_length=10000
    )


class OfferForm(forms.Form):
    amount = forms.DecimalField(
        label=_("Amount"), required=False, min_value=0, max_digits=12, decimal_places=2
    )
    terms = forms.CharField(label=_("What you propose"), widget=forms.Textarea(attrs={"rows": 2}))
    responds_to = forms.IntegerField(required=False, widget=forms.HiddenInput)


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        label=_("Why do you withdraw your complaint? (optional)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


def cents(amount) -> int | None:
    return None if amount is None else int((amount * 100).to_integral_value())
