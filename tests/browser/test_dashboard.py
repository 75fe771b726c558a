"""The officers' dashboard in real headless Chromium (Debian's), driven by Playwright.

The product runs as in production (``peaceland gateway``, ``alerter``, ``archiver`` on a
private stack, seeded by ``peaceland simulate``); each test opens the page in a new browser and
checks what an officer sees. Officers log in as the product lets them: with the login link
(``/#token=...``, as ``peaceland demo`` prints) or the login form, with the stack's tokens
(``test-<role>``). Every test also checks that the page asked nothing of any host but this
server, and logged no error (a test that expects refused requests says which). Screenshots go
to ``docs/screenshots/``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from dashboard_helpers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    SCREENSHOTS,
    Pipeline,
    call_json,
    make_alert,
    publish_alert,
    wait_until,
)
from playwright.async_api import (
    BrowserContext,
    ConsoleMessage,
    Dialog,
    Locator,
    Page,
    Request,
    async_playwright,
    expect,
)

from peaceland.testing import running_stack

pytestmark = pytest.mark.slow

OFFICER = "Inspecteur Javert"
XSS_NAME = "<img src=x onerror=alert(1)>"
SEED_REPORTS = 480
# Once the server has an incident, the page shows its id within its re-read interval (1 s),
# plus a request and a render on a loaded machine.
PAGE_PICKS_UP_INCIDENT_MS = 3000


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} is missing: `make test` installs Debian's chromium when it runs as "
            "root with apt-get; elsewhere run `apt-get install chromium`"
        )
    data_dir = tmp_path_factory.mktemp("dashboard")
    with running_stack(data_dir) as stack:
        pipeline = Pipeline(stack.env(), stack.endpoints.nats_url, data_dir, stack.tokens)
        try:
            pipeline.start("alerter")
            pipeline.start("archiver")
            pipeline.start_gateway()
            pipeline.simulate(
                *("--drones", "24", "--count", str(SEED_REPORTS), "--speed", "1200"),
                *("--bad-rate", "0.15", "--seed", "7"),
            )

            def archived() -> bool:
                rows = pipeline.api("stats/reports_per_day")["rows"]
                return sum(int(r["reports"]) for r in rows) >= SEED_REPORTS

            wait_until(archived, 60, "the seeded reports in the archive", interval=1.0)
            yield pipeline
        finally:
            pipeline.stop_all()


@dataclasses.dataclass
class Officer:
    """A browser page and what it did: requests, errors, dialogs."""

    page: Page
    context: BrowserContext
    pipeline: Pipeline
    requests: list[str] = dataclasses.field(default_factory=list)
    errors: list[str] = dataclasses.field(default_factory=list)
    dialogs: list[str] = dataclasses.field(default_factory=list)
    streams: list[Request] = dataclasses.field(default_factory=list)
    expect_errors: bool = False
    #: HTTP statuses the test provokes on purpose (the browser logs each refused request).
    expected_statuses: set[int] = dataclasses.field(default_factory=set)

    async def open(self, url: str, role: str = "dispatcher") -> None:
        """Logs in with the role's login link, then shows ``url``'s view, live."""
        base, _, view = url.partition("#")
        await self.page.goto(f"{base}#token={self.pipeline.token(role)}")
        await expect(self.page.locator("#who-role")).to_have_text(role)
        if view:  # the same page: only the fragment changes
            await self.page.evaluate("view => { location.hash = view; }", view)
        await expect(self.page.locator("#conn")).to_have_text("live")

    async def log_in_with_the_form(self, token: str) -> None:
        await self.page.fill("#login-token", token)
        await self.page.click("#login-submit")

    async def session_cookie(self) -> dict[str, Any] | None:
        cookies = await self.context.cookies(self.pipeline.url)
        found = [c for c in cookies if c["name"] == "peaceland_session"]
        return dict(found[0]) if found else None

    async def fetch_status(self, path: str) -> int:
        """The status the page's own ``fetch`` gets (with whatever cookie it has)."""
        status: int = await self.page.evaluate(
            "path => fetch(path, {cache: 'no-store'}).then(r => r.status)", path
        )
        return status

    async def stored_anywhere(self, secret: str) -> bool:
        """Whether ``secret`` is in the page's storage, cookies readable by scripts, or URL."""
        found: bool = await self.page.evaluate(
            """secret => [JSON.stringify(localStorage), JSON.stringify(sessionStorage),
                          document.cookie, location.href].some(text => text.includes(secret))""",
            secret,
        )
        return found


