"""Benchmark: the mediation record PDF — full time (database + template + WeasyPrint) against
WeasyPrint alone on the same pre-rendered HTML, in one run; and the marginal milliseconds per page.

Run on demand, never in the test suite:
    .venv/bin/python bench/pdf.py            (a scratch SQLite database in a temporary folder)

Builds cases with 125, 250 and 500 audit events (messages in the mediation), renders each record
once to warm up and then five times, prints medians, the ratio full / WeasyPrint-only (target
≤ 1.2×), and ms per page from the slope between sizes (target ≤ 60 ms per page, linear in
pages). Denser pages raise ms per page, so it also prints ms per event, the figure that cannot be
improved by packing more onto a page.

Needs HarfBuzz's subsetting library (Debian: libharfbuzz-subset0), as production does: without it
WeasyPrint falls back to fontTools for font subsetting, which it warns about and which is much slower.
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SIZES = (125, 250, 500)
RUNS = 5


def main() -> None:
    scratch = tempfile.mkdtemp(prefix="odr-bench-pdf-")
    os.environ.update(
        DATABASE_URL=f"sqlite:///{scratch}/bench.sqlite3",
        DEBUG="1",
        DJANGO_SETTINGS_MODULE="odr.settings",
        MEDIA_ROOT=f"{scratch}/media",
        ODR_SIGNING_KEYS_DIR=f"{scratch}/keys",
    )
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, check=True)
    import django

    django.setup()
    import pikepdf
    from django.template.loader import render_to_string
    from django.utils import timezone, translation
    from weasyprint import HTML

    from mediation.documents import mediation_record_spec
    from mediation.services import case_post_message
    from odr.accounts.models import Role
    from odr.documents.models import DocumentKind, GeneratedDocument
    from odr.documents.rendering import STATIC_BASE_URL, _static_only_fetcher
    from odr.documents.services import render_spec
    from tests.factories import MediationBodyFactory, MembershipFactory, MerchantFactory, UserFactory
    from tests.helpers import open_case

    body = MediationBodyFactory()
    merchant = MerchantFactory(mediation_body=body)
    consumer = UserFactory()
    agent = MembershipFactory(role=Role.MERCHANT_AGENT, merchant=merchant).user
    mediator = MembershipFactory(role=Role.MEDIATOR, mediation_body=body, merchant=None).user

    results = []
    for size in SIZES:
        case = open_case(consumer, merchant, agent, mediator)
        while case.messages.count() + 10 < size:
            author = (consumer, agent, mediator)[case.messages.count() % 3]
            case_post_message(case=case, by=author, body="Bonjour, voici un nouvel élément du dossier. " * 3)
        document = GeneratedDocument(
            kind=DocumentKind.MEDIATION_RECORD,
            subject_reference=case.reference,
            parameters={"audience": "full"},
        )
        full, weasy, pages = [], [], 0
        # One unmeasured render first: font loading and template compilation are paid once per
        # process, and would otherwise inflate the smallest case and flatter the slope.
        render_spec(mediation_record_spec(document), language="fr")
        for _ in range(RUNS):
            started = time.perf_counter()
            spec = mediation_record_spec(document)
            pdf = render_spec(spec, language="fr").content
            full.append(time.perf_counter() - started)
            with translation.override("fr"), timezone.override(spec.time_zone):
                html = render_to_string(spec.template, {**spec.context, "language": "fr"})
            started = time.perf_counter()
            HTML(string=html, base_url=STATIC_BASE_URL + "/", url_fetcher=_static_only_fetcher()).write_pdf(
                pdf_variant="pdf/a-3b"
            )
            weasy.append(time.perf_counter() - started)
            with pikepdf.open(__import__("io").BytesIO(pdf)) as opened:
                pages = len(opened.pages)
        results.append((size, pages, statistics.median(full) * 1000, statistics.median(weasy) * 1000))

    print(f"{'events':>7} {'pages':>6} {'full ms':>9} {'weasy ms':>9} {'ratio':>6} {'ms/page':>8}", end=" ")
    print(f"{'ms/event':>8}")
    for size, pages, full_ms, weasy_ms in results:
        print(
            f"{size:>7} {pages:>6} {full_ms:>9.0f} {weasy_ms:>9.0f} "
            f"{full_ms / weasy_ms:>6.2f} {full_ms / pages:>8.1f} {full_ms / size:>8.2f}"
        )
    (s0, p0, f0, _), (s1, p1, f1, _) = results[0], results[-1]
    print(
        f"marginal: {(f1 - f0) / (p1 - p0):.1f} ms per page between {p0} and {p1} pages (target ≤ 60), "
        f"{(f1 - f0) / (s1 - s0):.2f} ms per event between {s0} and {s1} events"
    )


if __name__ == "__main__":
    main()
