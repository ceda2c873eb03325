"""How django-allauth fits the platform: after logging in, each person lands on their own part."""

from allauth.account.adapter import DefaultAccountAdapter
from django.urls import reverse
from django.utils.translation import get_language


class AccountAdapter(DefaultAccountAdapter):
    def get_login_redirect_url(self, request):
        return reverse("portal")

    def save_user(self, request, user, form, commit=True):
        # The language of the sign-up page is the person's language for e-mails and receipts.
        user.preferred_language = (get_language() or "fr").split("-")[0]
        return super().save_user(request, user, form, commit=commit)
