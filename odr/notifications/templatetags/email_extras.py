"""Small filters for the e-mail templates (templates/email/).

The outbox keeps an e-mail's context as JSON: a datetime under a key not ending in `_at` arrives as
an ISO string, and a legal notice stored in every language arrives as {"fr": …, "en": …}.
"""

from datetime import datetime

from django import template
from django.conf import settings
from django.utils import translation
from django.utils.translation import pgettext

register = template.Library()


@register.filter
def in_language(value, language=None):
    """The text of `value` ({"fr": text, "en": text}) in `language`, by default the active one.

    Falls back to the base language ("en" for "en-gb"), then the site's default language, then any
    text given. A plain string is returned as it is; nothing at all gives "".
    """
    if value is None:
        return ""
    if not isinstance(value, dict):
        return value
    language = language or translation.get_language() or settings.LANGUAGE_CODE
    for code in (language, language.split("-")[0], settings.LANGUAGE_CODE):
        if value.get(code):
            return value[code]
    return next((text for text in value.values() if text), "")


@register.filter
def as_datetime(value):
    """An ISO 8601 string (as the outbox stores datetimes) turned back into a datetime, for `|date`."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


@register.simple_tag
def colon():
    """The separator after a label: ":" in English, " :" in French typography."""
    return pgettext("separator after a label", ":")
