"""Browser tests: Playwright for Python driving Debian's Chromium against pytest-django's live server.

- `browser` (package): the system Chromium (/usr/bin/chromium), never a Playwright download. Without
  it, or without axe-core (`npm ci` at the repository root), every test here is skipped, saying why.
- `page_for(viewport)`: a fresh French-speaking browser context of that size; every page it loads is
  watched for JavaScript errors, Content-Security-Policy refusals and requests to another host.
- `shot(page, name)`: a full-page PNG in artifacts/e2e/, numbered in the order taken.
- `assert_accessible(page)`: injects axe-core and fails on any violation of impact serious or
  critical; every violation (also moderate/minor ones) is written to artifacts/e2e/axe-report.json.

Playwright's sync API runs an asyncio loop in the test's thread, and Django refuses database access
from a thread with a running loop unless DJANGO_ALLOW_ASYNC_UNSAFE is set: the test itself only uses
the database before and after driving the browser, the live server answers in its own thread.
"""

import json
import os
import re
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.db import connections

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("ODR_E2E_CHROMIUM", "/usr/bin/chromium"))
AXE_JS = ROOT / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "artifacts" / "e2e"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-dev-shm-usage",
]
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 360, "height": 740}}
BLOCKING_IMPACTS = {"serious", "critical"}


def pytest_configure(config):
    # Also listed in pyproject.toml; registered here too so that --strict-markers never trips on it.
    config.addinivalue_line("markers", "e2e: browser end-to-end test (Playwright + system Chromium)")


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium; .ci/run installs it)"
    if not AXE_JS.exists():
        missing = AXE_JS.relative_to(ROOT)
        return f"axe-core not installed ({missing} missing): run `npm ci` at the repository root"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    return None


@pytest.fixture(scope="package")
def browser():
    """Package-scoped: Playwright's running loop makes Django keep its database connections per async
    context, so it must stop with the browser tests, and those connections be closed while it runs
    (a connection left there held the test database open at the end of a PostgreSQL run)."""
    reason = _missing()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    ARTIFACTS.mkdir(parents=True)
    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
    yield browser
    browser.close()
    connections.close_all()
    playwright.stop()


class PageWatch:
    """What went wrong in the browser while the test drove it: script errors, CSP refusals (both are
    console errors in Chromium) and requests leaving the live server (privacy by design)."""

    def __init__(self, origin: str):
        self.origin = origin
        self.console_errors: list[str] = []
        self.foreign_requests: list[str] = []

    def attach(self, page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.console_errors.append(f"{page.url}: uncaught {error}"))
        page.on("request", self._request)

    def _console(self, message) -> None:
        url = message.location.get("url", "")
        if message.type == "error" and urlsplit(url).path != "/favicon.ico":
            # The browser asks for /favicon.ico by itself; the site has none (reported, not failed).
            self.console_errors.append(f"{url}: {message.text}")

    def _request(self, request) -> None:
        url = request.url
        if url.startswith(("data:", "blob:", "about:")):
            return
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" != self.origin:
            self.foreign_requests.append(url)

    def assert_clean(self) -> None:
        assert not self.foreign_requests, "requests to another host: " + ", ".join(self.foreign_requests)
        assert not self.console_errors, "errors in the browser console:\n" + "\n".join(self.console_errors)


