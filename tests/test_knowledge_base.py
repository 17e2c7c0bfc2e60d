"""Storage: entries land in the database, re-ingesting replaces them, failures lose nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from service.db import session_scope
from service.ingest import IngestError
from service.knowledge_base import Entry, KnowledgeBase, entries_by_locator, get_workspace, list_sources
from service.settings import Settings
from tests.conftest import ingest_all, seed

SHEET_V1 = "No,確認事項,回答\n1,バックアップを取得していますか。,はい、日次で取得しています。\n2,通信は暗号化されていますか。,はい、TLS 1.2 以上です。\n3,多要素認証に対応していますか。,いいえ\n"
SHEET_V2 = "No,確認事項,回答\n1,バックアップを取得していますか。,はい、毎時取得しています。\n2,通信は暗号化されていますか。,はい、TLS 1.3 です。\n"


def entries(url: str, workspace: str) -> list[Entry]:
    with session_scope(url) as session:
        ws = get_workspace(session, workspace)
        return list(session.scalars(select(Entry).where(Entry.workspace_id == ws.id).order_by(Entry.locator)))


def store_lifecycle(kb: KnowledgeBase, tmp_path: Path) -> None:
    url = kb.settings.resolved_database_url
    sheet = tmp_path / "vendor_sheet.csv"
    sheet.write_text(SHEET_V1, encoding="utf-8")
    ingest_all(kb, "acme", [sheet])
    first = entries(url, "acme")
    assert [e.locator for e in first] == ["No.1", "No.2", "No.3"]
    assert first[2].choice == "no" and first[0].language == "ja"
    ids = {e.locator: e.id for e in first}

    # Re-ingest the same file, changed: replaced, not duplicated; ids of surviving rows are stable.
    sheet.write_text(SHEET_V2, encoding="utf-8")
    ingest_all(kb, "acme", [sheet])
    second = entries(url, "acme")
    assert [(e.locator, e.answer) for e in second] == [
        ("No.1", "はい、毎時取得しています。"),
        ("No.2", "はい、TLS 1.3 です。"),
    ]
    assert {e.locator: e.id for e in second} == {k: v for k, v in ids.items() if k != "No.3"}
    assert set(kb.vectors.indexed("acme")) == {e.id for e in second}

    # A broken version of the file fails with a clear error and the stored entries stay.
    sheet.write_text("", encoding="utf-8")
    with pytest.raises(IngestError, match="vendor_sheet.csv: the file is empty"), session_scope(url) as session:
        kb.ingest_file(session, "acme", sheet)
    assert [(e.locator, e.answer) for e in entries(url, "acme")] == [(e.locator, e.answer) for e in second]

    # A failure after the old entries were deleted, inside the transaction, rolls everything back.
    sheet.write_text(SHEET_V1, encoding="utf-8")
    with pytest.raises(RuntimeError, match="disk full"), session_scope(url) as session:
        kb.ingest_file(session, "acme", sheet)
        raise RuntimeError("disk full")
    assert [(e.locator, e.answer) for e in entries(url, "acme")] == [(e.locator, e.answer) for e in second]

    # Workspaces do not see each other's entries.
    ingest_all(kb, "other", [seed("000")])
    with session_scope(url) as session:
        assert all(
            h.entry.workspace_id == get_workspace(session, "acme").id
            for h in kb.search(session, "acme", "バックアップ", k=10)
        )
        assert len(kb.search(session, "acme", "バックアップ", k=10)) == 2


def test_store_replace_and_rollback_on_sqlite(settings: Settings, tmp_path: Path) -> None:
    store_lifecycle(KnowledgeBase(settings), tmp_path)


def test_store_replace_and_rollback_on_postgres(postgres_url: str, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", database_url=postgres_url)
    store_lifecycle(KnowledgeBase(settings), tmp_path)


def test_all_seeds_ingest_with_locators_and_products(settings: Settings) -> None:
    kb = KnowledgeBase(settings)
    url = settings.resolved_database_url
    ingest_all(kb, "seeds", [seed(f"{i:03d}") for i in range(5)])
    with session_scope(url) as session:
        ws = get_workspace(session, "seeds")
        counts = {s.name[:3]: n for s, n in list_sources(session, ws)}
        assert counts == {"000": 48, "001": 127, "002": 94, "003": 13, "004": 69}
        (backup,) = entries_by_locator(session, ws, "6-8")
        assert backup.source.name.startswith("004") and "バックアップ" in backup.answer
        assert len(entries_by_locator(session, ws, "54", source="001")) == 3
        total = session.scalar(select(func.count()).select_from(Entry).where(Entry.workspace_id == ws.id))
    assert len(kb.vectors.indexed("seeds")) == total


def test_unchanged_text_is_not_embedded_again(settings: Settings) -> None:
    kb = KnowledgeBase(settings)
    url = settings.resolved_database_url
    ingest_all(kb, "a", [seed("000")])
    with session_scope(url) as session:
        kb.ingest_file(session, "b", seed("000"))
    with session_scope(url) as session:
        result = kb.sync(session, "b")
    assert result.upserted == 48 and result.embedded == 0 and result.cached == 48


def test_vector_index_is_rebuilt_from_the_database(settings: Settings) -> None:
    kb = KnowledgeBase(settings)
    ingest_all(kb, "seeds", [seed("003")])
    kb.vectors.drop("seeds")
    assert kb.vectors.indexed("seeds") == {}
    with session_scope(settings.resolved_database_url) as session:
        result = kb.sync(session, "seeds")
        hits = kb.search(session, "seeds", "暗号化の状況", k=1)
    assert result.upserted == 13 and result.embedded == 0
    assert hits[0].entry.locator == "§4"
