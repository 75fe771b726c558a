"""The officers' dashboard in real headless Chromium (Debian's), driven by Playwright.

The product runs as in production (``peaceland gateway``, ``alerter``, ``archiver`` on a
private stack, seeded by ``peaceland simulate``); each test opens the page in a new browser and
checks what an officer sees. Every test also checks that the page asked nothing of any host
but this server, and logged no error. Screenshots go to ``docs/screenshots/``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from dashboard_helpers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    SCREENSHOTS,
    Pipeline,
    get_json,
    make_alert,
    publish_alert,
    wait_until,
)
from playwright.async_api import (
    ConsoleMessage,
    Dialog,
    Page,
    Request,
    async_playwright,
    expect,
)

from conftest import running_stack

pytestmark = pytest.mark.slow

OFFICER = "Inspecteur Javert"
XSS_NAME = "<img src=x onerror=alert(1)>"
SEED_REPORTS = 480


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} is missing: `make test` installs Debian's chromium when it runs as "
            "root with apt-get; elsewhere run `apt-get install chromium`"
        )
    data_dir = tmp_path_factory.mktemp("dashboard")
    with running_stack(data_dir) as stack:
        pipeline = Pipeline(stack.env(), stack.endpoints.nats_url, data_dir)
        try:
            pipeline.start("alerter")
            pipeline.start("archiver")
            pipeline.start_gateway()
            pipeline.simulate(
                *("--drones", "24", "--count", str(SEED_REPORTS), "--speed", "1200"),
                *("--bad-rate", "0.15", "--seed", "7"),
            )

            def archived() -> bool:
                rows = get_json(pipeline.url + "/api/v1/stats/reports_per_day")["rows"]
                return sum(int(r["reports"]) for r in rows) >= SEED_REPORTS

            wait_until(archived, 60, "the seeded reports in the archive", interval=1.0)
            yield pipeline
        finally:
            pipeline.stop_all()


@dataclasses.dataclass
class Officer:
    """A browser page and what it did: requests, errors, dialogs."""

    page: Page
    requests: list[str] = dataclasses.field(default_factory=list)
    errors: list[str] = dataclasses.field(default_factory=list)
    dialogs: list[str] = dataclasses.field(default_factory=list)
    streams: list[Request] = dataclasses.field(default_factory=list)
    expect_errors: bool = False

    async def open(self, url: str) -> None:
        await self.page.goto(url)
        await expect(self.page.locator("#conn")).to_have_text("live")


@pytest.fixture
async def officer(pipeline: Pipeline) -> AsyncIterator[Officer]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        context = await browser.new_context(viewport={"width": 1400, "height": 900})
        await context.add_init_script(f"localStorage.setItem('peaceland.officer', '{OFFICER}')")
        page = await context.new_page()
        seen = Officer(page)

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
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
    await expect(card).to_have_attribute("data-incident-id", re.compile(".+"))
    await screenshot(page, "console")


async def test_acknowledge_then_resolve_moves_the_incident(
    pipeline: Pipeline, officer: Officer
) -> None:
    page = officer.page
    await officer.open(pipeline.url + "/")
    await publish_alert(pipeline.nats_url, make_alert("Fantine", 8))
    card = page.locator(".incident", has_text="Fantine")
    await expect(card).to_have_attribute("data-incident-id", re.compile(".+"))
    incident_id = await card.get_attribute("data-incident-id")
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
    stored = get_json(f"{pipeline.url}/api/v1/incidents/{incident_id}")
    assert stored["status"] == "acknowledged"
    assert stored["acknowledged"]["by"] == OFFICER

    await acked.locator("button", has_text="Resolve").click()
    await expect(page.locator(".incident", has_text="Fantine")).to_have_count(0)
    await expect(
        page.locator("#alerts-body tr", has_text="Fantine").locator(".status")
    ).to_have_text("resolved")
    assert get_json(f"{pipeline.url}/api/v1/incidents/{incident_id}")["status"] == "resolved"


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
    stats = get_json(pipeline.url + "/api/v1/stats")["stats"]
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