@pytest.fixture
async def officer(pipeline: Pipeline) -> AsyncIterator[Officer]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        context = await browser.new_context(viewport={"width": 1400, "height": 900})
        await context.add_init_script(  # not on about:blank, which has no storage
            "if (location.protocol === 'http:') "
            f"localStorage.setItem('peaceland.officer', '{OFFICER}')"
        )
        page = await context.new_page()
        seen = Officer(page, context, pipeline)

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error" and not _provoked(message.text, seen.expected_statuses):
                seen.errors.append(message.text)

        async def on_dialog(dialog: Dialog) -> None:
            seen.dialogs.append(dialog.message)
            await dialog.dismiss()

        def on_request(request: Request) -> None:
            seen.requests.append(request.url)
            if request.url.endswith("/api/v1/alerts/stream"):
                seen.streams.append(request)

        page.on("request", on_request)
        page.on("console", on_console)
        page.on("pageerror", lambda error: seen.errors.append(str(error)))
        page.on("dialog", on_dialog)
        try:
            yield seen
        finally:
            await context.close()
            await browser.close()
    outside = [url for url in seen.requests if not _local(url, pipeline.port)]
    assert not outside, f"requests outside this server: {outside[:5]}"
    assert seen.requests, "no request recorded"
    assert not seen.dialogs, f"a dialog opened: {seen.dialogs}"
    if not seen.expect_errors:
        assert not seen.errors, f"errors in the page: {seen.errors}"


def _provoked(error: str, statuses: set[int]) -> bool:
    return any(f"the server responded with a status of {status} " in error for status in statuses)


def _local(url: str, port: int) -> bool:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme in ("data", "blob"):
        return True
    return parts.hostname in ("127.0.0.1", "localhost") and parts.port == port


async def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), animations="disabled")


async def canvas_painted(page: Page, selector: str) -> int:
    """How many pixels of the first canvas matching ``selector`` are not blank."""
    painted: int = await page.eval_on_selector(
        selector,
        """canvas => {
            const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
            let n = 0;
            for (let i = 3; i < data.data.length; i += 4) if (data.data[i] > 0) n++;
            return n;
        }""",
    )
    return painted


async def card_gets_its_incident_id(pipeline: Pipeline, card: Locator, citizen: str) -> str:
    """The card shows the server's incident id (its actions need it) once the incident builder
    has recorded the incident: the page re-reads incidents every second while one it saw on
    the stream is unknown to the server. The builder's delay depends on the machine's load, so
    it is waited for at the server; only the page's part is timed."""
    recorded = await asyncio.to_thread(
        wait_until,
        lambda: pipeline.incident_of(citizen),
        30,
        f"the incident builder recording the incident of {citizen}",
    )
    incident_id = str(recorded["incident_id"])
    await expect(card).to_have_attribute(
        "data-incident-id", incident_id, timeout=PAGE_PICKS_UP_INCIDENT_MS
    )
    return incident_id


