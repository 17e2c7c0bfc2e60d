"""Multi-file knowledge-base uploads: each file is stored whole or not at all, and the response says
which, file by file; a bad file in the middle of a batch neither undoes nor blocks the others."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from service.accounts.service import create_token, create_user, set_role
from service.api import create_app
from service.audit import AuditEvent
from service.db import session_scope
from service.knowledge_base import Entry, Source
from service.settings import Settings
from tests.conftest import SAMPLES

PASSWORD = "a long enough password"
CSV = SAMPLES / "hoshizora_caiq_lite_2024.csv"
MD = SAMPLES / "hoshizora_sla_sheet.md"


class Env:
    def __init__(self, settings: Settings, client: TestClient, token: str) -> None:
        self.settings = settings
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def upload(self, *files: tuple[str, bytes], product: str | None = None) -> list[dict]:
        response = self.client.post(
            "/api/workspaces/acme/kb/files",
            files=[("files", f) for f in files],
            data={"product": product} if product is not None else None,
            headers=self.headers,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def stored(self) -> tuple[dict[str, int], list[str]]:
        """Entries per stored source, and the files the audit trail says were ingested."""
        with session_scope(self.settings.resolved_database_url) as session:
            rows = session.execute(
                select(Source.name, func.count(Entry.id)).outerjoin(Entry).group_by(Source.id).order_by(Source.name)
            ).all()
            events = session.scalars(select(AuditEvent).where(AuditEvent.action == "kb.ingest")).all()
            return {name: n for name, n in rows}, [e.after["file"] for e in events]


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    settings = Settings(home=tmp_path / "home")
    with session_scope(settings.resolved_database_url) as session:
        user = create_user(session, "boss@acme.test", PASSWORD)
        set_role(session, user, "acme", "admin")
        token = create_token(session, user, "test")
    with TestClient(create_app(settings)) as client:
        yield Env(settings, client, token)


def test_a_broken_file_between_two_good_ones_is_reported_and_stores_nothing(env: Env) -> None:
    results = env.upload(
        (CSV.name, CSV.read_bytes()),
        ("broken.xlsx", b"PK\x03\x04 not really a workbook"),
        (MD.name, MD.read_bytes()),
    )
    assert [(r["file"], r["stored"], r["status"]) for r in results] == [
        (CSV.name, True, "added"),
        ("broken.xlsx", False, "failed"),
        (MD.name, True, "added"),
    ]
    good_csv, broken, good_md = results
    assert good_csv["error"] is None and good_csv["entries"] > 0 and good_md["entries"] > 0
    assert broken["error"].startswith("broken.xlsx: ") and broken["entries"] == 0
    stored, audited = env.stored()
    # Both good files whole, with every entry the response counted; nothing of the broken one.
    assert stored == {CSV.name: good_csv["entries"], MD.name: good_md["entries"]}
    assert sorted(audited) == sorted([CSV.name, MD.name])

    # Again, with the markdown changed: unchanged, replaced, and a refusal before any parsing.
    again = env.upload(
        (CSV.name, CSV.read_bytes()),
        (MD.name, MD.read_bytes() + b"\n"),
        ("notes.exe", b"MZ"),
    )
    assert [(r["stored"], r["status"]) for r in again] == [(True, "unchanged"), (True, "replaced"), (False, "failed")]
    assert again[2]["error"].startswith("notes.exe: unsupported file type")
    assert env.stored()[0] == {CSV.name: good_csv["entries"], MD.name: again[1]["entries"]}


def test_names_and_fields_the_database_cannot_hold_are_refused_per_file(env: Env) -> None:
    long_name = "x" * 600 + ".csv"
    results = env.upload((long_name, CSV.read_bytes()), (CSV.name, CSV.read_bytes()))
    assert [r["stored"] for r in results] == [False, True]
    assert "the file name is 604 characters; the limit is 500" in results[0]["error"]
    assert list(env.stored()[0]) == [CSV.name]

    # The product is a form field of the whole request: refused as a 422 naming it, nothing stored.
    for product, problem in (("p" * 201, "at most 200 characters"), ("a\x00b", "NUL")):
        response = env.client.post(
            "/api/workspaces/acme/kb/files",
            files=[("files", (MD.name, MD.read_bytes()))],
            data={"product": product},
            headers=env.headers,
        )
        assert response.status_code == 422, response.text
        assert "product" in response.json()["detail"] and problem in response.json()["detail"]
    assert list(env.stored()[0]) == [CSV.name]
