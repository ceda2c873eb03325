"""Render each kind of PDF for the demo data and turn its first page into a PNG, so that a person can
look at what the platform issues. Run by .ci/run after seed_demo (DATABASE_URL, DEBUG=1 set):

    .venv/bin/python .ci/render_samples.py OUT_DIR
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "odr.settings")


def main(out: Path) -> None:
    import django

    django.setup()
    from django.db import transaction
    from django.utils import timezone

    from complaints.models import Complaint
    from mediation.models import CaseState, MediationCase
    from odr.documents.models import DocumentKind
    from odr.documents.services import document_render, document_request

    out.mkdir(parents=True, exist_ok=True)
    settled = MediationCase.objects.filter(state=CaseState.SETTLED).order_by("pk").first()
    rejected = Complaint.objects.filter(answer_decision="reject").order_by("pk").first()
    requests = [
        (DocumentKind.MEDIATION_RECORD, settled.reference, {"audience": "full"}),
        (DocumentKind.MEDIATION_RECORD, settled.reference, {"audience": "consumer"}),
        (DocumentKind.AUDIT_TRAIL, settled.reference, {}),
        (DocumentKind.COMPLAINT_ACKNOWLEDGEMENT, rejected.reference, {}),
        (DocumentKind.MEDIATOR_NOTICE, rejected.reference, {}),
        (
            DocumentKind.ANNUAL_REPORT,
            f"B-{settled.mediation_body.slug}",
            {"body": settled.mediation_body.slug, "year": timezone.localdate().year},
        ),
    ]
    for kind, reference, parameters in requests:
        with transaction.atomic():
            document = document_request(
                kind=kind, subject_reference=reference, parameters=parameters, language="fr"
            )
        document = document_render(document.pk)
        stem = document.filename.removesuffix(".pdf")
        pdf = out / document.filename
        pdf.write_bytes(document.file.read())
        subprocess.run(
            ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile", pdf, out / stem], check=True
        )
        print(f"{out / (stem + '.png')}  (SHA-256 {document.sha256})")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
