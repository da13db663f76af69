"""Browser fixtures: the Debian Chromium, a running stack, a signed-in page that records
problems, and pages served from another origin."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import ConsoleMessage, Error, Locator, Page, Response, expect

from tests.support.keys import ADMIN_KEY, api
from tests.support.processes import ROOT
from tests.support.stack import Stack, running_stack

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WEB_DIST = ROOT / "web" / "dist"
# Screenshots land in test-results/ (ignored by git); SYMPHONY_SCREENSHOTS=docs/screenshots
# refreshes the README's pictures on purpose.
SCREENSHOTS_ENV = "SYMPHONY_SCREENSHOTS"
SCREENSHOTS = ROOT / "test-results" / "screenshots"

# Reports every CSP violation to the test (a binding, so the page's own CSP cannot block it).
_CSP_LISTENER = """
document.addEventListener('securitypolicyviolation', (event) => {
  window.__symphonyCsp(`${event.violatedDirective} blocked ${event.blockedURI || 'inline'}`
    + ` at ${event.sourceFile}:${event.lineNumber}`);
});
"""


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Debian's Chromium: Playwright's own browser download cannot work here."""
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "headless": True,
        "args": CHROMIUM_ARGS,
    }


@pytest.fixture(scope="session")
def base_url() -> str | None:
    """None: pages are opened by full URL.

    Replaces pytest-playwright's fallback fixture, a session fixture defined as an instance
    method, which pytest 9 warns about (and warnings fail this suite).
    """
    return None


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    """A wide desktop viewport in dark mode, as operators keep it."""
    return {
        **browser_context_args,
        "viewport": {"width": 1600, "height": 1000},
        "color_scheme": "dark",
        "reduced_motion": "reduce",
    }


@pytest.fixture(scope="session")
def web_dist() -> Path:
    """The built dashboard; the browser tests test the production build, not a dev server."""
    if not (WEB_DIST / "index.html").is_file():
        pytest.fail("web/dist is missing: run `just web` (npm ci && npm run build in web/)")
    return WEB_DIST


def model(name: str, upstream: str, **fields: Any) -> dict[str, Any]:
    """A hosted model served by the stand-in upstream."""
    return {
        "name": name,
        "provider": "standin",
        "class": "hosted",
        "upstream_model": upstream,
        "context_tokens": 32000,
        "rpm_cap": 1000,
        "tpm_cap": 10_000_000,
        "daily_usd_cap": 10.0,
        "price": {"input_per_1k": 0.5, "output_per_1k": 1.5},
        **fields,
    }


def closed_all_day() -> list[dict[str, Any]]:
    """A usage window that is closed now: 08:00-09:00 UTC on every day but today."""
    today = datetime.now(UTC).isoweekday() % 7  # the policy counts 0=Sunday ... 6=Saturday
    return [{"start": "08:00", "end": "09:00", "days": [d for d in range(7) if d != today]}]


def dashboard_policy() -> dict[str, Any]:
    """Three models the stand-in serves, one whose window is closed, and rules over them."""
    return {
        "version": "browser-test",
        "timezone": "UTC",
        "kill_switch": {"loa_at_or_above": 2, "risks": ["high"]},
        "cooldown": {"failures": 3, "seconds": 30},
        "models": [
            model("hosted/alpha", "alpha"),
            # A small cap and a fixed price per call (see BETA_TOKENS) to reach 85% in 5 calls.
            model(
                "hosted/beta",
                "beta",
                daily_usd_cap=1.0,
                price={"input_per_1k": 1.0, "output_per_1k": 1.0},
            ),
            model("hosted/delta", "delta", usage_windows=closed_all_day()),
            {
                "name": "local/gamma",
                "provider": "standin",
                "class": "local",
                "upstream_model": "gamma",
                "context_tokens": 8192,
                "rpm_cap": 120,
                "tpm_cap": 400_000,
                "price": {"input_per_1k": 0, "output_per_1k": 0},
            },
        ],
        "rules": [
            {
                "id": "qa-hosted",
                "match": {"task": "qa"},
                "route": {"prefer": ["hosted/alpha"], "fallback": ["hosted/beta", "local/gamma"]},
            },
            {
                "id": "code-after-hours",
                "match": {"task": "code"},
                "route": {"prefer": ["hosted/delta"], "fallback": ["hosted/alpha"]},
            },
            {"id": "drain-beta", "match": {"task": "drain"}, "route": {"prefer": ["hosted/beta"]}},
        ],
    }


