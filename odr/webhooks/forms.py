from django import forms
from django.utils.translation import gettext_lazy as _

from .events import EVENT_CHOICES
from .models import validate_webhook_url


class EndpointForm(forms.Form):
    url = forms.URLField(
        label=_("Address (HTTPS)"),
        max_length=500,
        assume_scheme="https",
        validators=[validate_webhook_url],
        widget=forms.URLInput(attrs={"placeholder": "https://", "autocomplete": "off"}),
    )
    description = forms.CharField(label=_("Description (optional)"), max_length=200, required=False)
    events = forms.MultipleChoiceField(
        label=_("Events to send"), choices=EVENT_CHOICES, widget=forms.CheckboxSelectMultiple
    )


class EndpointEditForm(EndpointForm):
    active = forms.BooleanField(label=_("Active: send events to this address"), required=False)
