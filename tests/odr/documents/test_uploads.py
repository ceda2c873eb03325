"""Validation and storage of uploaded evidence (odr.documents.uploads).

Messages are checked in English: the project speaks French by default, and these assertions must keep
passing once the French catalogue translates them.
"""

import hashlib
import io
import re
from datetime import UTC, datetime
from pathlib import Path

import pikepdf
import pytest
import time_machine
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile
from django.utils import translation
from PIL import Image

from odr.documents.uploads import ValidatedUpload, upload_store, upload_validate
from odr.errors import InvalidInput

ONLY_ALLOWED = "Only PDF, JPEG, PNG and plain text files are accepted."
NOT_A_PDF = "This file's name says PDF but its content is not a PDF."
IMAGE_UNREADABLE = "This image could not be read."


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def pdf_bytes(**save_options) -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    out = io.BytesIO()
    pdf.save(out, **save_options)
    return out.getvalue()


def image_bytes(pillow_format: str, *, mode="RGB", size=(40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, "white" if mode == "1" else "teal").save(out, pillow_format)
    return out.getvalue()


def refusal(upload) -> InvalidInput:
    with pytest.raises(InvalidInput) as info:
        upload_validate(upload)
    return info.value


# --- accepted ---------------------------------------------------------------------------------------


def test_a_real_pdf_is_accepted_with_its_fingerprint():
    content = pdf_bytes()

    validated = upload_validate(SimpleUploadedFile("facture.pdf", content))

    assert validated == ValidatedUpload(
        content_type="application/pdf",
        extension="pdf",
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        original_name="facture.pdf",
    )


@pytest.mark.parametrize(
    ("pillow_format", "name", "content_type", "extension"),
    [("PNG", "photo.png", "image/png", "png"), ("JPEG", "photo.JPEG", "image/jpeg", "jpg")],
)
def test_png_and_jpeg_images_are_accepted(pillow_format, name, content_type, extension):
    content = image_bytes(pillow_format)

    validated = upload_validate(SimpleUploadedFile(name, content))

    assert (validated.content_type, validated.extension) == (content_type, extension)
    assert validated.sha256 == hashlib.sha256(content).hexdigest()


def test_utf8_text_is_accepted():
    content = "Bonjour, le colis n'est jamais arrivé — commande n° 4521.\n".encode()

    validated = upload_validate(SimpleUploadedFile("notes.txt", content))

    assert (validated.content_type, validated.extension, validated.size) == (
        "text/plain",
        "txt",
        len(content),
    )


@pytest.mark.parametrize("name", ["scan", "photo.heic", "capture.webp"])
def test_a_name_without_a_known_extension_is_fine_when_the_content_is_allowed(name):
    validated = upload_validate(SimpleUploadedFile(name, image_bytes("PNG")))

    assert validated.extension == "png"
    assert validated.original_name == name


def test_a_pdf_restricted_by_an_owner_password_only_opens_and_is_accepted():
    # Bank statements often forbid printing or copying, yet open without a password: readable evidence.
    content = pdf_bytes(encryption=pikepdf.Encryption(owner="o", user=""))

    assert upload_validate(SimpleUploadedFile("releve.pdf", content)).extension == "pdf"


def test_a_pdf_received_on_disk_is_validated_and_stored(media):
    # Uploads above FILE_UPLOAD_MAX_MEMORY_SIZE arrive as temporary files, not in memory.
    content = pdf_bytes()
    upload = TemporaryUploadedFile("grand.pdf", "application/pdf", len(content), None)
    upload.write(content)
    upload.flush()
    try:
        validated = upload_validate(upload)
        name = upload_store(file=upload, validated=validated, folder="evidence")
    finally:
        upload.close()

    assert validated.sha256 == hashlib.sha256(content).hexdigest()
    assert (media / name).read_bytes() == content


def test_the_file_is_back_at_its_start_after_validation():
    upload = SimpleUploadedFile("notes.txt", b"hello\n" * 2000)

    upload_validate(upload)

    assert upload.tell() == 0


# --- refused: type ----------------------------------------------------------------------------------


def test_html_named_txt_is_refused():
    upload = SimpleUploadedFile(
        "notes.txt", b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"
    )

    error = refusal(upload)

    assert error.message == "This file's name says plain text but its content is not plain text."
    assert error.code == "upload_disguised"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("page.html", b"<!DOCTYPE html><html><body>hello</body></html>"),
        ("dessin.svg", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>'),
        ("archive", b"PK\x03\x04" + b"\x00" * 60),
    ],
)
def test_types_outside_the_allow_list_are_refused(name, content):
    error = refusal(SimpleUploadedFile(name, content))

    assert error.message == ONLY_ALLOWED
    assert error.code == "upload_type_refused"


@pytest.mark.parametrize(
    "content",
    [
        b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 120,
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 120,
    ],
    ids=["elf", "windows"],
)
def test_an_executable_named_pdf_is_refused(content):
    assert refusal(SimpleUploadedFile("facture.pdf", content)).message == NOT_A_PDF


def test_a_png_named_pdf_is_refused_as_disguised():
    error = refusal(SimpleUploadedFile("invoice.pdf", image_bytes("PNG")))

    assert error.message == NOT_A_PDF
    assert error.code == "upload_disguised"


def test_a_pdf_named_jpg_is_refused_as_disguised():
    error = refusal(SimpleUploadedFile("photo.jpg", pdf_bytes()))

    assert error.message == "This file's name says JPEG but its content is not a JPEG image."


# --- refused: broken or hostile content -------------------------------------------------------------