async def test_a_new_alert_appears_within_a_second_without_reload(
    pipeline: Pipeline, officer: Officer
) -> None:
    page = officer.page
    await officer.open(pipeline.url + "/")
    await expect(page.locator("#alerts-body tr").first).to_be_visible()  # the seeded ones
    await expect(page.locator("#incidents-open .incident").first).to_be_visible()
    await page.evaluate("window.stillTheSamePage = true")

    started = time.perf_counter()
    await publish_alert(pipeline.nats_url, make_alert("Jean Valjean", 2))
    row = page.locator("#alerts-body tr", has_text="Jean Valjean")
    await expect(row).to_be_visible(timeout=1000)
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0, f"the alert took {elapsed:.2f} s to show"
    assert await page.evaluate("window.stillTheSamePage === true")
    assert "Jean Valjean" in await page.locator("#alerts-body tr").first.inner_text()
    await expect(row).to_have_class(re.compile("sev-critical"))
    card = page.locator("#incidents-open .incident", has_text="Jean Valjean")
    await expect(card).to_contain_text("1 alert")
    await expect(card).to_contain_text("48.8566° N, 2.3522° E")
    await expect(page.locator("#critical-badge")).to_be_visible()

    await publish_alert(pipeline.nats_url, make_alert("Jean Valjean", 4, lat=48.86))
    await expect(card).to_contain_text("2 alerts")
    await card_gets_its_incident_id(pipeline, card, "Jean Valjean")
    await screenshot(page, "console")


async def test_acknowledge_then_resolve_moves_the_incident(
    pipeline: Pipeline, officer: Officer
) -> None:
    page = officer.page
    await officer.open(pipeline.url + "/")
    await publish_alert(pipeline.nats_url, make_alert("Fantine", 8))
    card = page.locator(".incident", has_text="Fantine")
    await expect(card).to_be_visible()
    incident_id = await card_gets_its_incident_id(pipeline, card, "Fantine")
    await expect(card.locator("button", has_text="Acknowledge")).to_be_enabled()

    await card.locator("input").fill("patrol on its way")
    await card.locator("button", has_text="Acknowledge").click()
    acked = page.locator("#incidents-acked .incident", has_text="Fantine")
    await expect(acked).to_have_attribute("data-status", "acknowledged")
    await expect(acked).to_contain_text(f"acknowledged by {OFFICER}")
    await expect(acked).to_contain_text("patrol on its way")
    await expect(page.locator("#incidents-open .incident", has_text="Fantine")).to_have_count(0)
    await expect(
        page.locator("#alerts-body tr", has_text="Fantine").locator(".status")
    ).to_have_text("acknowledged")
    stored = pipeline.api(f"incidents/{incident_id}")
    assert stored["status"] == "acknowledged"
    assert stored["acknowledged"]["by"] == OFFICER

    await acked.locator("button", has_text="Resolve").click()
    await expect(page.locator(".incident", has_text="Fantine")).to_have_count(0)
    await expect(
        page.locator("#alerts-body tr", has_text="Fantine").locator(".status")
    ).to_have_text("resolved")
    assert pipeline.api(f"incidents/{incident_id}")["status"] == "resolved"


async def test_names_and_words_from_reports_are_shown_as_text(
    pipeline: Pipeline, officer: Officer
) -> None:
    page = officer.page
    await officer.open(pipeline.url + "/")
    await publish_alert(pipeline.nats_url, make_alert(XSS_NAME, 1))
    row = page.locator("#alerts-body tr", has_text=XSS_NAME)
    await expect(row).to_be_visible()
    await expect(row.locator("td.citizen")).to_have_text(XSS_NAME)
    await expect(row.locator("td.words")).to_contain_text("<script>alert(2)</script>")
    card = page.locator(".incident", has_text=XSS_NAME)
    await expect(card.locator(".incident-citizen")).to_have_text(XSS_NAME)
    await page.click('a[data-view="map"]')
    await expect(page.locator(".leaflet-incidents-pane path").first).to_be_visible()
    await page.wait_for_timeout(500)
    assert await page.locator('img[src="x"]').count() == 0
    assert await page.evaluate("document.querySelectorAll('script:not([src])').length") == 0
    assert not officer.dialogs


async def test_the_map_shows_outlines_incidents_and_drones(
    pipeline: Pipeline, officer: Officer
) -> None:
    page = officer.page
    await officer.open(pipeline.url + "/#map")
    await expect(page.locator("#map-status")).to_contain_text("drones active")
    outlines = page.locator(".leaflet-outlines-pane svg path")
    await expect(outlines.first).to_be_attached()
    assert await outlines.count() > 100  # the countries, from the npm package, offline
    await expect(page.locator(".leaflet-incidents-pane path").first).to_be_visible()
    drones = page.locator(".leaflet-drones-pane path")
    await expect(drones.first).to_be_visible()
    assert await drones.count() >= 20
    await page.wait_for_timeout(500)
    await screenshot(page, "map")