def route(stack: Stack, path: str, task: str, text: str = "ping") -> dict[str, Any]:
    """One non-streamed request to `path` (/route/plan or /route/execute), as a client sends it."""
    response = api().post(
        f"{stack.url}{path}",
        json={"task": task, "loa": 1, "input": text, "stream": False},
        timeout=15,
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def plan(stack: Stack, task: str, text: str = "ping") -> dict[str, Any]:
    """A decision through /route/plan (recorded, nothing executed)."""
    return route(stack, "/route/plan", task, text)


def execute(stack: Stack, task: str, text: str = "ping") -> dict[str, Any]:
    """One non-streamed run through /route/execute."""
    return route(stack, "/route/execute", task, text)


def decision_record(stack: Stack, decision_id: str) -> dict[str, Any]:
    """GET /decisions/<id>: the decision as the server recorded it."""
    response = api().get(f"{stack.url}/decisions/{decision_id}", timeout=5)
    response.raise_for_status()
    record: dict[str, Any] = response.json()
    return record


def reason_detail(decision: dict[str, Any], model_id: str) -> str:
    """The sentence a decision gives for `model_id` (exactly one reason names it)."""
    [detail] = [r["detail"] for r in decision["reasons"] if r["model"] == model_id]
    assert isinstance(detail, str)
    return detail


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, web_dist: Path) -> Iterator[Stack]:
    """OPA, the stand-in upstream and the proxy (gunicorn) serving the built dashboard."""
    workdir = tmp_path_factory.mktemp("browser")
    with running_stack(workdir, dashboard_policy(), SYMPHONY_WEB_DIST=str(web_dist)) as running:
        yield running


def screenshots_dir() -> Path:
    """Where screenshots are saved: SYMPHONY_SCREENSHOTS (relative to the repository) if set."""
    chosen = os.environ.get(SCREENSHOTS_ENV, "").strip()
    return ROOT / chosen if chosen else SCREENSHOTS


@dataclass
class PageProblems:
    """Everything that went wrong in a page, as the browser reported it."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)
    failed_responses: list[str] = field(default_factory=list)

    def all(self) -> list[str]:
        """Every problem, labelled."""
        return (
            [f"console: {m}" for m in self.console_errors]
            + [f"uncaught: {m}" for m in self.page_errors]
            + [f"csp: {m}" for m in self.csp_violations]
            + [f"http: {m}" for m in self.failed_responses]
        )


def watch(page: Page) -> PageProblems:
    """Record console errors, uncaught exceptions, CSP violations and failed responses."""
    problems = PageProblems()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.console_errors.append(message.text)

    def on_page_error(error: Error) -> None:
        problems.page_errors.append(f"{error.name}: {error.message}")

    def on_response(response: Response) -> None:
        if response.status >= 400:
            problems.failed_responses.append(f"{response.status} {response.url}")

    def on_csp_violation(report: str) -> None:
        problems.csp_violations.append(report)

    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    page.on("response", on_response)
    page.expose_function("__symphonyCsp", on_csp_violation)
    page.add_init_script(_CSP_LISTENER)
    return problems


def model_matrix(page: Page) -> Locator:
    """The Model Matrix grid of `page`."""
    return page.get_by_role("grid", name="Model matrix")


@dataclass
class Dashboard:
    """An open dashboard page and the stack behind it."""

    page: Page
    stack: Stack
    problems: PageProblems

    @property
    def url(self) -> str:
        """The proxy's base URL."""
        return self.stack.url

    @property
    def matrix(self) -> Locator:
        """The Model Matrix grid (the audit trail and API keys are grids with rows too)."""
        return model_matrix(self.page)

    def row(self, model_id: str) -> Locator:
        """The Model Matrix row of `model_id`."""
        return self.matrix.locator(f'[role="row"][data-id="{model_id}"]')

    def screenshot(self, name: str, *, of: Locator | None = None, full_page: bool = True) -> Path:
        """Save <screenshots>/<name>.png: the page, or just the element `of`."""
        folder = screenshots_dir()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        if of is not None:
            of.screenshot(path=str(path))
        else:
            self.page.screenshot(path=str(path), full_page=full_page)
        return path


