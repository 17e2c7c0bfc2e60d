"""The library page in a real browser (Debian's chromium, driven by Playwright): a reviewer sees
the encryption-at-rest conflict side by side, makes one side canonical, and the conflict is gone."""

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
from tests.conftest import ingest_all, seed
from tests.test_web import PASSWORD, Site, axe_problems, browser, free_port, sign_in  # noqa: F401 - `browser` is a fixture

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = Settings(home=tmp_path_factory.mktemp("library-web"))
    ingest_all(KnowledgeBase(settings), "acme", [seed("000"), seed("003")])
    with session_scope(settings.resolved_database_url) as session:
        set_role(session, create_user(session, "rev@acme.test", PASSWORD), "acme", "reviewer")
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


def test_a_reviewer_resolves_a_conflict_on_the_library_page(browser, site: str) -> None:  # noqa: ANN001, F811
    page = sign_in(browser, Site(site, {}), "rev@acme.test")
    try:
        page.click("nav >> text=Library")
        page.wait_for_url(f"{site}/library?ws=acme")
        conflict = page.locator("article.conflict", has_text="暗号化されずに")
        assert conflict.count() == 1
        assert "保存データの暗号化" in conflict.inner_text()
        before = page.locator("article.conflict").count()
        assert axe_problems(page) == []
        assert "No canonical answers yet" in page.locator("#canonical").inner_text()

        side = conflict.locator("td", has_text="No.36").first
        side.locator("button.make-canonical").click()
        page.wait_for_selector("#canonical tr[data-canonical]")
        assert page.locator("article.conflict").count() == before - 1
        row = page.locator("#canonical tr[data-canonical]")
        assert "保存データの暗号化" in row.inner_text() and "rev@acme.test" in row.inner_text()
        # Only the overruled side is superseded, not the whole cluster (encryption in transit stays).
        assert row.locator("td").nth(4).inner_text() == "1"
        assert axe_problems(page) == []
    finally:
        page.context.close()
