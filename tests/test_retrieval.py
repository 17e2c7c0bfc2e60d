"""Hybrid retrieval finds the right prior answers, in Japanese and across languages."""

from __future__ import annotations

import pytest

from service.db import session_scope
from service.knowledge_base import KnowledgeBase
from service.retrieval.fusion import rrf
from service.retrieval.lexical import tokenize
from service.settings import Settings
from tests.conftest import SAMPLES, ingest_all


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
    assert hits[0].lexical_rank is None  # English queries use the dense side only (measured)


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