def sign_in(page: Page, stack: Stack, key: str = ADMIN_KEY) -> dict[str, Any]:
    """Open a session for `key` in the page's browser context, without the login form.

    `page.request` shares the context's cookie jar, so the page then loads signed in.
    """
    response = page.request.post(f"{stack.url}/session", data={"key": key})
    assert response.status == 200, response.text()
    session: dict[str, Any] = response.json()
    return session


def sign_in_with_form(page: Page, stack: Stack, key: str) -> None:
    """Load `/` signed out and sign in with `key` through the login form."""
    page.goto(stack.url + "/")
    form = page.get_by_role("form", name="Sign in")
    form.get_by_label("API key").fill(key)
    form.get_by_role("button", name="Sign in").click()


def open_dashboard(page: Page, stack: Stack, key: str = ADMIN_KEY) -> Dashboard:
    """Sign in with `key` (an operator's at least), load `/`, then wait for the live socket
    and the first model rows."""
    problems = watch(page)
    sign_in(page, stack, key)
    page.goto(stack.url + "/")
    expect(page.locator("[data-connection]")).to_have_attribute("data-connection", "open")
    expect(model_matrix(page).locator('[role="row"][data-id]').first).to_be_visible(timeout=10_000)
    return Dashboard(page, stack, problems)


@pytest.fixture
def dashboard(page: Page, stack: Stack) -> Dashboard:
    """The dashboard of the module's stack, open and live."""
    return open_dashboard(page, stack)


def drawer_field(drawer: Locator, label: str) -> Locator:
    """The value of the Explain drawer's field `label` (the value follows its caption)."""
    return drawer.locator(f'xpath=.//span[normalize-space()="{label}"]/following-sibling::div[1]')


class ForeignOrigin:
    """Pages served from another origin than the proxy's: its own port on 127.0.0.1.

    Reached as http://127.0.0.1:<port> it is the proxy's site (a SameSite=Strict cookie still
    goes along) but another origin; reached as http://localhost:<port> it is another site too.
    """

    def __init__(self) -> None:
        pages: dict[str, str] = {}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                page = pages.get(self.path.partition("?")[0])
                if page is None:
                    self.send_error(404)
                    return
                body = page.encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the tests read what the browser saw, not the access log."""

        self.pages = pages
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="foreign-origin", daemon=True
        )

    def origin(self, host: str = "127.0.0.1") -> str:
        """This server's origin under `host` (127.0.0.1 or localhost)."""
        return f"http://{host}:{self.port}"

    def serve(self, path: str, html: str, host: str = "127.0.0.1") -> str:
        """Serve `html` at `path`; returns its URL under `host`."""
        self.pages[path] = html
        return self.origin(host) + path

    def start(self) -> ForeignOrigin:
        """Start serving in a thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._thread.join(timeout=10)
        self._server.server_close()


@contextmanager
def foreign_origin() -> Iterator[ForeignOrigin]:
    """A running ForeignOrigin, stopped afterwards."""
    server = ForeignOrigin().start()
    try:
        yield server
    finally:
        server.stop()
