"""Presentation helpers for the complaint pages (formatting only)."""

from django import template
from django.utils.translation import get_language

from ..documents import money as format_money

register = template.Library()


@register.filter
def money(cents, currency="EUR"):
    """1234 → "12,34 €" in French, "€12.34" in English."""
    return format_money(cents, currency or "EUR", (get_language() or "fr").split("-")[0])


@register.filter
def filesize(size: int) -> str:
    if size < 1024 * 1024:
        return f"{max(1, round(size / 1024))} kB"
    return f"{size / (1024 * 1024):.1f} MB"
