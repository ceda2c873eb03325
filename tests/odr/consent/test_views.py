"""The public verify page (D32): anyone holding a receipt, pasted or as its PDF, can check it."""

import io
import re
import zlib

import pikepdf
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from odr.consent.models import ConsentReceipt
from odr.consent.pdf import receipt_pdf

from .helpers import flip, give

pytestmark = pytest.mark.django_db

URL = reverse("consent:verify")
ENGLISH = {"accept-language": "en"}


def post(client, data):
    return client.post(URL, data, headers=ENGLISH)


def test_d32_verify_page_is_public_and_accessible(client):
    response = client.get(URL, headers=ENGLISH)
    html = response.content.decode()

    assert response.status_code == 200
    assert "<h1>Check a consent receipt</h1>" in html
    assert '<label for="id_receipt">' in html and '<label for="id_receipt_pdf">' in html
    assert 'enctype="multipart/form-data"' in html and "csrfmiddlewaretoken" in html
    # Scripts only from our static files (strict CSP), and nothing from a third party.
    assert not re.search(r"<script(?![^>]*\ssrc=\"/static/)", html)
    assert "http://" not in html.replace("http://testserver", "")


def test_d32_verify_page_accepts_pasted_receipt(client, consumer):
    receipt = give(consumer).receipts.get()
    response = post(client, {"receipt": receipt.jws})
    html = response.content.decode()

    assert response.status_code == 200
    assert response.context["result"].valid
    assert "Valid receipt" in html and "Invalid receipt" not in html
    assert str(receipt.receipt_id) in html and receipt.record.notice_sha256 in html
    assert "<dl>" in html


def test_d32_verify_page_reports_altered_receipt_as_invalid(client, consumer):
    compact = give(consumer).receipts.get().jws
    header, payload, signature = compact.split(".")
    response = post(client, {"receipt": f"{header}.{flip(payload, len(payload) // 2)}.{signature}"})
    html = response.content.decode()

    assert response.status_code == 200
    assert not response.context["result"].valid
    assert "Invalid receipt" in html and "altered" in html


def test_d32_verify_page_accepts_receipt_pdf(client, consumer):
    receipt = give(consumer).receipts.get()
    upload = SimpleUploadedFile("recu.pdf", receipt_pdf(receipt), content_type="application/pdf")
    response = post(client, {"receipt_pdf": upload})

    assert response.status_code == 200
    assert response.context["result"].valid
    assert response.context["result"].claims == receipt.payload
    assert "Valid receipt" in response.content.decode()


def test_d32_verify_page_rejects_disguised_upload(client, consumer):
    give(consumer)
    receipts = ConsentReceipt.objects.count()
    upload = SimpleUploadedFile("receipt.pdf", b"just some text, not a PDF", content_type="application/pdf")
    response = post(client, {"receipt_pdf": upload})

    assert response.status_code == 400
    assert "This file is not a PDF" in response.content.decode()
    assert "result" not in response.context
    assert ConsentReceipt.objects.count() == receipts


def test_d32_verify_page_rejects_a_pdf_without_a_receipt(client):
    buffer = io.BytesIO()
    with pikepdf.new() as pdf:
        pdf.add_blank_page()
        pdf.save(buffer)
    response = post(client, {"receipt_pdf": SimpleUploadedFile("other.pdf", buffer.getvalue())})

    assert response.status_code == 400
    assert "does not contain a consent receipt" in response.content.decode()


def test_d32_verify_page_rejects_a_truncated_pdf(client, consumer):
    data = receipt_pdf(give(consumer).receipts.get())
    response = post(client, {"receipt_pdf": SimpleUploadedFile("r.pdf", data[:400])})

    assert response.status_code == 400


def test_d32_verify_page_rejects_uploads_over_2_mb(client):
    upload = SimpleUploadedFile("big.pdf", b"%PDF-1.7\n" + b"0" * (2 * 1024 * 1024))
    response = post(client, {"receipt_pdf": upload})

    assert response.status_code == 400
    assert "larger than 2 MB" in response.content.decode()


def test_d32_verify_page_wants_one_receipt(client, consumer):
    receipt = give(consumer).receipts.get()
    upload = SimpleUploadedFile("recu.pdf", receipt_pdf(receipt))

    assert post(client, {}).status_code == 400
    assert post(client, {"receipt": receipt.jws, "receipt_pdf": upload}).status_code == 400


def test_d32_verify_page_is_csrf_protected(consumer):
    receipt = give(consumer).receipts.get()

    assert Client(enforce_csrf_checks=True).post(URL, {"receipt": receipt.jws}).status_code == 403


def test_d32_verify_page_does_not_inflate_an_oversized_embedded_file(client):
    # 20 MB of zeros deflate to 20 kB: the guard stops decompressing at the size of a receipt.
    buffer = io.BytesIO()
    with pikepdf.new() as pdf:
        pdf.add_blank_page()
        spec = pikepdf.AttachedFileSpec(pdf, b"placeholder")
        spec.obj.EF.F.write(zlib.compress(b"0" * (20 * 1024 * 1024)), filter=pikepdf.Name.FlateDecode)
        pdf.attachments["receipt.jws"] = spec
        pdf.save(buffer)
    assert len(buffer.getvalue()) < 2 * 1024 * 1024  # under the upload limit
    response = post(client, {"receipt_pdf": SimpleUploadedFile("bomb.pdf", buffer.getvalue())})

    assert response.status_code == 400
    assert "does not contain a consent receipt" in response.content.decode()
