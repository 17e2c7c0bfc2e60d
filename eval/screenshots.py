"""Screenshots of the review page for a person to look at: desktop and phone width.

Starts the app on 127.0.0.1 with a fresh home, ingests two seed sheets, drafts the sample customer
questionnaire, makes a few review decisions (an edit, an accept, a comment with a mention, a due
date), then opens the review page in Debian's chromium and writes

    tests/screenshots/review.png        1440 x 900, the selected question with its evidence
    tests/screenshots/review-phone.png  390 wide, the whole page

    .venv/bin/python eval/screenshots.py [--out DIR] [--serve]

`--serve` keeps the server running afterwards (Ctrl+C ends it) to look around by hand; the users are
rev@acme.test (reviewer) and admin@acme.test (admin), password "screenshot password".
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.accounts.service import create_user, set_role  # noqa: E402
from service.api import create_app  # noqa: E402
from service.db import session_scope  # noqa: E402
from service.knowledge_base import KnowledgeBase  # noqa: E402
from service.settings import Settings  # noqa: E402
from tests.conftest import ingest_all, seed  # noqa: E402
from tests.test_drafting import customer_workbook  # noqa: E402

PASSWORD = "screenshot password"
CHROMIUM = "/usr/bin/chromium"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(home: Path) -> tuple[str, uvicorn.Server, threading.Thread]:
    settings = Settings(home=home)
    ingest_all(KnowledgeBase(settings), "acme", [seed("000"), seed("004")])
    with session_scope(settings.resolved_database_url) as session:
        for email, role in (("rev@acme.test", "reviewer"), ("admin@acme.test", "admin"), ("kim@acme.test", "reviewer")):
            set_role(session, create_user(session, email, PASSWORD), "acme", role)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server, thread


def prepare(url: str) -> int:
    """A drafted questionnaire with a few decisions, comments and a due date; returns its id."""
    with httpx.Client(base_url=url, timeout=60, headers={"Origin": url}) as client:
        client.post("/api/auth/login", json={"email": "rev@acme.test", "password": PASSWORD}).raise_for_status()
        files = {"file": ("customer.xlsx", customer_workbook())}
        qid = client.post("/api/workspaces/acme/questionnaires", files=files).json()["id"]
        while client.get(f"/api/questionnaires/{qid}").json()["status"] not in ("done", "failed"):
            time.sleep(0.5)
        items = client.get(f"/api/questionnaires/{qid}/items").json()
        first, second, third = items[0], items[1], items[3]
        client.post(f"/api/items/{first['id']}/accept", json={"version": first["version"]})
        answer = "バックアップは日次で取得し、7世代を保管しています。"
        client.post(f"/api/items/{second['id']}/edit", json={"version": second["version"], "answer": answer})
        client.post(f"/api/items/{third['id']}/assign", json={"version": third["version"], "assignee": "kim@acme.test"})
        comment = "@kim 2019年の回答が根拠です。最新の仕様を確認してください。"
        client.post(f"/api/items/{third['id']}/comments", json={"text": comment})
        client.put(f"/api/questionnaires/{qid}/due-date", json={"due_date": "2026-12-24"})
        return qid


def shoot(url: str, qid: int, out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    paths = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        for name, viewport, full in (
            ("review.png", {"width": 1440, "height": 900}, False),
            ("review-phone.png", {"width": 390, "height": 844}, True),
        ):
            context = browser.new_context(viewport=viewport, locale="ja-JP", device_scale_factor=1)
            page = context.new_page()
            page.goto(url + "/login")
            page.fill("input[name=email]", "rev@acme.test")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(url + "/")
            page.goto(f"{url}/q/{qid}")
            page.wait_for_selector("[role=row][aria-selected=true]")
            page.keyboard.press("j")
            page.keyboard.press("j")
            page.keyboard.press("j")
            page.wait_for_selector("#why-body .citation, #why-body .hint >> nth=0")
            page.wait_for_selector("#thread .comment")
            page.wait_for_timeout(300)
            path = out / name
            page.screenshot(path=str(path), full_page=full)
            paths.append(path)
            context.close()
        browser.close()
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "screenshots")
    parser.add_argument("--serve", action="store_true", help="keep the server running afterwards")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        url, server, thread = start(Path(home))
        qid = prepare(url)
        for path in shoot(url, qid, args.out):
            print(path)
        if args.serve:
            print(f"serving {url}/q/{qid} (Ctrl+C ends it)")
            with contextlib.suppress(KeyboardInterrupt):
                thread.join()
        server.should_exit = True
        thread.join(timeout=10)


if __name__ == "__main__":
    main()