async def test_the_fleet_view_shows_active_drones(pipeline: Pipeline, officer: Officer) -> None:
    page = officer.page
    await officer.open(pipeline.url + "/#fleet")
    await expect(page.locator("#drones-body tr").first).to_be_visible()
    assert int(await page.locator("#kpi-active").inner_text()) >= 20
    assert await canvas_painted(page, "#fleet-chart") > 0
    # Reports sent now are counted per minute.
    pipeline.simulate("--drones", "24", "--count", "48", "--speed", "1200", "--seed", "8")
    await page.select_option("#fleet-minutes", "15")
    await expect(page.locator("#fleet-status")).to_contain_text("updated")
    await screenshot(page, "fleet")


async def test_every_statistic_is_charted(pipeline: Pipeline, officer: Officer) -> None:
    page = officer.page
    await page.set_viewport_size({"width": 1400, "height": 2700})
    await officer.open(pipeline.url + "/#analytics")
    await page.select_option("#range-preset", "all")
    stats = pipeline.api("stats")["stats"]
    cards = page.locator(".stat-card")
    await expect(cards).to_have_count(len(stats))
    for stat in stats:
        card = page.locator(f'.stat-card[data-stat="{stat["name"]}"]')
        await expect(card.locator(".stat-footer")).to_contain_text("row(s)", timeout=20_000)
        await expect(card.locator(".stat-message.error")).to_have_count(0)
    per_day = page.locator('.stat-card[data-stat="reports_per_day"]')
    await expect(per_day.locator(".stat-footer")).not_to_contain_text("0 row(s)")
    assert await canvas_painted(page, '.stat-card[data-stat="reports_per_day"] canvas') > 0
    heat = page.locator('.stat-card[data-stat="agitation_by_cell"]')
    await expect(heat.locator(".leaflet-overlay-pane canvas")).to_be_attached()
    await page.wait_for_timeout(500)
    await screenshot(page, "analytics")


async def test_empty_and_absurd_time_ranges_say_so(pipeline: Pipeline, officer: Officer) -> None:
    page = officer.page
    await officer.open(pipeline.url + "/#analytics")
    await page.select_option("#range-preset", "custom")
    message = page.locator("#range-message")

    await page.fill("#range-since", "1900-01-01T00:00")
    await page.fill("#range-until", "1900-01-02T00:00")
    await page.click("#range-apply")
    await expect(message).to_contain_text("before 2000")

    await page.fill("#range-since", "2020-01-02T00:00")
    await page.fill("#range-until", "2020-01-01T00:00")
    await page.click("#range-apply")
    await expect(message).to_have_text("The start must be before the end.")

    await page.fill("#range-until", "")
    await page.fill("#range-since", "2999-01-01T00:00")
    await page.click("#range-apply")
    await expect(message).to_contain_text("more than a year from now")

    # A range with no reports: empty charts, each saying so, and no error.
    await page.fill("#range-since", "2020-01-01T00:00")
    await page.fill("#range-until", "2020-01-02T00:00")
    await page.click("#range-apply")
    await expect(message).to_have_text("")
    per_day = page.locator('.stat-card[data-stat="reports_per_day"]')
    await expect(per_day.locator(".stat-footer")).to_contain_text("0 row(s)", timeout=20_000)
    await expect(per_day.locator(".stat-message")).to_have_text("No data in this time range.")
    await expect(page.locator(".stat-message.error")).to_have_count(0)


