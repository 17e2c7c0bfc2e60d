"""Values a database cannot hold are a 4xx naming the field or file, never a 500: NUL characters
(PostgreSQL refuses them in any text, even in a query's parameters) and values longer than their
column (PostgreSQL refuses an over-long VARCHAR). Checked on PostgreSQL, where they used to be 500s,
and on SQLite, which must answer the same."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from service.accounts.service import create_token, create_user, set_role
from service.api import create_app
from service.db import session_scope
from service.knowledge_base import Entry, get_workspace
from service.questionnaires import DRAFTED, Item, create_questionnaire
from service.settings import Settings
from tests.conftest import POSTGRES_ADMIN, SAMPLES

PASSWORD = "a long enough password"
QUESTIONS = "No.,質問,回答\n1,データは暗号化していますか。,\n2,バックアップは取得していますか。,\n".encode()


def postgres_reachable() -> bool:
    try:
        import psycopg

        psycopg.connect(POSTGRES_ADMIN, connect_timeout=3).close()
    except Exception:
        return False
    return True


class Env:
    def __init__(self, settings: Settings, client: TestClient, token: str, item_id: int) -> None:
        self.settings = settings
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}
        self.item_id = item_id

    def refused(self, method: str, path: str, **kwargs: object) -> str:
        """The 422's message (failing on any other answer)."""
        response = self.client.request(method, path, headers=self.headers, **kwargs)
        assert response.status_code == 422, (path, response.status_code, response.text)
        return response.json()["detail"]


@pytest.fixture(params=["sqlite", "postgres"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Env]:
    url = None
    if request.param == "postgres":
        if not postgres_reachable():
            pytest.skip("PostgreSQL is not reachable at " + POSTGRES_ADMIN)
        url = request.getfixturevalue("postgres_url")
    settings = Settings(home=tmp_path / "home", database_url=url)
    with session_scope(settings.resolved_database_url) as session:
        user = create_user(session, "boss@acme.test", PASSWORD)
        set_role(session, user, "acme", "admin")
        token = create_token(session, user, "test")
        q = create_questionnaire(session, get_workspace(session, "acme"), "q.csv", QUESTIONS, user)
        # Drafted, as the drafting job leaves it (without running it: these requests never get that far).
        session.execute(update(Item).where(Item.questionnaire_id == q.id).values(status=DRAFTED, answer="はい"))
        item_id = session.scalars(select(Item.id).where(Item.questionnaire_id == q.id)).first()
    with TestClient(create_app(settings)) as client:
        yield Env(settings, client, token, item_id)


def test_nul_and_overlong_request_values_are_422_naming_the_field(env: Env) -> None:
    item = f"/api/items/{env.item_id}"
    assert "body.answer" in env.refused("POST", f"{item}/edit", json={"version": 1, "answer": "AES\x00256"})
    assert "NUL" in env.refused("POST", f"{item}/edit", json={"version": 1, "answer": "AES\x00256"})
    assert "body.choice: String should have at most 20 characters" in env.refused(
        "POST", f"{item}/edit", json={"version": 1, "choice": "y" * 21, "answer": "ok"}
    )
    assert "body.text" in env.refused("POST", f"{item}/comments", json={"text": "see\x00this"})
    assert "body.assignee" in env.refused("POST", f"{item}/assign", json={"version": 1, "assignee": "a" * 321})
    assert "body.name" in env.refused("POST", "/api/auth/tokens", json={"name": "n" * 201})
    assert "body.email" in env.refused("PUT", "/api/workspaces/acme/members", json={"email": "x\x00", "role": "admin"})
    login = env.client.post("/api/auth/login", json={"email": "boss@acme.test\x00", "password": PASSWORD})
    assert login.status_code == 422 and "body.email" in login.json()["detail"]
    assert "body.version" in env.refused("POST", f"{item}/accept", json={"version": 10**21})

    # In the URL: the query parameter or the path is named.
    assert "query parameter 'q'" in env.refused("GET", "/api/workspaces/acme/kb/entries?q=a%00b")
    assert "query parameter 'email'" in env.refused("DELETE", "/api/workspaces/acme/members?email=x%00y")
    assert "URL path" in env.refused("GET", "/api/workspaces/ac%00me/kb/sources")
    # A form field of an upload.
    detail = env.refused(
        "POST", "/api/workspaces/acme/questionnaires", files={"file": ("q.csv", QUESTIONS)}, data={"product": "p\x00"}
    )
    assert "product" in detail and "NUL" in detail

    # Nothing was changed by any of them, and the item still answers.
    got = env.client.get(item, headers=env.headers).json()
    assert (got["status"], got["answer"], got["version"]) == ("drafted", "はい", 1)


def test_values_in_files_are_stored_or_refused_naming_the_file(env: Env) -> None:
    # A past sheet with a NUL in an answer and a reference longer than its column: stored, cleaned.
    sheet = ("No.,質問,回答\n" + "7" * 150 + ",データは暗号化していますか。,はい\x00、AES-256\n").encode()
    good = (SAMPLES / "hoshizora_sla_sheet.md").read_bytes()
    response = env.client.post(
        "/api/workspaces/acme/kb/files",
        files=[("files", ("odd.csv", sheet)), ("files", ("sla.md", good))],
        headers=env.headers,
    )
    assert response.status_code == 200, response.text
    assert [(r["file"], r["stored"], r["error"]) for r in response.json()] == [
        ("odd.csv", True, None),
        ("sla.md", True, None),
    ]
    with session_scope(env.settings.resolved_database_url) as session:
        odd = session.scalars(select(Entry).where(Entry.answer.contains("AES-256"))).one()
        assert odd.answer == "はい、AES-256" and odd.locator == "No." + "7" * 97

    # A questionnaire keeps the customer's file whole; its items' values are cleaned to fit their
    # columns, on every database alike (tests/test_pg_questionnaire_input.py).
    for name, data in (
        ("long-ref.csv", ("No.,質問,回答\n" + "1" * 400 + ",データは暗号化していますか。,\n").encode()),
        ("nul.csv", "No.,質問,回答\n1,データは\x00暗号化していますか。,\n".encode()),
    ):
        response = env.client.post(
            "/api/workspaces/acme/questionnaires", files={"file": (name, data)}, headers=env.headers
        )
        assert response.status_code == 202, response.text
