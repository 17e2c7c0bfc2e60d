"""The reviewer's desk in a real browser (Debian's chromium, driven by Playwright) against a real
server on 127.0.0.1: one server, one browser and one signed-in reviewer for the whole module.

Typing survives live updates and reloads; shortcuts act on the shown question and move on, fast at
300 questions; a conflict keeps the loser's text; comments, filters, bulk accept with undo, a clean
export; axe finds no serious or critical problem on any page; nothing overflows at 390 px."""

from __future__ import annotations

import io
import re
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import openpyxl
import pytest
import uvicorn

from service.accounts.service import create_token, create_user, set_role
from service.api import create_app
from service.db import session_scope
from service.knowledge_base import KnowledgeBase
from service.settings import Settings
from tests.conftest import ingest_all, seed
from tests.test_drafting import QUESTIONS, customer_workbook

# A real browser against a real server: make check leaves it out.
pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
PASSWORD = "browser test password"
ITEMS = [q for _, q, _ in QUESTIONS]  # the sample questionnaire's questions, in order
BACKUP, NTP, DELETION, OTP, TLS, NOTIFY, EMPLOYEES, SOC2, INJECTION, FEDRAMP = ITEMS


@dataclass
class Site:
    url: str
    tokens: dict[str, str]

    def api(self, who: str = "rev") -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.tokens[who]}"}, timeout=60)

    def upload(self, name: str, data: bytes) -> int:
        with self.api() as client:
            response = client.post("/api/workspaces/acme/questionnaires", files={"file": (name, data)})
            assert response.status_code == 202, response.text
            qid = response.json()["id"]
            deadline = time.time() + 600
            while client.get(f"/api/questionnaires/{qid}").json()["status"] not in ("done", "failed"):
                assert time.time() < deadline, "drafting did not finish"
                time.sleep(0.3)
        return qid

    def items(self, qid: int, who: str = "rev", **filters: str) -> list[dict]:
        with self.api(who) as client:
            return client.get(f"/api/questionnaires/{qid}/items", params=filters).json()

    def item(self, qid: int, question: str) -> dict:
        return next(i for i in self.items(qid) if i["question"] == question)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    # Evidence never goes stale here, so bulk accept (which skips flagged drafts) has drafts to take.
    settings = Settings(home=tmp_path_factory.mktemp("web"), stale_evidence_months=1200, calibration="off")
    ingest_all(KnowledgeBase(settings), "acme", [seed("000")])
    tokens = {}
    with session_scope(settings.resolved_database_url) as session:
        for email, role in (
            ("rev@acme.test", "reviewer"),
            ("kim@acme.test", "reviewer"),
            ("view@acme.test", "viewer"),
            ("admin@acme.test", "admin"),
        ):
            user = create_user(session, email, PASSWORD)
            set_role(session, user, "acme", role)
            tokens[email.split("@")[0]] = create_token(session, user, "browser tests")
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=free_port(), log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    yield Site(f"http://127.0.0.1:{server.config.port}", tokens)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail("chromium is missing: `apt-get install chromium` (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=[*args, "--no-first-run"])
        yield browser
        browser.close()


def sign_in(browser, site: Site, email: str, width: int = 1440, height: int = 900):  # noqa: ANN001, ANN201
    context = browser.new_context(accept_downloads=True, viewport={"width": width, "height": height}, locale="ja-JP")
    page = context.new_page()
    page.goto(site.url + "/")
    assert page.url.endswith("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(site.url + "/")
    return page


@pytest.fixture(scope="module")
def page(browser, site: Site) -> Iterator[object]:  # noqa: ANN001
    """The reviewer rev@acme.test, signed in once for the module."""
    page = sign_in(browser, site, "rev@acme.test")
    yield page
    page.context.close()


@pytest.fixture(scope="module")
def qid(page, site: Site, tmp_path_factory: pytest.TempPathFactory) -> int:  # noqa: ANN001
    """The sample questionnaire, uploaded through the dashboard and drafted."""
    path = tmp_path_factory.mktemp("upload") / "customer.xlsx"
    path.write_bytes(customer_workbook())
    page.goto(site.url + "/")
    page.set_input_files("#upload-form input[type=file]", str(path))
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector("#open-review", timeout=600_000)
    return int(page.get_attribute("#open-review", "href").rsplit("/", 1)[1])


def open_item(page, site: Site, qid: int, item_id: int) -> None:  # noqa: ANN001
    page.goto(f"{site.url}/q/{qid}#item-{item_id}")
    page.wait_for_selector(f"#item-{item_id}[aria-selected=true]")
    page.wait_for_function("document.getElementById('editor-question').textContent.length > 0")


def pill(page, item_id: int, text: str) -> None:  # noqa: ANN001
    page.wait_for_selector(f"#item-{item_id} .pill >> text='{text}'", timeout=20_000)


def test_upload_evidence_edit_and_audit(page, site: Site, qid: int) -> None:  # noqa: ANN001
    page.goto(site.url + "/")
    page.wait_for_selector("#questionnaires tbody tr >> text=done")
    assert "customer.xlsx" in page.inner_text("#questionnaires")
    page.goto(f"{site.url}/q/{qid}")
    options = page.get_by_role("row")
    options.first.wait_for()
    assert options.count() == 10
    assert [page.inner_text(f"#items [role=row]:nth-child({n}) .q") for n in (1, 2)] == [BACKUP, NTP]
    assert options.first.get_attribute("aria-selected") == "true"
    progress = page.inner_text("#progress-text")
    assert re.match(r"0 / 10 reviewed", progress), progress

    # Why this draft: the cited sheet, its row and date, the matched words marked.
    ntp = site.item(qid, NTP)
    open_item(page, site, qid, ntp["id"])
    page.wait_for_selector("#why-body .citation")
    head = page.inner_text("#why-body .citation .cite-head")
    assert re.search(r"\.txt · row (No\.\d+|\d+-\d+) · dated \d{4}-\d\d-\d\d", head), head
    assert "時刻" in page.locator("#why-body .citation").first.locator("mark").all_inner_texts()
    font = page.eval_on_selector(f"#item-{ntp['id']} .q", "e => getComputedStyle(e).fontFamily")
    assert font.startswith('"Hiragino Sans"') and "IPAGothic" in font  # the Japanese stack for Japanese text

    # A flag in words.
    tls = site.item(qid, TLS)
    page.click(f"#item-{tls['id']}")
    page.wait_for_selector("#why-body .flag[data-flag=needs_translation]")
    assert page.inner_text("#why-body .flag[data-flag=needs_translation]").endswith(
        "answer is Japanese evidence: translate it into English"
    )

    # Edit one answer: its diff against the draft shows.
    otp = site.item(qid, OTP)
    page.click(f"#item-{otp['id']}")
    new_text = "管理者ログインでは TOTP 方式の多要素認証を必須にできます。"
    page.get_by_role("textbox", name="Answer").fill(new_text)
    page.select_option("#choice", "はい")
    page.wait_for_selector("#diff-box #diff ins")  # the diff against the draft
    page.get_by_role("button", name="Save edit").click()
    pill(page, otp["id"], "edited")
    assert site.item(qid, OTP)["answer"] == new_text

    page.goto(f"{site.url}/q/{qid}/audit")
    page.wait_for_selector("#audit-log .event >> text=edited and approved")
    event = page.locator("#audit-log .event", has_text="edited and approved").first.inner_text()
    assert "rev@acme.test" in event and "drafted → edited" in event and new_text in event


def test_typing_survives_live_updates_and_a_reload(page, site: Site, qid: int) -> None:  # noqa: ANN001
    employees, fedramp = site.item(qid, EMPLOYEES), site.item(qid, FEDRAMP)
    open_item(page, site, qid, employees["id"])
    page.click("#answer")
    typed = "About 120 people; a rough count (next: justify, ask HR)"  # shortcut letters: a r x e k c n j
    page.keyboard.type(typed)
    # Meanwhile someone else edits another question, assigns this one and comments on it.
    with site.api("kim") as kim:
        kim.post(f"/api/items/{fedramp['id']}/edit", json={"version": fedramp["version"], "answer": "Not authorized."})
        kim.post(
            f"/api/items/{employees['id']}/assign", json={"version": employees["version"], "assignee": "kim@acme.test"}
        )
        kim.post(f"/api/items/{employees['id']}/comments", json={"text": "人事に確認済みです"})
    pill(page, fedramp["id"], "edited")  # the live update arrived...
    page.wait_for_selector("#editor-meta >> text=assigned to kim@acme.test")
    page.wait_for_selector("#thread .comment >> text=人事に確認済みです")
    # ...and the text, the focus and the other rows are as they were.
    assert page.input_value("#answer") == typed
    assert page.evaluate("document.activeElement.id") == "answer"
    page.keyboard.type(". Thanks")
    assert page.input_value("#answer") == typed + ". Thanks"
    assert site.item(qid, EMPLOYEES)["status"] == "no_evidence"  # no shortcut fired, nothing saved
    with site.api() as rev:
        mine = [e for e in rev.get(f"/api/questionnaires/{qid}/audit").json() if e["user"] == "rev@acme.test"]
    assert all(e["item_id"] != employees["id"] for e in mine)

    # The unsaved edit survives a reload, and then saves (the other change did not touch the answer).
    page.reload()
    page.wait_for_selector(f"#item-{employees['id']}[aria-selected=true]")
    assert page.input_value("#answer") == typed + ". Thanks"
    assert "kept on this device" in page.inner_text("#editor-notice")
    assert "unsaved edit" in page.inner_text(f"#item-{employees['id']}")
    page.click("#answer")
    page.keyboard.press("Control+Enter")
    pill(page, employees["id"], "edited")
    assert site.item(qid, EMPLOYEES)["answer"] == typed + ". Thanks"
    assert "unsaved edit" not in page.inner_text(f"#item-{employees['id']}")


def test_a_conflict_keeps_the_losers_text(page, site: Site, qid: int) -> None:  # noqa: ANN001
    item = site.item(qid, DELETION)
    open_item(page, site, qid, item["id"])
    mine = "契約終了後30日以内に、すべてのデータを消去し、消去証明書を発行します。"
    page.fill("#answer", mine)
    theirs = "ご契約終了時に直ちに消去します。"
    with site.api("kim") as kim:
        assert kim.post(f"/api/items/{item['id']}/edit", json={"version": item["version"], "answer": theirs}).is_success
    page.get_by_role("button", name="Save edit").click()
    dialog = page.locator("#conflict-dialog")
    dialog.wait_for()
    assert page.input_value("#conflict-mine") == mine
    assert page.inner_text("#conflict-theirs") == theirs and "kim@acme.test" in page.inner_text("#conflict-who")
    page.click("#conflict-append")  # merge: theirs below mine, then save
    page.click("#conflict-keep")
    page.wait_for_function("!document.getElementById('conflict-dialog').open")
    pill(page, item["id"], "edited")
    saved = site.item(qid, DELETION)
    assert saved["answer"] == f"{mine}\n{theirs}" and saved["status"] == "edited"


def test_shortcut_acts_on_the_shown_row_and_moves_on_fast_at_300_items(page, site: Site) -> None:  # noqa: ANN001
    wb = openpyxl.load_workbook(io.BytesIO(customer_workbook()))
    ws = wb["質問票"]
    for number in range(11, 301):  # the ten questions again and again: 300 rows, ten distinct drafts
        ws.append([number, "追加", ITEMS[(number - 1) % 10], None, None, None])
    out = io.BytesIO()
    wb.save(out)
    big = site.upload("big.xlsx", out.getvalue())
    items = site.items(big)
    assert len(items) == 300
    page.goto(f"{site.url}/q/{big}")
    page.wait_for_selector("#items [role=row][aria-selected=true]")
    assert page.get_by_role("row").count() == 300
    page.evaluate("document.querySelectorAll('#items [role=row]').forEach((row) => { row.dataset.mark = 'first'; })")
    page.evaluate(
        """() => {
        window.latencies = [];
        document.addEventListener('keydown', () => { window.t0 = performance.now(); }, { capture: true });
        new MutationObserver((records) => {
          if (window.t0 == null) return;
          if (records.some((r) => r.target.getAttribute('aria-selected') === 'true')) {
            const t0 = window.t0; window.t0 = null;
            requestAnimationFrame(() => setTimeout(() => window.latencies.push(performance.now() - t0)));
          }
        }).observe(document.getElementById('items'),
                   { attributes: true, attributeFilter: ['aria-selected'], subtree: true });
    }"""
    )
    waiting = [i for i in items if i["status"] in ("drafted", "no_evidence", "failed")]
    expected = [i["id"] for i in waiting[:6]]
    assert waiting[0]["id"] == items[0]["id"] and all(i["answer"] or i["choice"] for i in waiting[:6])
    page.keyboard.press("j")
    page.keyboard.press("k")
    accepted = []
    for _ in range(6):
        shown = page.inner_text("#editor-question")
        selected = int(page.get_attribute("#items [aria-selected=true]", "data-id"))
        assert shown == next(i["question"] for i in items if i["id"] == selected)  # the row whose answer is shown
        page.keyboard.press("a")
        page.wait_for_function(f"document.querySelector('#items [aria-selected=true]').dataset.id !== '{selected}'")
        accepted.append(selected)
    for item_id in accepted:
        pill(page, item_id, "accepted")
    assert accepted == expected  # each time the shown one, then on to the next waiting for review
    latencies = page.evaluate("window.latencies")
    print(f"key press to next row selected and painted, 300 rows (ms): {[round(t) for t in latencies]}")
    assert len(latencies) >= 6 and statistics.median(latencies) < 100, latencies
    # r rejects the shown question; the rows were patched, never redrawn.
    selected = int(page.get_attribute("#items [aria-selected=true]", "data-id"))
    assert selected == waiting[6]["id"]
    page.keyboard.press("r")
    pill(page, selected, "rejected")
    assert page.evaluate("document.querySelectorAll('#items [role=row][data-mark=first]').length") == 300
    statuses = {i["id"]: i["status"] for i in site.items(big)}
    assert [statuses[i] for i in accepted] == ["accepted"] * 6 and statuses[selected] == "rejected"
    assert sum(s in ("accepted", "rejected") for s in statuses.values()) == 7  # nothing else changed


def test_comments_show_after_reload(page, site: Site, qid: int) -> None:  # noqa: ANN001
    item = site.item(qid, SOC2)
    open_item(page, site, qid, item["id"])
    page.select_option("#mention", "kim@acme.test")
    page.get_by_role("textbox", name="Comment").type("法務に報告書の提出可否を確認中です")
    page.get_by_role("button", name="Add comment").click()
    page.wait_for_selector("#thread .comment")
    page.reload()
    page.wait_for_selector(f"#item-{item['id']}[aria-selected=true]")
    comment = page.locator("#thread .comment")
    comment.wait_for()
    assert "rev@acme.test" in comment.inner_text() and comment.locator("time").count() == 1
    assert comment.locator(".mention").inner_text() == "@kim@acme.test"
    assert "法務に報告書の提出可否を確認中です" in comment.inner_text()
    assert "1 comment" in page.inner_text(f"#item-{item['id']}")


def test_assigned_to_me_filter(browser, page, site: Site, qid: int) -> None:  # noqa: ANN001
    item = site.item(qid, NOTIFY)
    open_item(page, site, qid, item["id"])
    page.select_option("#assign", "kim@acme.test")
    page.wait_for_selector("#editor-meta >> text=assigned to kim@acme.test")
    kim = sign_in(browser, site, "kim@acme.test")
    kim.goto(f"{site.url}/q/{qid}")
    kim.wait_for_selector("#items [role=row]")
    kim.click("#filters summary")
    kim.get_by_label("Assigned to me", exact=True).check()
    mine = {i["id"] for i in site.items(qid, "kim", assigned="me")}
    assert item["id"] in mine
    kim.wait_for_function(f"document.querySelectorAll('#items [role=row]').length === {len(mine)}")
    shown = {int(x) for x in kim.eval_on_selector_all("#items [role=row]", "rows => rows.map((r) => r.dataset.id)")}
    assert shown == mine
    kim.context.close()


def reworded_workbook() -> bytes:
    """The customer's sheet with every question reworded a little: earlier tests approved the
    original wording, and an approved question sent again is carried over (flagged `reused`)."""
    wb = openpyxl.load_workbook(io.BytesIO(customer_workbook()))
    ws = wb["質問票"]
    for row in ws.iter_rows(min_row=5, min_col=3, max_col=3):
        if row[0].value:
            row[0].value = f"【今年度】{row[0].value}"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_bulk_accept_previews_cancels_confirms_and_undoes(page, site: Site) -> None:  # noqa: ANN001
    bulk = site.upload("bulk.xlsx", reworded_workbook())
    with site.api() as rev:
        preview = rev.get(f"/api/questionnaires/{bulk}/bulk-accept/preview", params={"min_confidence": 0.5}).json()
    assert preview["count"] >= 1, [(i["confidence"], i["flags"], i["status"]) for i in site.items(bulk)]
    page.goto(f"{site.url}/q/{bulk}")
    page.wait_for_selector("#items [role=row][aria-selected=true]")
    page.get_by_role("button", name="Bulk accept…").click()
    page.fill("#bulk-threshold", "0.5")
    page.dispatch_event("#bulk-threshold", "change")
    n = preview["count"]
    page.wait_for_selector("#bulk-summary[data-threshold='0.5']")
    assert page.inner_text("#bulk-summary") == f"{n} draft{'s' if n > 1 else ''} would be accepted:"
    assert page.locator("#bulk-list .bulk-item").count() == n
    assert [page.inner_text(f"#bulk-list .bulk-item:nth-child({k + 1}) .ref") for k in range(n)] == [
        i["ref"] for i in preview["items"]
    ]
    if preview["flagged"]:
        assert "skipped" in page.inner_text("#bulk-flagged-summary")
    page.get_by_role("button", name="Cancel").click()
    assert not page.is_visible("#bulk-dialog")
    assert all(i["status"] != "accepted" for i in site.items(bulk))  # cancelled: nothing accepted

    page.get_by_role("button", name="Bulk accept…").click()
    page.fill("#bulk-threshold", "0.5")
    page.dispatch_event("#bulk-threshold", "change")
    page.wait_for_selector("#bulk-summary[data-threshold='0.5']")
    page.get_by_role("button", name=f"Accept {n} draft").click()
    for i in preview["items"]:
        pill(page, i["id"], "accepted")
    assert sorted(i["id"] for i in site.items(bulk, status="accepted")) == sorted(i["id"] for i in preview["items"])
    page.get_by_role("button", name="Undo bulk accept").click()
    for i in preview["items"]:
        pill(page, i["id"], "drafted")
    assert site.items(bulk, status="accepted") == []
    with site.api() as rev:
        assert rev.get(f"/api/questionnaires/{bulk}/audit").json()[-1]["action"] == "questionnaire.bulk_undo"


def test_keyboard_only_accept(browser, site: Site, qid: int) -> None:  # noqa: ANN001
    page = sign_in(browser, site, "rev@acme.test")
    page.goto(f"{site.url}/q/{qid}")
    page.wait_for_selector("#items [role=row][aria-selected=true]")
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.getAttribute('role')") == "row":
            break
    else:
        pytest.fail("the first question is not reachable in 10 Tabs")
    focused = page.evaluate("[document.activeElement.dataset.id, document.activeElement.getAttribute('aria-selected')]")
    backup = site.item(qid, BACKUP)
    assert focused == [str(backup["id"]), "true"], focused
    page.keyboard.press("a")
    pill(page, backup["id"], "accepted")
    assert page.evaluate("document.activeElement.getAttribute('aria-selected')") == "true"  # focus moved on with it
    assert site.item(qid, BACKUP)["status"] == "accepted"
    page.context.close()


def test_export_of_approved_answers_has_no_marks(page, site: Site, qid: int) -> None:  # noqa: ANN001
    with site.api() as rev:
        summary = rev.get(f"/api/questionnaires/{qid}/export/summary").json()
    assert summary["approved"] >= 1
    page.goto(f"{site.url}/q/{qid}")
    page.wait_for_selector("#items [role=row][aria-selected=true]")
    page.get_by_role("button", name="Export…").click()
    page.wait_for_selector(f"#export-summary >> text={summary['approved']} of 10 questions have an approved answer.")
    assert f"{summary['blank']} rows stay blank" in page.inner_text("#export-summary")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Export and download").click()
    download = download_info.value
    assert download.suggested_filename == "customer_answered.xlsx"
    page.wait_for_selector("#export-result >> text=blank row")
    assert f"{summary['blank']} blank rows" in page.inner_text("#export-result")
    ws = openpyxl.load_workbook(io.BytesIO(Path(download.path()).read_bytes()))["質問票"]
    approved = {i["question"]: i for i in site.items(qid) if i["status"] in ("accepted", "edited")}
    for row in range(5, 15):
        question = ws.cell(row=row, column=3).value
        answer = ws.cell(row=row, column=5)
        assert bool(answer.value) == (question in approved and bool(approved[question]["answer"])), question
        for column in (4, 5, 6):
            cell = ws.cell(row=row, column=column)
            assert cell.comment is None and cell.fill.fill_type is None  # no review marks
    values = [str(c.value) for r in ws.iter_rows() for c in r if c.value]
    assert not any(re.search(r"\.txt|00\d_", v) for v in values)  # no past sheet's name reaches the customer
    page.get_by_role("button", name="Close").click()


PAGES = ("/", "/kb", "/q/{qid}", "/q/{qid}/audit", "/admin", "/q/999999")


def axe_problems(page) -> list[str]:  # noqa: ANN001
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    found = page.evaluate(
        """async () => (await axe.run(document,
                                      {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}}))
        .violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`)"""
    )
    return found


def settle(page, path: str) -> None:  # noqa: ANN001
    if path.startswith("/q/9"):
        return
    if path.endswith("/audit"):
        page.wait_for_selector("#audit-log .event")
    elif path.startswith("/q/"):
        page.wait_for_selector("#why-body .band-line")
    elif path == "/":
        page.wait_for_selector("#questionnaires tbody tr")
    elif path == "/kb":
        page.wait_for_selector("#sources tbody tr")


def test_no_serious_accessibility_problem_on_any_page(browser, site: Site, qid: int) -> None:  # noqa: ANN001
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP")
    login = context.new_page()
    login.goto(site.url + "/login")
    problems = {"/login": axe_problems(login)}
    context.close()
    admin = sign_in(browser, site, "admin@acme.test")
    for path in PAGES:
        url = site.url + path.format(qid=qid)
        admin.goto(url)
        settle(admin, path)
        if path == "/kb":
            admin.fill("input[name=q]", "バックアップ")
            admin.click("#kb-search button")
            admin.wait_for_selector("#entries tbody tr")
        if path == "/admin":
            admin.wait_for_selector("#activity .event")
        problems[path] = axe_problems(admin)
        if path == "/q/{qid}":
            admin.keyboard.press("?")
            admin.wait_for_selector("#help[open] >> text=Keyboard shortcuts")
            problems["/q/{qid} shortcuts"] = axe_problems(admin)
            admin.keyboard.press("Escape")
            admin.get_by_role("button", name="Bulk accept…").click()
            admin.wait_for_selector("#bulk-summary:not(:empty)")
            problems["/q/{qid} bulk accept"] = axe_problems(admin)
            admin.get_by_role("button", name="Cancel").click()
            admin.get_by_role("button", name="Export…").click()
            admin.wait_for_selector("#export-summary strong")
            problems["/q/{qid} export"] = axe_problems(admin)
    admin.context.close()
    assert problems == {key: [] for key in problems}


def test_nothing_overflows_at_390px(browser, site: Site, qid: int) -> None:  # noqa: ANN001
    phone = sign_in(browser, site, "admin@acme.test", width=390, height=844)
    widths = {}
    for path in ("/login", *PAGES):
        phone.goto(site.url + path.format(qid=qid))
        settle(phone, path)
        widths[path] = phone.evaluate("Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)")
        if path == "/q/{qid}":
            phone.get_by_role("button", name="Export…").click()
            phone.wait_for_selector("#export-summary strong")
            widths["/q/{qid} export"] = phone.evaluate("document.documentElement.scrollWidth")
    phone.context.close()
    assert widths == {key: 390 for key in widths}


def test_viewer_sees_no_edit_controls_and_forged_requests_fail(browser, site: Site, qid: int) -> None:  # noqa: ANN001
    page = sign_in(browser, site, "view@acme.test")
    page.goto(f"{site.url}/q/{qid}")
    page.wait_for_selector("#items [role=row][aria-selected=true]")
    assert page.get_by_role("textbox", name="Answer").is_editable() is False
    assert page.locator("#act-accept, #bulk-open, #export-open, #comment").count() == 0
    item_id = page.get_attribute("#items [role=row]", "data-id")
    status = page.evaluate(
        """async (id) => (await fetch(`/api/items/${id}/accept`, {method: "POST",
             headers: {"Content-Type": "application/json"}, body: JSON.stringify({version: 1})})).status""",
        item_id,
    )
    assert status == 403
    before = {i["id"]: i["version"] for i in site.items(qid)}
    page.keyboard.press("a")  # a shortcut does nothing for a viewer
    page.wait_for_timeout(300)
    assert {i["id"]: i["version"] for i in site.items(qid)} == before
    page.context.close()


def test_admin_sees_members_tokens_and_a_readable_timeline(browser, site: Site) -> None:  # noqa: ANN001
    admin = sign_in(browser, site, "admin@acme.test")
    admin.on("dialog", lambda dialog: dialog.accept())  # "Revoke …?" confirmations
    admin.goto(site.url + "/admin")
    role = admin.get_by_label("Role of kim@acme.test")
    assert role.input_value() == "reviewer"
    role.select_option("viewer")
    admin.wait_for_selector("#toast >> text=kim@acme.test is now viewer")
    admin.get_by_label("Role of kim@acme.test").select_option("reviewer")
    admin.wait_for_selector("#toast >> text=kim@acme.test is now reviewer")

    admin.get_by_label("Name").fill("nightly export")
    admin.get_by_role("button", name="Create token").click()
    admin.wait_for_selector("#tokens >> text=nightly export")
    token = admin.input_value("#new-token-value")
    with httpx.Client(base_url=site.url, headers={"Authorization": f"Bearer {token}"}) as script:
        assert script.get("/api/me").json()["email"] == "admin@acme.test"
        admin.get_by_role("row", name=re.compile("nightly export")).get_by_role("button", name="Revoke").click()
        admin.wait_for_selector("#tokens >> text=nightly export", state="detached")
        assert script.get("/api/me").status_code == 401

    admin.reload()
    event = admin.locator("#activity .event", has_text="kim@acme.test").first
    event.wait_for()
    assert "changed the membership of" in event.inner_text() and "viewer → reviewer" in event.inner_text()
    admin.context.close()
