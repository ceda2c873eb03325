"""Files that people upload (complaint evidence): what we accept, and where we put it.

A file is judged by its bytes, never by the name or the Content-Type the browser sent: both are chosen
by the client. Only four kinds are accepted (PDF, JPEG, PNG, plain UTF-8 text), because mediators must
be able to open every piece of evidence safely and it must survive into the PDF/A record; each kind is
then opened with the library that will later read it, so that a broken or hostile file is refused at
the door rather than failing (or worse) in a mediator's browser or in a Celery render.

The views and services call `upload_validate(file)` first, then `upload_store(...)`. Refusals raise
`odr.errors.InvalidInput` with a message for the person and a stable `code` for the API.
"""

import hashlib
import posixpath
import unicodedata
import uuid
from codecs import getincrementaldecoder
from dataclasses import dataclass

import magic
import pikepdf
from django.conf import settings
from django.core.files.storage import default_storage
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from PIL import Image

from odr import clock
from odr.errors import InvalidInput

# Detected MIME type → the extension we store the file under.
ALLOWED_TYPES = {
    "application/pdf": "pdf",
    "image/jpeg": "jpg",
    "image/png": "png",
    "text/plain": "txt",
}

# The extensions a client name may carry that claim one of the allowed types. A name claiming one of
# them must agree with the content (a PNG called invoice.pdf is refused); any other extension, or none,
# says nothing and the content alone decides.
_CLAIMED_TYPES = {
    "pdf": "application/pdf",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "txt": "text/plain",
}

# libmagic needs only the start of a file; a few KB cover every signature we care about.
_SNIFF_BYTES = 4096
_DISPLAY_NAME_MAX = 200
# Characters that must never reach a page, an e-mail or a PDF inside a file name: control characters
# (newlines, ESC…), format characters (the right-to-left override that turns "fdp.exe" around) and
# line/paragraph separators.
_UNSAFE_CATEGORIES = {"Cc", "Cf", "Zl", "Zp"}


@dataclass(frozen=True)
class ValidatedUpload:
    content_type: str  # one of ALLOWED_TYPES, detected from the bytes
    extension: str  # "pdf" | "jpg" | "png" | "txt"
    size: int
    sha256: str  # hex digest of the whole content
    original_name: str  # the client's file name made safe to display; never used to store the file


def upload_validate(file) -> ValidatedUpload:
    """Check an uploaded file (a Django `UploadedFile`) and describe it, or raise `InvalidInput`.

    The file's position is back at the start afterwards, so it can be stored at once.
    """
    try:
        return _validate(file)
    finally:
        file.seek(0)


def upload_store(*, file, validated: ValidatedUpload, folder: str) -> str:
    """Save a validated upload into the default storage under a random name; return the storage name.

    The client's name never reaches the storage path (no traversal, no collisions, nothing personal in
    it); it is kept only as `validated.original_name` for display.
    """
    today = clock.now()
    name = f"{folder.strip('/')}/{today:%Y}/{today:%m}/{uuid.uuid4().hex}.{validated.extension}"
    file.seek(0)
    return default_storage.save(name, file)


def _validate(file) -> ValidatedUpload:
    original_name = _display_name(file.name or "")
    limit = settings.ODR_UPLOAD_MAX_BYTES
    # Refuse on the announced size before reading anything: Django has measured it while receiving.
    if not file.size:
        raise InvalidInput(_("This file is empty."), code="upload_empty")
    if file.size > limit:
        raise _too_large(limit)

    file.seek(0)
    content_type = magic.from_buffer(file.read(_SNIFF_BYTES), mime=True)
    claimed = _CLAIMED_TYPES.get(_name_extension(original_name))
    # A name that claims an allowed type but lies about it is refused with the name's claim in the
    # message: "this is not a PDF" is what the person can act on (they picked the wrong file), and it
    # catches disguised executables and HTML as clearly as the allow-list would.
    if claimed is not None and claimed != content_type:
        raise InvalidInput(_disguise_message(claimed), code="upload_disguised")
    if content_type not in ALLOWED_TYPES:
        raise InvalidInput(
            _("Only PDF, JPEG, PNG and plain text files are accepted."), code="upload_type_refused"
        )

    size, sha256 = _measure(file, limit=limit, is_text=content_type == "text/plain")
    if content_type == "application/pdf":
        _check_pdf(file)
    elif content_type in ("image/jpeg", "image/png"):
        _check_image(file, pillow_format="PNG" if content_type == "image/png" else "JPEG")

    return ValidatedUpload(
        content_type=content_type,
        extension=ALLOWED_TYPES[content_type],
        size=size,
        sha256=sha256,
        original_name=original_name or f"document.{ALLOWED_TYPES[content_type]}",
    )


def _measure(file, *, limit: int, is_text: bool) -> tuple[int, str]:
    """Hash the content in chunks, counting the bytes actually read (and checking text on the way)."""
    digest = hashlib.sha256()
    size = 0
    decoder = getincrementaldecoder("utf-8")() if is_text else None
    for chunk in file.chunks():
        size += len(chunk)
        if size > limit:  # the announced size was wrong: trust what we read
            raise _too_large(limit)
        digest.update(chunk)
        if decoder is not None:
            _check_text(chunk, decoder)
    if decoder is not None:
        _check_text(b"", decoder, final=True)
    if size == 0:
        raise InvalidInput(_("This file is empty."), code="upload_empty")
    return size, digest.hexdigest()


