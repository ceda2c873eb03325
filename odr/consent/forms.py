from django import forms
from django.utils.translation import gettext_lazy as _

from odr.errors import InvalidInput

from .pdf import receipt_from_pdf

MAX_UPLOAD_BYTES = 2 * 1024 * 1024


class VerifyForm(forms.Form):
    """A receipt to check: pasted as text, or the PDF it came in. `compact` holds what to verify."""

    receipt = forms.CharField(
        label=_("Paste the receipt"),
        help_text=_("The long text that starts with eyJ, printed at the end of the PDF receipt."),
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false", "autocomplete": "off"}),
        required=False,
        max_length=20_000,
    )
    receipt_pdf = forms.FileField(
        label=_("Or upload the PDF receipt"),
        help_text=_("The PDF attached to the e-mail you received (2 MB at most)."),
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,.pdf"}),
        required=False,
    )

    def clean_receipt_pdf(self):
        upload = self.cleaned_data.get("receipt_pdf")
        if upload is None:
            return None
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(_("This file is larger than 2 MB: it is not a receipt from us."))
        try:
            # Read from the file itself (name and declared type are the sender's claims).
            return receipt_from_pdf(upload.read())
        except InvalidInput as error:
            raise forms.ValidationError(error.message) from None

    def clean(self):
        cleaned = super().clean()
        pasted = (cleaned.get("receipt") or "").strip()
        extracted = cleaned.get("receipt_pdf")
        if self.errors:
            return cleaned
        if bool(pasted) == bool(extracted):
            raise forms.ValidationError(_("Paste a receipt or upload a PDF receipt (one of the two)."))
        cleaned["compact"] = pasted or extracted
        return cleaned
