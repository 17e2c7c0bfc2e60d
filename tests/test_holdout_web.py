"""The holdout eval in a real browser (Debian's chromium via Playwright) against a real server: an admin
goes from the knowledge base to a new run, watches it finish, reads the tables, the plot and one
question's drill-down; no serious axe problem, no CSP error, nothing overflows at 390 px."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from service.accounts.service import create_user, set_role
from service.api import create_app
from service.db import session_scope
from service.knowledge_base import KnowledgeBase
from service.settings import Settings
from tests.conftest import ingest_all
from tests.test_holdout import TOPICS, sheet
from tests.test_web import PASSWORD, axe_problems, browser, free_port, sign_in  # noqa: F401 - browser: a fixture

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("holdout-web")
    folder = home / "sheets"
    folder.mkdir()
    (folder / "a_2025.csv").write_text(sheet(TOPICS), encoding="utf-8")
    (folder / "b_2026.csv").write_text(sheet(TOPICS), encoding="utf-8")
    settings = Settings(home=home / "home", stale_evidence_months=1200)
    ingest_all(KnowledgeBase(settings), "acme", sorted(folder.iterdir()))
    with session_scope(settings.resolved_database_url) as session:
        set_role(session, create_user(session, "admin@acme.test", PASSWORD), "acme", "admin")
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=free_port(), log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{server.config.port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_admin_runs_a_holdout_and_reads_the_report(browser, site: str) -> None:  # noqa: ANN001, F811
    page = sign_in(browser, type("Site", (), {"url": site})(), "admin@acme.test", width=1280)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(site + "/kb?ws=acme")
    page.get_by_role("link", name="Holdout eval").click()
    page.wait_for_url("**/holdout?ws=acme")
    page.get_by_role("checkbox", name="a_2025.csv").check()
    page.get_by_role("button", name="Hold out the selected sheets").click()
    page.wait_for_url("**/holdout/*")
    # The page follows the run, then shows the report the server rendered once it is done.
    page.wait_for_selector("#holdout-summary", timeout=300_000)
    assert page.inner_text("#run-status") == "done"
    summary = page.inner_text("#holdout-summary")
    assert "a_2025.csv" in summary and "overall" in summary
    assert page.locator("svg.plot rect").count() >= 1
    assert page.get_by_role("img", name="Reliability plot").is_visible()
    questions = page.locator("details.question")
    assert questions.count() == len(TOPICS)
    first = questions.first
    first.locator("summary").click()
    assert TOPICS[0][2] in first.inner_text()  # the real answer beside the draft
    assert "Citations" in first.inner_text() and "b_2026.csv" in first.inner_text()
    page.select_option("#question-filter", "abstained")
    assert page.inner_text("#filter-count").endswith(f"of {len(TOPICS)} questions shown")
    page.select_option("#question-filter", "all")
    assert axe_problems(page) == []
    page.set_viewport_size({"width": 390, "height": 844})
    width = page.evaluate("Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)")
    assert width == 390
    assert errors == []  # a CSP refusal (inline script or style) would show here
    page.context.close()
