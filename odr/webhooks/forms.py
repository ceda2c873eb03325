from django import forms
from django.utils.translation import gettext_lazy as _

from .addresses import http_localhost_allowed
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

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if http_localhost_allowed():  # the demo and development: say so where the address is typed
            self.fields["url"].help_text = _(
                "On this development installation, http://localhost and http://127.0.0.1 are accepted too."
            )


class EndpointEditForm(EndpointForm):
    active = forms.BooleanField(label=_("Active: send events to this address"), required=False)