def test_a_damaged_pdf_is_refused():
    error = refusal(SimpleUploadedFile("facture.pdf", b"%PDF-1.7\n garbage"))

    assert error.message == "This PDF could not be read. It may be damaged: please try another copy."
    assert error.code == "upload_pdf_invalid"


def test_a_password_protected_pdf_is_refused():
    content = pdf_bytes(encryption=pikepdf.Encryption(owner="o", user="u"))

    error = refusal(SimpleUploadedFile("secret.pdf", content))

    assert error.message == "This PDF is protected by a password. Please upload a copy without a password."
    assert error.code == "upload_pdf_encrypted"


def test_a_decompression_bomb_png_is_refused():
    content = image_bytes("PNG", mode="1", size=(30000, 30000))  # 900 million pixels, ~100 KB on disk
    assert len(content) < 1024 * 1024

    assert refusal(SimpleUploadedFile("bomb.png", content)).message == IMAGE_UNREADABLE


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_an_image_just_above_the_pixel_limit_is_refused(monkeypatch):
    # Pillow only raises at twice MAX_IMAGE_PIXELS; the limit itself must hold.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)

    assert (
        refusal(SimpleUploadedFile("big.png", image_bytes("PNG", size=(40, 30)))).message == IMAGE_UNREADABLE
    )


def test_a_truncated_image_is_refused():
    content = image_bytes("JPEG", size=(400, 300))

    assert refusal(SimpleUploadedFile("photo.jpg", content[: len(content) // 2])).message == IMAGE_UNREADABLE


def test_latin1_text_is_refused():
    content = "Le colis n'est jamais arrivé, je réclame le remboursement.\n".encode("latin-1")

    error = refusal(SimpleUploadedFile("notes.txt", content))

    assert (
        error.message
        == "This text file could not be read. Please save it with the UTF-8 encoding and try again."
    )


def test_text_with_a_nul_byte_after_the_sniffed_start_is_refused():
    content = b"a" * 5000 + b"\x00" + b"b" * 10

    error = refusal(SimpleUploadedFile("notes.txt", content))

    assert error.message == "This text file contains data that is not text."


# --- refused: size ----------------------------------------------------------------------------------


def test_an_empty_file_is_refused():
    error = refusal(SimpleUploadedFile("vide.pdf", b""))

    assert error.message == "This file is empty."
    assert error.code == "upload_empty"


@pytest.mark.parametrize(("limit", "figure"), [(1024 * 1024, "1"), (512 * 1024, "0.5")])
def test_a_file_over_the_limit_is_refused_with_the_limit_in_mb(settings, limit, figure):
    settings.ODR_UPLOAD_MAX_BYTES = limit

    error = refusal(SimpleUploadedFile("notes.txt", b"a" * (limit + 1)))

    assert error.message == f"This file is larger than {figure} MB."
    assert error.code == "upload_too_large"


def test_the_announced_size_is_refused_before_the_content_is_read():
    upload = SimpleUploadedFile("notes.txt", b"short")
    upload.size = 10 * 1024 * 1024 + 1  # what Django measured while receiving

    assert refusal(upload).message == "This file is larger than 10 MB."


def test_a_file_at_the_limit_is_accepted(settings):
    settings.ODR_UPLOAD_MAX_BYTES = 4096

    assert upload_validate(SimpleUploadedFile("notes.txt", b"a" * 4096)).size == 4096


# --- names and storage ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("client_name", "display_name"),
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("C:\\Users\\Anne\\Documents\\facture.pdf", "facture.pdf"),
        ("fact\u202eure\n\x1b[31m.pdf", "facture[31m.pdf"),
        ("dossier\\..", "document.pdf"),
        ("x" * 300 + ".pdf", "x" * 196 + ".pdf"),
    ],
)
def test_the_client_name_is_reduced_to_a_safe_display_name(client_name, display_name):
    # Django's UploadedFile already drops "/"-separated folders and cuts names at 255 characters; the
    # rest (backslashes, control and bidi characters, 200 characters) is ours.
    upload = SimpleUploadedFile(client_name, pdf_bytes())

    assert upload_validate(upload).original_name == display_name


def test_upload_store_writes_the_bytes_under_the_folder_with_a_random_name(media):
    content = image_bytes("PNG")
    upload = SimpleUploadedFile("ma photo.png", content)
    validated = upload_validate(upload)

    with time_machine.travel(datetime(2026, 3, 14, 10, 0, tzinfo=UTC), tick=False):
        name = upload_store(file=upload, validated=validated, folder="evidence")

    assert re.fullmatch(r"evidence/2026/03/[0-9a-f]{32}\.png", name)
    assert (media / name).read_bytes() == content
    with default_storage.open(name) as stored:
        assert stored.read() == content


def test_two_uploads_of_the_same_file_never_share_a_name(media):
    content = pdf_bytes()
    names = set()
    for _ in range(2):
        upload = SimpleUploadedFile("facture.pdf", content)
        names.add(upload_store(file=upload, validated=upload_validate(upload), folder="evidence"))

    assert len(names) == 2


def test_a_client_path_does_not_leak_into_the_storage_name(media):
    upload = SimpleUploadedFile("../../etc/passwd.pdf", pdf_bytes())
    validated = upload_validate(upload)

    name = upload_store(file=upload, validated=validated, folder="evidence")

    assert validated.original_name == "passwd.pdf"
    assert "passwd" not in name
    assert ".." not in name
    assert re.fullmatch(r"evidence/\d{4}/\d{2}/[0-9a-f]{32}\.pdf", name)
    assert (media / name).resolve().is_relative_to(media.resolve())
