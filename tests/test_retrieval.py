"""Hybrid retrieval finds the right prior answers, in Japanese and across languages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import chromadb
import pytest
from chromadb.config import Settings as ChromaSettings
from sqlalchemy import select
from typer.testing import CliRunner

from service import vector_store
from service.cli.main import app
from service.db import session_scope
from service.embeddings import KotaeEmbeddings, VectorView
from service.knowledge_base import Entry, KnowledgeBase, indexing
from service.retrieval.fusion import rrf
from service.retrieval.lexical import tokenize
from service.settings import Settings, get_settings
from service.vector_store import VectorIndex, chunked
from tests.conftest import SAMPLES, ingest_all, seed


def search(kb: KnowledgeBase, workspace: str, text: str, k: int = 5, product: str | None = None):  # noqa: ANN201
    with session_scope(kb.settings.resolved_database_url) as session:
        return kb.search(session, workspace, text, k=k, product=product)


def test_backup_generations_query_returns_backup_entries_first(seeded_kb: KnowledgeBase) -> None:
    hits = search(seeded_kb, "seeds", "バックアップの世代数")
    assert hits[0].entry.source.name.startswith("002") and hits[0].entry.locator == "line 44"
    assert all("バックアップ" in h.entry.question + h.entry.answer for h in hits[:3])
    assert hits[0].dense_rank is not None and hits[0].lexical_rank is not None


@pytest.mark.parametrize(
    ("query", "source", "locator"),
    [
        ("時刻同期はNTPで行っていますか", "001", "No.50"),
        ("契約終了時にデータは削除されますか", "000", "No.44"),
        ("ワンタイムパスワードによるログインは可能ですか", "000", "No.43"),
    ],
)
def test_japanese_customer_wording_finds_the_row(
    seeded_kb: KnowledgeBase, query: str, source: str, locator: str
) -> None:
    hits = search(seeded_kb, "seeds", query, k=5)
    assert any(h.entry.source.name.startswith(source) and h.entry.locator == locator for h in hits)


def test_english_question_finds_japanese_answers(seeded_kb: KnowledgeBase) -> None:
    hits = search(seeded_kb, "seeds", "Do you synchronize server clocks with NTP?", k=5)
    assert any("NTP" in h.entry.answer or "時刻" in h.entry.question for h in hits[:3])
    # BM25 ranks the Japanese NTP row too: the glossary gives "NTP"/"clocks" their Japanese words.
    assert hits[0].lexical_rank is not None and "時刻" in hits[0].entry.question


def test_japanese_question_finds_english_answers(seeded_kb: KnowledgeBase) -> None:
    hits = search(seeded_kb, "samples", "監査ログの保管期間はどれくらいですか", k=5)
    assert any(h.entry.locator == "LOG-05" for h in hits)
    assert hits[0].entry.language == "ja" and "ログ" in hits[0].entry.question


def test_product_filter_keeps_that_product_and_general_entries(seeded_kb: KnowledgeBase) -> None:
    hits = search(seeded_kb, "seeds", "ログの保存期間", k=10, product="OrderMill")
    products = {h.entry.product for h in hits}
    assert "OrderMill" in products and products <= {"OrderMill", None}
    alias = search(seeded_kb, "seeds", "ログの保存期間", k=10, product="QuickMill")
    assert {h.entry.product for h in alias} <= {"OpenMill/QuickMill", None}


def test_results_are_deterministic(seeded_kb: KnowledgeBase) -> None:
    first = [h.entry.id for h in search(seeded_kb, "seeds", "ウイルス対策", k=8)]
    second = [h.entry.id for h in search(seeded_kb, "seeds", "ウイルス対策", k=8)]
    assert first == second


def test_unknown_workspace_finds_nothing(seeded_kb: KnowledgeBase) -> None:
    assert search(seeded_kb, "nobody", "バックアップ") == []


def test_bigram_tokens() -> None:
    assert tokenize("バックアップ世代") == ["バッ", "ック", "クア", "アッ", "ップ", "プ世", "世代"]
    assert tokenize("Ｔｌｓ 1.2 Encryption") == ["tls", "1.2", "encryption"]


def test_rrf_breaks_ties_by_id() -> None:
    fused = rrf({"a": (1.0, {"x": 1, "y": 2}), "b": (1.0, {"y": 1, "x": 2})})
    assert [i for i, _ in fused] == ["x", "y"] and fused[0][1] == fused[1][1]


def test_sentence_transformers_backend_loads_the_bundled_model(tmp_path) -> None:  # noqa: ANN001
    settings = Settings(home=tmp_path / "st", embedding_backend="sentence_transformers")
    kb = KnowledgeBase(settings)
    assert kb.embeddings.model_id.startswith("sentence-transformers:") and kb.embeddings.dimension == 384
    ingest_all(kb, "en", [SAMPLES / "hoshizora_caiq_lite_2024.csv"])
    hits = search(kb, "en", "How long are audit logs retained?", k=3)
    assert hits[0].entry.locator == "LOG-05"


# ---------------------------------------------------------------- vector views


# Rows of the same control in the seeds (eval labels): the counterparts an English question should find.
NTP_ROWS = {"000 No.27", "001 No.50", "003 §6", "004 6-14"}
DELETION_ROWS = {"000 No.44", "001 No.44", "002 line 43", "002 line 48", "002 line 99", "002 line 102", "004 6-30"}
MFA_ROWS = {"000 No.42", "000 No.43", "001 No.17", "001 No.59", "002 line 107", "002 line 113", "004 6-29"}


@pytest.mark.parametrize(
    ("query", "rows"),
    [
        ("How many backup generations do you retain?", {"002 line 44"}),
        ("Do you synchronize server clocks with NTP?", NTP_ROWS),
        ("Is customer data deleted when the contract ends?", DELETION_ROWS),
        ("Do you offer multi-factor authentication or one-time passwords for login?", MFA_ROWS),
    ],
)
def test_english_question_finds_its_japanese_row_first(seeded_kb: KnowledgeBase, query: str, rows: set[str]) -> None:
    hits = search(seeded_kb, "seeds", query, k=3)
    assert f"{hits[0].entry.source.name[:3]} {hits[0].entry.locator}" in rows
    assert hits[0].entry.language == "ja"
    # English questions search symmetric e5 and USE; dense_similarity is the symmetric e5 cosine.
    assert set(hits[0].view_ranks) <= {"e5_sym", "use"} and hits[0].view_ranks
    assert hits[0].dense_similarity is not None and hits[0].view_similarities.get("e5_sym") in (
        None,
        hits[0].dense_similarity,
    )


def test_japanese_question_reports_the_asymmetric_e5_cosine(seeded_kb: KnowledgeBase) -> None:
    hits = search(seeded_kb, "seeds", "バックアップの世代数", k=5)
    assert all(set(h.view_ranks) <= {"e5"} for h in hits)
    assert all(h.dense_similarity is not None for h in hits)
    assert hits[0].dense_similarity == pytest.approx(hits[0].view_similarities["e5"])


def test_rrf_breaks_ties_by_cosine_then_id() -> None:
    rankings = {"a": (1.0, {"x": 1, "y": 2, "z": 3}), "b": (1.0, {"y": 1, "x": 2, "w": 3})}
    by_cosine = rrf(rankings, k=20, tie_break={"x": 0.81, "y": 0.86})
    assert [i for i, _ in by_cosine] == ["y", "x", "w", "z"]  # w and z tie without cosines: by id
    assert [i for i, _ in rrf(rankings, k=20, tie_break={"x": 0.9, "y": 0.8})][:2] == ["x", "y"]
    # An entry without a cosine (outside the main view's pool) yields to one with.
    assert [i for i, _ in rrf(rankings, k=20, tie_break={"x": 0.5})][:2] == ["x", "y"]


def test_chunked_at_its_boundary() -> None:
    ids = [f"id{i}" for i in range(10)]
    assert [list(p) for p in chunked(ids, 3)] == [ids[0:3], ids[3:6], ids[6:9], ids[9:]]
    assert [list(p) for p in chunked(ids[:9], 3)] == [ids[0:3], ids[3:6], ids[6:9]]
    assert list(chunked([], 3)) == []
    with pytest.raises(ValueError):
        list(chunked(ids, 0))


class _Fixed(KotaeEmbeddings):
    """A tiny deterministic model: no weights, so Chroma paging can be tested fast."""

    @property
    def model_id(self) -> str:
        return "test/fixed"

    @property
    def dimension(self) -> int:
        return 3

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [[1.0, float(len(t)), 0.5] for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return [1.0, float(len(text)), 0.5]


class _CountingClient:
    """Wraps a Chroma client and records how many ids each collection call passed."""

    def __init__(self, client: Any, calls: list[tuple[str, int]]) -> None:
        self._client, self._calls = client, calls

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def get_or_create_collection(self, **kwargs: Any) -> Any:
        collection = self._client.get_or_create_collection(**kwargs)
        calls = self._calls

        class Counting:
            def __getattr__(self, name: str) -> Any:
                return getattr(collection, name)

            def upsert(self, **kw: Any) -> Any:
                calls.append(("upsert", len(kw["ids"])))
                return collection.upsert(**kw)

            def delete(self, **kw: Any) -> Any:
                calls.append(("delete", len(kw["ids"])))
                return collection.delete(**kw)

            def get(self, **kw: Any) -> Any:
                calls.append(("get", len(kw.get("ids") or []) or kw.get("limit") or 0))
                return collection.get(**kw)

        return Counting()


def test_every_chroma_id_call_is_paged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vector_store, "CHROMA_ID_PAGE", 3)
    calls: list[tuple[str, int]] = []
    client = chromadb.PersistentClient(
        path=str(tmp_path / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    model = _Fixed()
    view = VectorView("e5", model.model_id, model, symmetric=False)
    index = VectorIndex(_CountingClient(client, calls), {"e5": view})
    ids = [f"id{i:02d}" for i in range(10)]
    index.upsert("ws", ids, model.embed_documents(ids), [{"content_hash": i} for i in ids], view="e5")
    assert index.indexed("ws") == {i: i for i in ids}  # read back in pages of 3
    similar = index.similarities("ws", model.embed_query("id00"), ids, view="e5")
    assert set(similar) == set(ids) and all(s == pytest.approx(1.0) for s in similar.values())
    index.delete("ws", ids[:7])
    assert sorted(index.indexed("ws")) == ids[7:]
    assert calls and all(0 < n <= 3 for _, n in calls), calls
    assert [n for op, n in calls if op == "upsert"] == [3, 3, 3, 1]
    assert [n for op, n in calls if op == "delete"] == [3, 3, 1]


def test_reindex_drops_and_rebuilds_every_view(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOTAE_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        assert runner.invoke(app, ["ingest", str(seed("003"))]).exit_code == 0
        kb = KnowledgeBase(get_settings())
        views = kb.vectors.distinct_views()
        assert views == ["e5", "e5_sym", "use"]
        names = {kb.vectors.collection_name("default", v) for v in views}
        assert len(names) == 3  # one collection per view: never mixed
        assert all(len(kb.vectors.indexed("default", v)) == 13 for v in views)

        kb.vectors.drop("default")
        assert not names & {c.name for c in chromadb_client(kb).list_collections()}
        assert all(kb.vectors.indexed("default", v) == {} for v in views)
        with session_scope(kb.settings.resolved_database_url) as session:
            result = kb.sync(session, "default")
        assert result.upserted == 13 and result.by_view == {"e5": 0, "e5_sym": 0, "use": 0}  # all from the cache
        assert all(len(kb.vectors.indexed("default", v)) == 13 for v in views)

        reindexed = runner.invoke(app, ["kb", "reindex"])
        assert reindexed.exit_code == 0 and "Reindexed: 13 entries (0 embedded, 13 from cache)" in reindexed.output
        fresh = KnowledgeBase(get_settings())  # reads Chroma anew
        assert all(len(fresh.vectors.indexed("default", v)) == 13 for v in views)
    finally:
        get_settings.cache_clear()


def chromadb_client(kb: KnowledgeBase) -> Any:
    return kb.vectors._client


def test_sync_after_a_crash_half_way_finishes_the_job(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    kb = KnowledgeBase(settings)
    url = settings.resolved_database_url
    with session_scope(url) as session:
        kb.ingest_file(session, "ws", seed("003"))
    monkeypatch.setattr(indexing, "_BATCH", 5)
    upsert = kb.vectors.upsert
    seen: list[str] = []

    def dies_on_the_second_symmetric_batch(*args: Any, view: str) -> None:
        seen.append(view)
        if seen.count("e5_sym") == 2:
            raise RuntimeError("killed")
        upsert(*args, view=view)

    monkeypatch.setattr(kb.vectors, "upsert", dies_on_the_second_symmetric_batch)
    with pytest.raises(RuntimeError, match="killed"), session_scope(url) as session:
        kb.sync(session, "ws")
    held = {v: len(kb.vectors.indexed("ws", v)) for v in kb.vectors.distinct_views()}
    assert held == {"e5": 13, "e5_sym": 5, "use": 0}

    monkeypatch.setattr(kb.vectors, "upsert", upsert)
    with session_scope(url) as session:
        result = kb.sync(session, "ws")
        hashes = {e.id: e.content_hash for e in session.scalars(select(Entry))}
    assert result.upserted == 13 and result.by_view["e5"] == 0 and result.by_view["use"] > 0
    assert all(kb.vectors.indexed("ws", v) == hashes for v in kb.vectors.distinct_views())
    with session_scope(url) as session:
        assert kb.sync(session, "ws").upserted == 0  # nothing left to do
        assert search(kb, "ws", "Is data encrypted at rest?", k=1)
