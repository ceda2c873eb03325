"""HTML templates → PDF/A-3b with WeasyPrint (D27, D37).

PDF/A-3 (not 2) because PDF/A-2 forbids, and WeasyPrint silently drops, a JSON attachment. Rendering
makes no request to anyone: the URL fetcher allows only data: URLs and our own static files, read
from disk. Fonts are the system's DejaVu (accents, €, «»). User text is escaped by the templates'
autoescaping. The header carries the case reference, the footer "page X of Y" (templates/pdf/base.html).
"""

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.utils import timezone, translation


@dataclass(frozen=True)
class PdfAttachment:
    name: str
    content: bytes
    description: str = ""
    relationship: str = "Data"  # PDF/A-3 AFRelationship: the data the document shows


@dataclass(frozen=True)
class RenderedPdf:
    content: bytes
    sha256: str = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "sha256", hashlib.sha256(self.content).hexdigest())


def _static_only_fetcher():
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    static_prefix = "/" + settings.STATIC_URL.strip("/") + "/"

    class StaticOnlyFetcher(URLFetcher):
        """data: URLs, and our own static files read from disk; nothing else, never the network."""

        def fetch(self, url, headers=None):
            if url.startswith("data:"):
                return super().fetch(url, headers)
            if url.startswith(STATIC_BASE_URL):
                path = "/" + url[len(STATIC_BASE_URL) :].lstrip("/")
                if path.startswith(static_prefix) and ".." not in path:
                    found = finders.find(path[len(static_prefix) :])
                    if found:
                        body = Path(found).read_bytes()
                        return URLFetcherResponse(url, body=body, headers={"Content-Type": _mime(found)})
            raise ValueError(f"Refused to fetch {url!r} while rendering a PDF")

    return StaticOnlyFetcher(allowed_protocols={"data", "http"}, allow_redirects=False)


# Relative URLs in PDF templates resolve against this base, which is never requested: the fetcher
# serves what lies under it from the static files on disk.
STATIC_BASE_URL = "http://static.invalid"


def _mime(path: str) -> str:
    suffixes = {".css": "text/css", ".svg": "image/svg+xml", ".png": "image/png"}
    return suffixes.get(Path(path).suffix, "application/octet-stream")


def render_pdf(
    *,
    template: str,
    context: dict,
    language: str,
    time_zone: str | None = None,
    attachments: list[PdfAttachment] = (),
) -> RenderedPdf:
    """Render `template` (extending pdf/base.html) in `language` and `time_zone`."""
    from weasyprint import HTML, Attachment

    with translation.override(language), timezone.override(time_zone or settings.ODR_DEFAULT_TIME_ZONE):
        html = render_to_string(template, {**context, "language": language})
    content = HTML(string=html, base_url=STATIC_BASE_URL + "/", url_fetcher=_static_only_fetcher()).write_pdf(
        pdf_variant="pdf/a-3b",
        attachments=[
            Attachment(string=a.content, name=a.name, description=a.description, relationship=a.relationship)
            for a in attachments
        ],
    )
    return RenderedPdf(content)
