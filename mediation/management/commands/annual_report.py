"""`python manage.py annual_report --body SLUG --year YYYY --out FILE.pdf [--language fr|en]` (D36, D37).

Renders the annual activity report at once, in this process (no Celery, nothing stored in the
database), writes it to FILE.pdf and prints its path, SHA-256 fingerprint and number of pages.
"""

import io
from pathlib import Path
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from mediation.reports import annual_report_spec
from odr import clock
from odr.accounts.models import MediationBody
from odr.documents.models import DocumentKind, GeneratedDocument
from odr.documents.rendering import render_pdf

FIRST_YEAR = 2000


class Command(BaseCommand):
    help = "Render a mediation body's annual activity report (R614-2) for a calendar year as PDF/A."

    def add_arguments(self, parser):
        parser.add_argument("--body", required=True, help="the mediation body's short name (slug)")
        parser.add_argument("--year", required=True, type=int, help="the calendar year, e.g. 2026")
        parser.add_argument("--out", required=True, help="the PDF file to write")
        parser.add_argument(
            "--language",
            default=settings.LANGUAGE_CODE,
            choices=[code for code, _name in settings.LANGUAGES],
            help=f"language of the report (default: {settings.LANGUAGE_CODE})",
        )

    def handle(self, *args, body: str, year: int, out: str, language: str, **options):
        found = MediationBody.objects.filter(slug=body).first()
        if found is None:
            known = ", ".join(MediationBody.objects.order_by("slug").values_list("slug", flat=True))
            raise CommandError(f"No mediation body {body!r}. Known bodies: {known or 'none'}.")
        this_year = clock.now().astimezone(ZoneInfo(found.time_zone)).year
        if not FIRST_YEAR <= year <= this_year:
            raise CommandError(f"The year must be between {FIRST_YEAR} and {this_year}; got {year}.")
        path = Path(out)
        if not path.parent.is_dir():
            raise CommandError(f"The directory {str(path.parent)!r} does not exist.")

        document = GeneratedDocument(  # not saved: the report is rendered here, not queued
            kind=DocumentKind.ANNUAL_REPORT,
            subject_reference=f"B-{found.slug}",
            parameters={"body": found.slug, "year": year},
            language=language,
            requested_at=clock.now(),
        )
        spec = annual_report_spec(document)
        rendered = render_pdf(
            template=spec.template,
            context=spec.context,
            language=language,
            time_zone=spec.time_zone,
            attachments=spec.attachments,
        )
        path.write_bytes(rendered.content)
        import pikepdf  # on use: it logs a line on import

        with pikepdf.open(io.BytesIO(rendered.content)) as pdf:
            pages = len(pdf.pages)
        self.stdout.write(str(path))
        self.stdout.write(f"SHA-256: {rendered.sha256}")
        self.stdout.write(f"Pages: {pages}")
