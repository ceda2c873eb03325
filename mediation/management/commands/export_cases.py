import hashlib
import shutil
from datetime import date

from django.core.management.base import BaseCommand, CommandError

from mediation.export import export_cases_produce, export_cases_queryset
from odr.accounts.models import MediationBody
from odr.documents.models import DocumentKind, GeneratedDocument


class Command(BaseCommand):
    help = "Export a date range of a mediation body's cases as one ZIP with a SHA-256 manifest (D37)."

    def add_arguments(self, parser):
        parser.add_argument("--body", required=True, help="The mediation body's short name (slug).")
        parser.add_argument(
            "--from", dest="date_from", required=True, type=date.fromisoformat, help="YYYY-MM-DD"
        )
        parser.add_argument("--to", dest="date_to", required=True, type=date.fromisoformat, help="YYYY-MM-DD")
        parser.add_argument("--out", required=True, help="The ZIP file to write.")
        parser.add_argument("--language", default="fr", choices=["fr", "en"])

    def handle(self, *args, body, date_from, date_to, out, language, **options):
        try:
            mediation_body = MediationBody.objects.get(slug=body)
        except MediationBody.DoesNotExist as exc:
            raise CommandError(f"No mediation body {body!r}.") from exc
        if date_to < date_from:
            raise CommandError("--to is before --from.")
        count = export_cases_queryset(body=mediation_body, date_from=date_from, date_to=date_to).count()
        self.stdout.write(f"Exporting {count} case(s)…")
        # The same producer as the compliance officer's export, run here and now, not through Celery.
        document = GeneratedDocument(
            kind=DocumentKind.CASE_EXPORT,
            subject_reference=f"B-{body}",
            language=language,
            parameters={"body": body, "from": date_from.isoformat(), "to": date_to.isoformat()},
        )
        produced = export_cases_produce(document, lambda percent: None)
        shutil.move(produced.path, out)
        with open(out, "rb") as stream:
            digest = hashlib.file_digest(stream, "sha256").hexdigest()
        self.stdout.write(f"{out}: {count} case(s); SHA-256 {digest}")