def _check_text(chunk: bytes, decoder, *, final: bool = False) -> None:
    # libmagic calls Latin-1 and other legacy encodings "text/plain" too; we keep one encoding so that
    # what the mediator reads is what the consumer wrote.
    if b"\x00" in chunk:
        raise InvalidInput(_("This text file contains data that is not text."), code="upload_text_invalid")
    try:
        decoder.decode(chunk, final=final)
    except UnicodeDecodeError:
        raise InvalidInput(
            _("This text file could not be read. Please save it with the UTF-8 encoding and try again."),
            code="upload_text_invalid",
        ) from None


def _check_pdf(file) -> None:
    file.seek(0)
    try:
        with pikepdf.open(file) as pdf:
            # Walking the page tree makes qpdf parse the document's structure, not just its trailer.
            pages = len(pdf.pages)
    except pikepdf.PasswordError:
        # A PDF that opens without a password but carries only an owner password (print/copy
        # restrictions, common on bank statements) is readable and accepted; one that needs a password
        # to open cannot be read by the mediator nor put into the record.
        raise InvalidInput(
            _("This PDF is protected by a password. Please upload a copy without a password."),
            code="upload_pdf_encrypted",
        ) from None
    except Exception:
        # qpdf reports damage through several exception types (PdfError, RuntimeError, ValueError…);
        # for the person they all mean the same thing.
        raise _pdf_unreadable() from None
    if pages == 0:
        raise _pdf_unreadable()


def _check_image(file, *, pillow_format: str) -> None:
    try:
        file.seek(0)
        with Image.open(file, formats=[pillow_format]) as image:
            # Pillow only raises DecompressionBombError above twice MAX_IMAGE_PIXELS (it merely warns
            # between one and two times); refuse from the limit itself, without touching the global.
            width, height = image.size
            if Image.MAX_IMAGE_PIXELS and width * height > Image.MAX_IMAGE_PIXELS:
                raise Image.DecompressionBombError("image too large")
            image.verify()
        # verify() checks the structure but leaves the image unusable, and it does not decode the pixel
        # data: open again and decode everything, as the thumbnail and PDF renderers will.
        file.seek(0)
        with Image.open(file, formats=[pillow_format]) as image:
            image.load()
        # WeasyPrint sets Pillow's global LOAD_TRUNCATED_IMAGES on import, after which load() pads a
        # truncated image with grey instead of failing: check that the file really ends.
        if not _ends_properly(file, pillow_format):
            raise ValueError("truncated image")
    except Exception:
        # Hostile images reach Pillow's decoders, which raise many types (OSError, SyntaxError,
        # ValueError, DecompressionBombError…); each means the image cannot be used.
        raise InvalidInput(_("This image could not be read."), code="upload_image_invalid") from None


# The marker that closes each format's data: PNG's IEND chunk, JPEG's EOI (which some cameras follow
# with a trailer of their own, hence a window rather than the very last bytes).
END_MARKERS = {"PNG": (b"IEND\xaeB`\x82", 12), "JPEG": (b"\xff\xd9", 64 * 1024)}


def _ends_properly(file, pillow_format: str) -> bool:
    marker, window = END_MARKERS[pillow_format]
    file.seek(0, 2)
    size = file.tell()
    file.seek(max(0, size - window))
    return marker in file.read(window)


def _too_large(limit: int) -> InvalidInput:
    megabytes = limit / (1024 * 1024)
    figure = number_format(megabytes, decimal_pos=0 if megabytes.is_integer() else 1)
    return InvalidInput(
        _("This file is larger than %(size)s MB.") % {"size": figure}, code="upload_too_large"
    )


def _pdf_unreadable() -> InvalidInput:
    return InvalidInput(
        _("This PDF could not be read. It may be damaged: please try another copy."),
        code="upload_pdf_invalid",
    )


def _disguise_message(claimed: str) -> str:
    # One full sentence per type, so that translators can make the words agree ("un PDF", "une image").
    if claimed == "application/pdf":
        return _("This file's name says PDF but its content is not a PDF.")
    if claimed == "image/jpeg":
        return _("This file's name says JPEG but its content is not a JPEG image.")
    if claimed == "image/png":
        return _("This file's name says PNG but its content is not a PNG image.")
    return _("This file's name says plain text but its content is not plain text.")


def _display_name(name: str) -> str:
    """The last path segment of the client's name, without unsafe characters, at most 200 characters."""
    # Browsers on Windows (and some tools) send the full path with backslashes.
    name = posixpath.basename(unicodedata.normalize("NFC", name).replace("\\", "/"))
    name = "".join(c for c in name if unicodedata.category(c) not in _UNSAFE_CATEGORIES).strip()
    if name in (".", ".."):
        return ""
    if len(name) > _DISPLAY_NAME_MAX:
        stem, dot, extension = name.rpartition(".")
        if dot and stem and len(extension) <= 10:  # keep the extension, which tells people what it is
            name = f"{stem[: _DISPLAY_NAME_MAX - len(extension) - 1].rstrip()}.{extension}"
        else:
            name = name[:_DISPLAY_NAME_MAX].rstrip()
    return name


def _name_extension(name: str) -> str:
    _stem, dot, extension = name.rpartition(".")
    return extension.lower() if dot else ""
