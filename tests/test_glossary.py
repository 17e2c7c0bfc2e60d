"""English questions reach Japanese rows through BM25 too: the Japanese words of the security
terms they name join their lexical query (service/retrieval/glossary.py)."""

from __future__ import annotations

import pytest

from service.db import session_scope
from service.knowledge_base import KnowledgeBase
from service.retrieval.glossary import bilingual_lexical_query


def test_terms_named_in_english_bring_their_japanese_words() -> None:
    words = bilingual_lexical_query("Do you run vulnerability scans and keep backups offsite?").split()
    assert "脆弱性" in words and "バックアップ" in words
    assert bilingual_lexical_query("Is MFA enforced?").split()[0] == "多要素認証"
    assert bilingual_lexical_query("The weather is fine today.") == ""


def _lexically_ranked_japanese(kb: KnowledgeBase, question: str) -> list[str]:
    with session_scope(kb.settings.resolved_database_url) as session:
        hits = kb.search(session, "seeds", question, k=10)
    return [h.entry.locator for h in hits if h.lexical_rank is not None and h.entry.language == "ja"]


def test_an_english_question_ranks_japanese_rows_by_bm25_with_the_glossary(seeded_kb: KnowledgeBase) -> None:
    question = "Do you perform vulnerability assessments of your servers?"
    on = seeded_kb.with_settings(seeded_kb.settings.model_copy(update={"lexical_glossary_en": True}))
    off = seeded_kb.with_settings(seeded_kb.settings.model_copy(update={"lexical_glossary_en": False}))
    assert on.settings.lexical_weight_en > 0
    assert _lexically_ranked_japanese(on, question)
    assert not _lexically_ranked_japanese(off, question)


@pytest.mark.parametrize(
    "question", ["Are you certified to ISO 27001?", "ISO/IEC 27001 certified?", "Do you hold ISMS?"]
)
def test_iso_27001_is_named_with_or_without_iec(question: str) -> None:
    assert "ISMS" in bilingual_lexical_query(question).split()
