"""The reviewers' web UI in a real browser (Debian's chromium, driven by Playwright) against a
real server on 127.0.0.1. Screenshots go to tests/screenshots/ for a person to look at."""

from __future__ import annotations

import io
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
import uvicorn

from service.accounts.service import create_user, set_role
from service.api import create_app
from service.db import session_scope
from service.knowledge_base import KnowledgeBase
from service.settings import Settings
from tests.conftest import ingest_all, seed
from tests.test_drafting import customer_workbook

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
PASSWORD = "browser test password"
NTP = "サーバーの時刻はNTP等で同期されていますか。"
OTP = "管理者ログインにワンタイムパスワード等の多要素認証を利用できますか。"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = Settings(home=tmp_path_factory.mktemp("web"))
    ingest_all(KnowledgeBase(settings), "acme", [seed("000"), seed("001"), seed("004")])
    with session_scope(settings.resolved_database_url) as session:
        for email, role in (("rev@acme.test", "reviewer"), ("view@acme.test", "viewer")):
            set_role(session, create_user(session, email, PASSWORD), "acme", role)
    port = free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not uv.started and time.time() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail("chromium is missing: `apt-get install chromium` (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        yield browser
        browser.close()


def sign_in(browser, server: str, email: str):  # noqa: ANN001, ANN201
    context = browser.new_context(accept_downloads=True, viewport={"width": 1500, "height": 1000}, locale="ja-JP")
    page = context.new_page()
    page.goto(server + "/")
    assert page.url.endswith("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(server + "/")
    return page


def row(page, question: str):  # noqa: ANN001, ANN201
    return page.locator("#items tbody tr", has_text=question)


def test_reviewer_flow_in_the_browser(browser, server: str, tmp_path: Path) -> None:  # noqa: ANN001
    SCREENSHOTS.mkdir(exist_ok=True)
    page = sign_in(browser, server, "rev@acme.test")
    questionnaire = tmp_path / "customer.xlsx"
    questionnaire.write_bytes(customer_workbook())

    page.set_input_files("#upload-form input[type=file]", str(questionnaire))
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector("#open-review", timeout=120_000)
    page.wait_for_selector("#questionnaires tbody tr >> text=done")
    page.screenshot(path=str(SCREENSHOTS / "dashboard.png"), full_page=True)
    assert "customer.xlsx" in page.inner_text("#questionnaires")

    page.click("#open-review")
    page.wait_for_selector("#items tbody tr")
    assert page.locator("#items tbody tr").count() == 10
    assert NTP in page.inner_text("#items")  # Japanese displays as written

    # Open a citation: the cited row's text, source and locator.
    row(page, NTP).locator("button.cite").first.click()
    assert page.is_visible("#citation")
    title = page.inner_text("#citation-title")
    assert re.search(r"\.txt · (No\.\d+|\d+-\d+)", title), title
    assert "時刻" in page.inner_text("#citation-text") or "NTP" in page.inner_text("#citation-text")

    # Edit one answer in place.
    otp = row(page, OTP)
    new_text = "管理者ログインでは TOTP 方式の多要素認証を必須にできます。"
    otp.locator("textarea.answer").fill(new_text)
    otp.locator("select.choice").select_option("はい")
    otp.locator("button.save").click()
    page.wait_for_selector(f"#items tbody tr:has-text('{OTP}') .pill.edited")

    # Accept one with the keyboard: select its row, press "a".
    ntp_index = [t for t in page.locator("#items tbody tr td.q").all_inner_texts()].index(NTP)
    page.locator("#items tbody tr").nth(ntp_index).locator("td").first.click()
    page.keyboard.press("a")
    page.wait_for_selector(f"#items tbody tr:has-text('{NTP}') .pill.accepted")

    # Bulk accept above a threshold.
    page.fill("#bulk-threshold", "0.5")
    page.click("#bulk-accept")
    page.wait_for_selector("#toast.show >> text=/Accepted \\d+/")
    page.wait_for_timeout(500)
    page.screenshot(path=str(SCREENSHOTS / "review.png"), full_page=True)

    # Filter by status.
    page.select_option("#filter-status", "edited")
    page.wait_for_function("document.querySelectorAll('#items tbody tr').length === 1")

    # Export the filled workbook and read its cells.
    with page.expect_download() as download_info:
        page.click("#export")
    download = download_info.value
    assert download.suggested_filename == "customer_answered.xlsx"
    ws = openpyxl.load_workbook(io.BytesIO(Path(download.path()).read_bytes()))["質問票"]
    rows = {ws.cell(row=r, column=3).value: r for r in range(5, 15)}
    assert ws.cell(row=rows[OTP], column=5).value == new_text
    assert ws.cell(row=rows[OTP], column=4).value == "はい"
    assert ws.cell(row=rows[NTP], column=5).value  # accepted draft written

    page.goto(page.url.split("?")[0].rstrip("/") + "/audit")
    page.wait_for_selector("#audit-log tbody tr >> text=item.edit")
    page.context.close()


def test_viewer_sees_no_edit_controls_and_forged_requests_fail(browser, server: str) -> None:  # noqa: ANN001
    page = sign_in(browser, server, "view@acme.test")
    page.wait_for_selector("#questionnaires tbody tr a")
    assert page.locator("#upload-form").count() == 0
    page.locator("#questionnaires tbody tr a").first.click()
    page.wait_for_selector("#items tbody tr")
    assert page.locator("textarea.answer").count() == 0
    assert page.locator("button.accept").count() == 0 and page.locator("#bulk-accept").count() == 0
    item_id = page.locator("#items tbody tr").first.get_attribute("data-id")
    status = page.evaluate(
        """async (id) => (await fetch(`/api/items/${id}/accept`, {method: "POST",
             headers: {"Content-Type": "application/json"}, body: JSON.stringify({version: 1})})).status""",
        item_id,
    )
    assert status == 403
    page.context.close()