@pytest.fixture
def e2e_files(settings, tmp_path):
    """Uploaded files and the consent-receipt signing key of the test stay in its tmp_path."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ODR_SIGNING_KEYS_DIR = tmp_path / "signing-keys"
    return tmp_path


@pytest.fixture
def outbox_kept(monkeypatch):
    """The platform's own e-mails stay as rows in the outbox table (what the test checks); they are
    not handed to the Celery broker, whose default is a folder of the working tree (var/broker)."""
    handed = []
    monkeypatch.setattr("odr.notifications.services.enqueue", handed.append)
    monkeypatch.setattr("odr.notifications.relay.enqueue", handed.append)
    return handed


@pytest.fixture
def page_for(browser, live_server, e2e_files, outbox_kept):
    contexts = []
    watches = []

    def open_page(viewport: str):
        context = browser.new_context(
            viewport=VIEWPORTS[viewport],
            locale="fr-FR",
            timezone_id="Europe/Paris",
            base_url=live_server.url,
            is_mobile=viewport == "phone",
            has_touch=viewport == "phone",
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        watch = PageWatch(live_server.url)
        watch.attach(page)
        watches.append(watch)
        page.watch = watch
        return page

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def shot(request):
    """shot(page, name) → artifacts/e2e/<NN>-<viewport>-<name>.png, numbered across the session."""
    viewport = getattr(getattr(request.node, "callspec", None), "id", "")

    def take(page, name: str) -> Path:
        _counter[0] += 1
        stem = "-".join(part for part in (f"{_counter[0]:02d}", viewport, name) if part)
        path = ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', stem)}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


_counter = [0]
_axe_report: list[dict] = []


def _inject_axe(page) -> None:
    if page.evaluate("() => typeof window.axe === 'object'"):
        return
    # Not add_script_tag(): that adds an inline <script>, which the site's Content-Security-Policy
    # (script-src 'self', no inline) refuses — as it should. Evaluating the file through the DevTools
    # protocol is not subject to the page's CSP and leaves the policy itself untouched for the test.
    page.evaluate("() => { " + AXE_JS.read_text(encoding="utf-8") + "\n}")
    assert page.evaluate("() => typeof window.axe === 'object'"), "axe-core did not load"


def _describe(violation: dict) -> str:
    targets = "; ".join(" ".join(map(str, node["target"])) for node in violation["nodes"][:5])
    more = f" (+{len(violation['nodes']) - 5} more)" if len(violation["nodes"]) > 5 else ""
    return f"[{violation['impact']}] {violation['id']}: {violation['help']} — {targets}{more}"


def _assert_accessible(page, label: str = "") -> list[dict]:
    """Run axe-core on the page as it is now; fail on serious or critical violations."""
    _inject_axe(page)
    result = page.evaluate(
        """async () => {
            const r = await window.axe.run(document, {resultTypes: ['violations']});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
                nodes: v.nodes.map(n => ({target: n.target, html: n.html.slice(0, 300),
                                          summary: n.failureSummary}))}));
        }"""
    )
    path = urlsplit(page.url).path
    _axe_report.append({"page": path, "label": label, "violations": result})
    if ARTIFACTS.exists():
        (ARTIFACTS / "axe-report.json").write_text(json.dumps(_axe_report, indent=2, ensure_ascii=False))
    blocking = [v for v in result if v["impact"] in BLOCKING_IMPACTS]
    assert not blocking, f"axe-core on {path} ({label}):\n" + "\n".join(map(_describe, blocking))
    return result


@pytest.fixture
def assert_accessible():
    """assert_accessible(page, label) — axe-core on the page as it is now (see _assert_accessible)."""
    return _assert_accessible


def pytest_terminal_summary(terminalreporter):
    """List the non-blocking (moderate, minor) axe findings too, so that nobody has to open the JSON."""
    others = [
        (entry["page"], entry["label"], violation)
        for entry in _axe_report
        for violation in entry["violations"]
        if violation["impact"] not in BLOCKING_IMPACTS
    ]
    if not _axe_report:
        return
    terminalreporter.section("axe-core (moderate and minor findings)")
    if not others:
        terminalreporter.write_line(f"none on {len(_axe_report)} page checks")
    seen = set()
    for page, label, violation in others:
        key = (page, violation["id"])
        if key in seen:
            continue
        seen.add(key)
        terminalreporter.write_line(f"{page} ({label}): {_describe(violation)}")


class PdfQueue:
    """The documents the site asked to render, as the `pdf` Celery queue would receive them."""

    def __init__(self):
        self.ids: list[int] = []

    def run(self) -> list[int]:
        """Render what is queued with the queue's own task, now, in the test's thread — what the worker
        does in production. Call it while the browser waits with no request in flight: the test and
        the live server's thread must not use the database at the same moment."""
        from odr.documents.tasks import render_document

        ids = list(self.ids)
        self.ids.clear()
        for document_id in ids:
            status = render_document(document_id)  # calling a Celery task runs its body here
            assert status == "ready", f"document {document_id} was not rendered: {status}"
        return ids


@pytest.fixture
def pdf_queue(monkeypatch):
    """Documents (PDFs) requested in the browser are not handed to the Celery broker — by default a
    folder of the working tree (var/broker) — but kept in `pdf_queue.ids`; `pdf_queue.run()` renders
    them with the `pdf` queue's task (odr.documents.tasks.render_document) when the test says so. The
    request, the rendering and the download are the real ones; only the worker is the test."""
    queue = PdfQueue()
    monkeypatch.setattr("odr.documents.services._enqueue", queue.ids.append)
    return queue
