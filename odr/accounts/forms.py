"""What sign-up asks beyond e-mail and password: the person's name, which the merchant and the
mediator need to recognise their customer, and which the receipts and records carry."""

from django import forms
from django.utils.translation import gettext_lazy as _


class SignupNameForm(forms.Form):
    first_name = forms.CharField(
        label=_("First name"), max_length=150, widget=forms.TextInput({"autocomplete": "given-name"})
    )
    last_name = forms.CharField(
        label=_("Last name"), max_length=150, widget=forms.TextInput({"autocomplete": "family-name"})
    )

    field_order = ["first_name", "last_name"]

    def signup(self, request, user):
        """Called by allauth once the user exists."""
        user.first_name = self.cleaned_data["first_name"].strip()
        user.last_name = self.cleaned_data["last_name"].strip()
        user.save(update_fields=["first_name", "last_name"])
