"""The human-readable PDF receipt (D32): what a person reads, and the signed JWS it carries."""

import io
import shutil
import subprocess
from datetime import UTC, datetime

import pikepdf
import pytest
import time_machine

from odr.consent.pdf import receipt_from_pdf, receipt_pdf

from .helpers import give

pytestmark = pytest.mark.django_db

HOSTILE_NOTICE = (
    "Vos données sont traitées pour votre réclamation.\n"
    '<img src="http://tracker.example.test/pixel.png"> <b>pas du gras</b> & « guillemets »'
)


@pytest.fixture
def receipt(consumer):
    with time_machine.travel(datetime(2026, 3, 10, 9, 30, tzinfo=UTC), tick=False):
        return give(consumer, notice_text=HOSTILE_NOTICE).receipts.get()


def test_d32_receipt_pdf_carries_the_signed_receipt(receipt):
    data = receipt_pdf(receipt)

    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert list(pdf.attachments) == ["receipt.jws"]
        assert pdf.attachments["receipt.jws"].get_file().read_bytes().decode() == receipt.jws
        metadata = pdf.open_metadata()
        assert metadata.get("pdfaid:part") == "3"  # PDF/A-3: archivable, and may embed the JWS
        assert str(receipt.receipt_id) in str(pdf.docinfo["/Title"])
        fonts = {str(font.BaseFont) for page in pdf.pages for font in page.Resources.Font.values()}
        assert fonts and all("DejaVu" in font for font in fonts)  # system fonts, embedded
    assert receipt_from_pdf(data) == receipt.jws


@pytest.mark.skipif(
    not (shutil.which("pdftotext") and shutil.which("pdftoppm")),
    reason="needs poppler-utils (pdftotext, pdftoppm); .ci/run installs it",
)
def test_d32_receipt_pdf_shows_the_receipt_to_people(receipt, tmp_path):
    path = tmp_path / "receipt.pdf"
    path.write_bytes(receipt_pdf(receipt))
    record = receipt.record

    text = subprocess.run(["pdftotext", "-layout", path, "-"], check=True, capture_output=True).stdout
    text = " ".join(text.decode().split())
    assert record.get_purpose_display() in text
    assert str(receipt.receipt_id) in text
    assert record.notice_sha256 in text
    assert "10:30" in text and "Europe/Paris" in text  # 09:30 UTC, shown in Paris time
    assert "ODR platform (demo)" in text and "http://127.0.0.1:8000/privacy/" in text
    assert '<img src="http://tracker.example.test/pixel.png">' in text  # escaped, shown as text
    assert "« guillemets »" in text
    assert receipt.jws[:40] in text.replace(" ", "")

    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", path, tmp_path / "page"], check=True
    )
    [png] = tmp_path.glob("page*.png")
    assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 5_000
