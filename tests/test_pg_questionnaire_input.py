"""Questionnaire uploads whose cells the item columns cannot hold as they are: NUL characters
(PostgreSQL refuses them in any text) and references, sections or locators longer than their
VARCHAR column. They are stored cleaned (NUL stripped, cut with a marker), the same on PostgreSQL
and SQLite, while the customer's file is kept whole for export; a sheet name the column cannot hold
(export writes into the sheet of that name) is a 422 naming the file, sheet and row. Never a 500.

Also: a questionnaire whose drafting failed as a whole says why (`error`) in the API.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from service.accounts.service import create_token, create_user, set_role
from service.api import create_app
from service.db import session_scope
from service.questionnaires import Item, Questionnaire
from service.questionnaires.intake import CUT
from service.settings import Settings
from tests.test_pg_errors import postgres_reachable

PASSWORD = "a long enough password"
LONG_REF = "7" * 400  # an item's ref is VARCHAR(300), its locator VARCHAR(100)
LONG_SECTION = "アクセス制御" * 60  # 360 characters; a section is VARCHAR(300)


class Env:
    def __init__(self, settings: Settings, client: TestClient, token: str) -> None:
        self.settings = settings
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    @property
    def url(self) -> str:
        return self.settings.resolved_database_url


@pytest.fixture(params=["postgres", "sqlite"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Env]:
    url = None
    if request.param == "postgres":
        if not postgres_reachable():
            pytest.fail("PostgreSQL is not reachable: it runs on this machine and in CI")
        url = request.getfixturevalue("postgres_url")
    settings = Settings(home=tmp_path / "home", database_url=url)
    with session_scope(settings.resolved_database_url) as session:
        user = create_user(session, "boss@acme.test", PASSWORD)
        set_role(session, user, "acme", "admin")
        token = create_token(session, user, "test")
    with TestClient(create_app(settings)) as client:
        yield Env(settings, client, token)
        client.app.state.jobs.wait(timeout=120)  # drafting the upload ends before the database goes


def odd_sheet() -> bytes:
    rows = [
        ["No.", "分類", "質問", "回答"],
        [LONG_REF, LONG_SECTION + "\x00", "データは\x00暗号化していますか。", ""],
        ["2", "バック\x00アップ", "バックアップは取得していますか。", ""],
    ]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


def test_nul_and_overlong_cells_are_stored_cleaned_and_the_file_kept_whole(env: Env) -> None:
    data = odd_sheet()
    response = env.client.post(
        "/api/workspaces/acme/questionnaires", files={"file": ("odd.csv", data)}, headers=env.headers
    )
    assert response.status_code == 202, response.text
    qid = response.json()["id"]
    with session_scope(env.url) as session:
        first, second = session.scalars(select(Item).where(Item.questionnaire_id == qid).order_by(Item.position))
        assert (
            first.question == "データは暗号化していますか。" and second.question == "バックアップは取得していますか。"
        )
        assert len(first.ref) == 300 and first.ref.endswith(CUT) and first.ref.startswith("No." + "7" * 200)
        assert len(first.locator) == 100 and first.locator.endswith(CUT)
        assert len(first.section) == 300 and first.section == LONG_SECTION[:299] + CUT
        assert second.section == "バックアップ" and second.ref == "No.2"
        assert session.get(Questionnaire, qid).data == data  # the customer's file as it came
    items = env.client.get(f"/api/questionnaires/{qid}/items", headers=env.headers)
    assert items.status_code == 200 and [i["question"] for i in items.json()] == [
        "データは暗号化していますか。",
        "バックアップは取得していますか。",
    ]
    # Written back by row and column: the exported file still carries the whole reference.
    exported = env.client.get(f"/api/questionnaires/{qid}/export?include=all", headers=env.headers)
    assert exported.status_code == 200, exported.text
    assert LONG_REF in exported.content.decode("utf-8-sig")


@pytest.mark.filterwarnings("ignore:Title is more than 31 characters")
def test_a_sheet_name_the_column_cannot_hold_is_refused_naming_file_sheet_and_row(env: Env) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S" * 250  # Excel stops at 31 characters; a file made by other tools need not
    ws.append(["No.", "質問", "回答"])
    ws.append([1, "データは暗号化していますか。", None])
    out = io.BytesIO()
    wb.save(out)
    response = env.client.post(
        "/api/workspaces/acme/questionnaires", files={"file": ("long.xlsx", out.getvalue())}, headers=env.headers
    )
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail.startswith(f"long.xlsx, sheet '{'S' * 80}', row 2: ")
    assert "longer than 200 characters (250)" in detail
    with session_scope(env.url) as session:
        assert session.scalars(select(Questionnaire)).all() == []  # nothing half-stored


def test_a_questionnaire_whose_drafting_failed_says_why(env: Env) -> None:
    response = env.client.post(
        "/api/workspaces/acme/questionnaires", files={"file": ("q.csv", odd_sheet())}, headers=env.headers
    )
    qid = response.json()["id"]
    env.client.app.state.jobs.wait(timeout=120)
    ok = env.client.get(f"/api/questionnaires/{qid}", headers=env.headers).json()
    assert ok["status"] == "done" and ok["error"] == ""
    reason = "LLMConfigError: the drafting model is not reachable"
    with session_scope(env.url) as session:  # as the drafting job leaves a questionnaire it gave up on
        session.execute(update(Questionnaire).where(Questionnaire.id == qid).values(status="failed", error=reason))
    got = env.client.get(f"/api/questionnaires/{qid}", headers=env.headers).json()
    assert (got["status"], got["error"]) == ("failed", reason)
    listed = env.client.get("/api/workspaces/acme/questionnaires", headers=env.headers).json()
    assert [(q["id"], q["error"]) for q in listed] == [(qid, reason)]