async def test_the_page_says_reconnecting_and_resumes_without_a_gap(
    pipeline: Pipeline, officer: Officer
) -> None:
    page = officer.page
    officer.expect_errors = True  # the browser logs the refused connections
    await officer.open(pipeline.url + "/")
    seen_last = await publish_alert(pipeline.nats_url, make_alert("Cosette", 15))
    await expect(page.locator("#alerts-body tr", has_text="Cosette")).to_be_visible()

    pipeline.stop("gateway")
    await expect(page.locator("#conn")).to_have_text("reconnecting…")
    # Raised while the page cannot hear anything.
    await publish_alert(pipeline.nats_url, make_alert("Marius Pontmercy", 9))
    await publish_alert(pipeline.nats_url, make_alert("Gavroche", 3))
    await page.wait_for_timeout(1500)
    await expect(page.locator("#conn")).to_have_text("reconnecting…")
    await asyncio.to_thread(pipeline.start_gateway)

    await expect(page.locator("#conn")).to_have_text("live", timeout=15_000)
    for name in ("Marius Pontmercy", "Gavroche"):
        await expect(page.locator("#alerts-body tr", has_text=name)).to_have_count(1)
    await publish_alert(pipeline.nats_url, make_alert("Éponine", 6))
    await expect(page.locator("#alerts-body tr", has_text="Éponine")).to_be_visible(timeout=1000)
    seqs = await page.eval_on_selector_all(
        "#alerts-body tr", "rows => rows.map(r => Number(r.dataset.seq))"
    )
    assert seqs == sorted(seqs, reverse=True), "newest first, each once"
    assert len(seqs) == len(set(seqs))
    # The browser resumed the stream itself, telling the server where it was.
    resumed = [await r.header_value("last-event-id") for r in officer.streams[1:]]
    assert any(r is not None and int(r) >= seen_last for r in resumed), resumed
    unexpected = [e for e in officer.errors if not _refused(e)]
    assert not unexpected, unexpected


def _refused(error: Any) -> bool:
    return "ERR_CONNECTION_REFUSED" in str(error) or "Failed to load resource" in str(error)


# -- logging in ------------------------------------------------------------------------------

SESSION_ENDED = "Your session has ended"


async def test_without_a_session_the_page_asks_for_a_token(
    pipeline: Pipeline, officer: Officer
) -> None:
    page = officer.page
    officer.expected_statuses.add(401)  # GET /api/v1/session: nobody logged in yet
    await page.goto(pipeline.url + "/")
    await expect(page.locator("#login-view")).to_be_visible()
    await expect(page.locator("#login-token")).to_have_attribute("type", "password")
    await expect(page.locator("#login-token")).to_be_focused()
    await expect(page.locator("main")).to_be_hidden()
    await expect(page.locator(".tabs")).to_be_hidden()
    await expect(page.locator("#logout")).to_be_hidden()
    await expect(page.locator("#login-error")).to_be_hidden()
    await page.wait_for_timeout(500)
    assert not officer.streams, "the alert stream was opened without a login"
    api = [u for u in officer.requests if "/api/v1/" in u]
    assert api == [pipeline.url + "/api/v1/session"], api
    await screenshot(page, "login")


async def test_a_wrong_token_is_refused_with_a_clear_error(
    pipeline: Pipeline, officer: Officer
) -> None:
    page = officer.page
    officer.expected_statuses.add(401)
    await page.goto(pipeline.url + "/")
    await officer.log_in_with_the_form("plt_not-a-token-anyone-was-given")
    error = page.locator("#login-error")
    await expect(error).to_be_visible()
    await expect(error).to_contain_text("was refused: it is unknown or has been revoked")
    await expect(page.locator("#login-view")).to_be_visible()
    await expect(page.locator("main")).to_be_hidden()
    assert await officer.session_cookie() is None
    assert not officer.streams

    await page.fill("#login-token", "")
    await page.click("#login-submit")
    await expect(error).to_have_text("Enter your API token.")

    # A login link with a bad token says so too, and leaves the address bar at once.
    await page.goto(pipeline.url + "/#token=plt_revoked-long-ago")
    await expect(error).to_contain_text("The login link's token was refused")
    assert "token" not in page.url
    assert not officer.streams

    # A drone's token is valid, but not for the dashboard: the server refuses it a session (403).
    officer.expected_statuses.add(403)
    await officer.log_in_with_the_form(pipeline.token("drone"))
    await expect(error).to_contain_text("cannot open the dashboard")
    await expect(page.locator("main")).to_be_hidden()
    assert await officer.session_cookie() is None
    assert not officer.streams


