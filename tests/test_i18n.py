"""French is the default language and complete; English is available on request."""

import gettext
import re
from pathlib import Path

import pytest

LOCALE = Path(__file__).resolve().parents[1] / "locale"


def po_entries(path: Path) -> list[tuple[str, str, bool]]:
    """(msgid, msgstr, fuzzy) for every entry of a .po file, the header excluded. A message with a
    context comes back as gettext stores it: "context\x04msgid"."""
    entries, msgid, msgstr, fuzzy, field, context = [], None, None, False, None, None
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if line.startswith("#,") and "fuzzy" in line:
            fuzzy = True
        elif line.startswith("msgctxt "):
            context = _unquote(line[8:])
        elif line.startswith("msgid "):
            msgid, field = _unquote(line[6:]), "id"
        elif line.startswith("msgid_plural "):
            field = "other"  # plural forms: the singular is what gettext() looks up
        elif line.startswith(("msgstr ", "msgstr[0] ")):
            msgstr, field = _unquote(line.split(" ", 1)[1]), "str"
        elif line.startswith("msgstr["):
            field = "other"
        elif line.startswith('"') and field:
            if field == "id":
                msgid += _unquote(line)
            elif field == "str":
                msgstr += _unquote(line)
        elif not line.strip():
            if msgid:
                entries.append((f"{context}\x04{msgid}" if context else msgid, msgstr, fuzzy))
            msgid, msgstr, fuzzy, field, context = None, None, False, None, None
    return entries


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), text.strip()[1:-1])


@pytest.mark.parametrize("language", ["fr", "en"])
def test_catalogue_is_complete_and_compiled(language):
    """English needs a full catalogue too: Django falls back to the default language (French) for
    any string an English catalogue lacks."""
    po = LOCALE / language / "LC_MESSAGES" / "django.po"
    entries = po_entries(po)
    assert len(entries) > 100
    untranslated = [msgid for msgid, msgstr, _ in entries if not msgstr]
    fuzzy = [msgid for msgid, _, is_fuzzy in entries if is_fuzzy]
    assert untranslated == [] and fuzzy == []
    with (po.with_suffix(".mo")).open("rb") as mo:
        compiled = gettext.GNUTranslations(mo)
    stale = [msgid for msgid, msgstr, _ in entries if compiled.gettext(msgid) != msgstr]
    assert stale == [], "run: python manage.py compilemessages"
    if language == "en":  # the source language: every translation is the source text itself
        assert [m for m, s, _ in entries if s != m.split("\x04")[-1]] == []


@pytest.mark.django_db
def test_pages_are_french_by_default_and_english_on_request(client):
    assert "Régler un litige" in client.get("/").content.decode()
    english = client.get("/", headers={"accept-language": "en"}).content.decode()
    assert "Settle a dispute with a merchant" in english


def test_refusal_messages_are_translated():
    from django.utils import translation

    from mediation.models import referred_within_one_year

    with translation.override("fr"):
        french = str(referred_within_one_year.refusal)
    with translation.override("en"):
        english = str(referred_within_one_year.refusal)
    assert french != english
    assert "time_barred" in french and "time_barred" in english