async def test_a_good_token_shows_the_dashboard_and_who_is_logged_in(
    pipeline: Pipeline, officer: Officer
) -> None:
    page = officer.page
    officer.expected_statuses.add(401)
    await page.goto(pipeline.url + "/")
    await expect(page.locator("#login-view")).to_be_visible()
    token = pipeline.token("dispatcher")
    await officer.log_in_with_the_form(token)

    await expect(page.locator("#conn")).to_have_text("live")
    await expect(page.locator("#login-view")).to_be_hidden()
    await expect(page.locator("#who-name")).to_have_text("test-dispatcher")
    await expect(page.locator("#who-role")).to_have_text("dispatcher")
    await expect(page.locator("#logout")).to_be_visible()
    await expect(page.locator("#alerts-body tr").first).to_be_visible()
    assert len(officer.streams) == 1, "one stream, opened after the login"
    assert await page.input_value("#login-token") == ""
    assert not await officer.stored_anywhere(token), "the token was kept by the page"

    cookie = await officer.session_cookie()
    assert cookie is not None, "no session cookie"
    assert cookie["httpOnly"] is True
    assert cookie["secure"] is True
    assert cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/"
    assert 11.9 * 3600 < cookie["expires"] - time.time() <= 12 * 3600 + 60
    assert await officer.fetch_status("/api/v1/session") == 200
    # A reload keeps the session: no login view, the dashboard comes straight back.
    await page.reload()
    await expect(page.locator("#conn")).to_have_text("live")
    await expect(page.locator("#who-name")).to_have_text("test-dispatcher")
    await expect(page.locator("#login-view")).to_be_hidden()


async def test_the_login_link_logs_in_and_leaves_the_address_bar(
    pipeline: Pipeline, officer: Officer
) -> None:
    page = officer.page
    token = pipeline.token("viewer")
    await page.goto(f"{pipeline.url}/#token={token}")
    await expect(page.locator("#conn")).to_have_text("live")
    await expect(page.locator("#who-name")).to_have_text("test-viewer")
    assert page.url == pipeline.url + "/"
    assert not await officer.stored_anywhere(token)
    # No history entry keeps it either: back is the blank page, forward the bare address.
    await page.go_back()
    assert page.url == "about:blank"
    await page.go_forward()
    assert page.url == pipeline.url + "/"
    await expect(page.locator("#who-name")).to_have_text("test-viewer")  # by the cookie


async def test_log_out_returns_to_the_login_view_and_the_api_then_refuses(
    pipeline: Pipeline, officer: Officer
) -> None:
    page = officer.page
    officer.expected_statuses.add(401)
    await officer.open(pipeline.url + "/")
    await expect(page.locator("#alerts-body tr").first).to_be_visible()
    assert await officer.session_cookie() is not None

    await page.click("#logout")
    await expect(page.locator("#login-view")).to_be_visible()
    await expect(page.locator("#login-info")).to_have_text("You are logged out.")
    await expect(page.locator("main")).to_be_hidden()
    assert await officer.session_cookie() is None
    assert await officer.fetch_status("/api/v1/session") == 401
    assert await officer.fetch_status("/api/v1/alerts") == 401
    # What was shown is gone from the page, not only hidden.
    assert await page.locator("#alerts-body tr").count() == 0
    assert await page.locator(".incident").count() == 0
    assert await page.locator("#who-name").text_content() == ""
    assert await page.evaluate("localStorage.getItem('peaceland.officer')") is None

    # Logging in again opens a new stream, which delivers new alerts.
    opened = len(officer.streams)
    await expect(page.locator("#conn")).to_have_text("connecting…")  # no stream any more
    await officer.log_in_with_the_form(pipeline.token("dispatcher"))
    await expect(page.locator("#login-view")).to_be_hidden()
    await expect(page.locator("#conn")).to_have_text("live")
    assert len(officer.streams) == opened + 1
    await expect(page.locator("#officer")).to_have_value("test-dispatcher")  # the login's name
    await publish_alert(pipeline.nats_url, make_alert("Monsieur Thénardier", 12))
    await expect(page.locator("#alerts-body tr", has_text="Monsieur Thénardier")).to_be_visible()


async def test_a_revoked_token_sends_the_page_back_to_the_login_view(
    pipeline: Pipeline, officer: Officer
) -> None:
    page = officer.page
    officer.expected_statuses.add(401)
    admin = pipeline.token("admin")
    name = f"night-shift-{uuid.uuid4().hex[:6]}"
    created = call_json(
        pipeline.url + "/api/v1/tokens", "POST", admin, {"name": name, "role": "viewer"}
    )
    await page.goto(pipeline.url + "/")
    await officer.log_in_with_the_form(created["token"])
    await expect(page.locator("#conn")).to_have_text("live")
    await expect(page.locator("#who-name")).to_have_text(name)

    call_json(f"{pipeline.url}/api/v1/tokens/{name}", "DELETE", admin)
    # The next request of the page (here, after a new alert) is refused: back to the login.
    await publish_alert(pipeline.nats_url, make_alert("Fauchelevent", 14))
    await expect(page.locator("#login-view")).to_be_visible()
    await expect(page.locator("#login-info")).to_contain_text(SESSION_ENDED)
    await expect(page.locator("main")).to_be_hidden()
    assert await page.locator("#alerts-body tr").count() == 0


async def test_a_viewer_sees_no_acknowledge_action_and_is_told_if_refused(
    pipeline: Pipeline, officer: Officer
) -> None:
    page = officer.page
    officer.expected_statuses.add(403)  # the acknowledgement forced below
    await officer.open(pipeline.url + "/", role="viewer")
    await publish_alert(pipeline.nats_url, make_alert("Bishop Myriel", 10))
    card = page.locator(".incident", has_text="Bishop Myriel")
    await expect(card).to_be_visible()
    incident_id = await card_gets_its_incident_id(pipeline, card, "Bishop Myriel")
    await expect(card.locator("button", has_text="Acknowledge")).to_be_hidden()
    await expect(card.locator("button", has_text="Resolve")).to_be_hidden()
    await expect(card.locator("input")).to_be_hidden()
    await expect(page.locator("label.officer")).to_be_hidden()
    await expect(page.locator("#who-role")).to_have_text("viewer")

    # Forced from the page's script anyway: the server refuses, and the page says why.
    await card.locator("button", has_text="Acknowledge").evaluate("button => button.click()")
    banner = page.locator("#banner")
    await expect(banner).to_contain_text("You may not acknowledge incidents")
    await expect(banner).to_contain_text("viewer")
    assert pipeline.incident_of("Bishop Myriel") is not None
    assert pipeline.api(f"incidents/{incident_id}")["status"] == "open"
    await expect(card).to_have_attribute("data-status", "open")


async def test_a_dispatcher_sees_the_actions_and_can_acknowledge(
    pipeline: Pipeline, officer: Officer
) -> None:
    page = officer.page
    await officer.open(pipeline.url + "/", role="dispatcher")
    await publish_alert(pipeline.nats_url, make_alert("Champmathieu", 11))
    card = page.locator("#incidents-open .incident", has_text="Champmathieu")
    await expect(card).to_be_visible()
    incident_id = await card_gets_its_incident_id(pipeline, card, "Champmathieu")
    await expect(page.locator("label.officer")).to_be_visible()
    await card.locator("button", has_text="Acknowledge").click()
    acked = page.locator("#incidents-acked .incident", has_text="Champmathieu")
    await expect(acked).to_have_attribute("data-status", "acknowledged")
    assert pipeline.api(f"incidents/{incident_id}", "viewer")["status"] == "acknowledged"
    entries = pipeline.api("audit?limit=50")["entries"]
    assert any(
        e["action"] == "incident.ack"
        and e["target"] == incident_id
        and e["actor"] == "test-dispatcher"
        for e in entries
    ), entries[:5]
