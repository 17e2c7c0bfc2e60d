"""The persisted, incremental BM25 index ranks exactly as a full rebuild from the database.

Entries are stored through the knowledge base (no vectors needed: BM25 reads the entries), the
index follows each revision incrementally, and a fresh store on the same folder (a restart)
answers from disk without reading the corpus.
"""

from __future__ import annotations

from pathlib import Path

import bm25s
import numpy as np
import pytest

from service.db import session_scope
from service.ingest import parse_file
from service.knowledge_base import KnowledgeBase, delete_source, get_workspace
from service.knowledge_base.corpus import EntryCorpus
from service.retrieval.lexical import TOKENIZERS, LexicalIndex
from service.retrieval.lexical_store import LexicalStore
from service.settings import Settings
from tests.conftest import SAMPLES, seed

QUERIES = ["バックアップの世代数", "パスワードの最小文字数", "暗号化 TLS", "incident response", "退職者のアカウント"]
WS = "lex"


def sheet(tmp_path: Path, name: str, rows: list[tuple[str, str]]) -> Path:
    path = tmp_path / name
    lines = ["No,確認事項,回答"] + [f"{n},{q},{a}" for n, (q, a) in enumerate(rows, 1)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def ingest(kb: KnowledgeBase, path: Path) -> None:
    with session_scope(kb.settings.resolved_database_url) as session:
        kb.ingest_file(session, WS, path)


def ranked(store: LexicalStore, kb: KnowledgeBase, tokenizer: str) -> dict[str, list[tuple[str, float]]]:
    """Per query, every document with a positive score, best first (ties in id order)."""
    corpus = EntryCorpus()
    with session_scope(kb.settings.resolved_database_url) as session:
        workspace_id, revision, generation = corpus.workspace_state(session, WS)
        snapshot = store.snapshot(session, corpus, workspace_id, revision, tokenizer, generation)
    out = {}
    for query in QUERIES:
        scores = snapshot.index.scores(query)
        order = [i for i in np.argsort(-scores, kind="stable") if scores[i] > 0]
        out[query] = [(snapshot.index.ids[i], float(scores[i])) for i in order]
    return out


def full_rebuild(kb: KnowledgeBase, tokenizer: str) -> dict[str, list[tuple[str, float]]]:
    return ranked(LexicalStore(None), kb, tokenizer)


@pytest.mark.parametrize("tokenizer", ["bigram", "fugashi"])
def test_add_remove_restart_match_a_full_rebuild(tmp_path: Path, tokenizer: str) -> None:
    kb = KnowledgeBase(Settings(home=tmp_path / "home"))
    folder = tmp_path / "lexical"
    store = LexicalStore(folder)
    ingest(kb, SAMPLES / "hoshizora_caiq_lite_2024.csv")
    ingest(kb, seed("000"))
    first = ranked(store, kb, tokenizer)
    assert first == full_rebuild(kb, tokenizer)
    assert store.counts["full_builds"] == 1
    built = store.counts["texts_read"]
    assert built > 50  # every row of the two sheets

    # Added: a new sheet goes into the delta, and scores of every document move with N and df.
    ingest(kb, sheet(tmp_path, "new.csv", [("バックアップの世代数は何世代ですか。", "30世代を保持します。")]))
    added = ranked(store, kb, tokenizer)
    assert added == full_rebuild(kb, tokenizer)
    assert added != first
    new_ids = {i for i, _ in added["バックアップの世代数"][:1]}
    assert store.counts["incremental_updates"] == 1 and store.counts["full_builds"] == 1
    # Only the new row's text was read: keys from the database tell what changed.
    assert store.counts["texts_read"] == built + 1

    # Changed and removed: a re-ingested file with other text, then a whole source deleted.
    ingest(kb, sheet(tmp_path, "new.csv", [("パスワードの最小文字数は。", "12文字以上です。")]))
    changed = ranked(store, kb, tokenizer)
    assert changed == full_rebuild(kb, tokenizer)
    # The row keeps its id (same file, same row) and is found by its new text now.
    assert changed["パスワードの最小文字数"][0][0] in new_ids
    assert changed["バックアップの世代数"][0][0] not in new_ids
    with session_scope(kb.settings.resolved_database_url) as session:
        delete_source(session, get_workspace(session, WS), "hoshizora_caiq_lite_2024.csv")
    after_removal = ranked(store, kb, tokenizer)
    assert after_removal == full_rebuild(kb, tokenizer)
    assert after_removal != changed

    # Restart: a fresh store on the same folder loads the saved state, reading no rows.
    restarted = LexicalStore(folder)
    assert ranked(restarted, kb, tokenizer) == after_removal
    assert restarted.counts == {"loads": 1}


def test_compaction_and_a_damaged_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kb = KnowledgeBase(Settings(home=tmp_path / "home"))
    folder = tmp_path / "lexical"
    store = LexicalStore(folder)
    monkeypatch.setattr(LexicalStore, "COMPACT_MIN", 0)  # every change large enough to merge
    ingest(kb, seed("001"))
    ranked(store, kb, "bigram")
    ingest(kb, seed("002"))
    assert ranked(store, kb, "bigram") == full_rebuild(kb, "bigram")
    assert store.counts["compactions"] == 1
    assert len(list(folder.glob("*/seg-*"))) >= 1

    # A manifest that names a segment no longer there: logged, counted, rebuilt from the database.
    manifest = next(folder.glob("*/manifest.json"))
    manifest.write_text(manifest.read_text().replace('"seg-', '"seg-missing-'), encoding="utf-8")
    fresh = LexicalStore(folder)
    assert ranked(fresh, kb, "bigram") == full_rebuild(kb, "bigram")
    assert fresh.counts["load_failures"] == 1 and fresh.counts["full_builds"] == 1


def test_scores_are_bm25s_scores_bit_for_bit() -> None:
    """The segment index replaced bm25s's: on real sheets it gives the very same float32 scores,
    so retrieval ranks exactly as it did (the eval floors were measured with bm25s)."""
    texts = [
        f"{i.question}\n{i.answer}"
        for p in (SAMPLES / "hoshizora_caiq_lite_2024.csv", seed("000"))
        for i in parse_file(p).items
    ]
    texts.append("")  # an empty document is indexed as one empty token, as bm25s does
    for tokenizer in ("bigram", "fugashi"):
        tokenize = TOKENIZERS[tokenizer]
        reference = bm25s.BM25()
        reference.index([tokenize(t) or [""] for t in texts], show_progress=False)
        ours = LexicalIndex([f"{i:04d}" for i in range(len(texts))], texts, tokenizer)
        for query in [*texts[:60], *QUERIES]:
            if not tokenize(query):
                continue
            expected = np.asarray(reference.get_scores(tokenize(query)), dtype=np.float32)
            assert np.array_equal(ours.scores(query), expected), (tokenizer, query)


def test_a_database_made_again_never_reads_the_old_index(tmp_path: Path) -> None:
    """Delete the database and ingest other sheets: the workspace id and revision start over, the
    persisted index of the old workspace must not answer for the new one."""
    folder = tmp_path / "lexical"
    old = KnowledgeBase(Settings(home=tmp_path / "old"))
    ingest(old, sheet(tmp_path, "a.csv", [("バックアップの世代数は何世代ですか。", "30世代を保持します。")]))
    ranked(LexicalStore(folder), old, "bigram")

    new = KnowledgeBase(Settings(home=tmp_path / "new"))  # same workspace id (1) and revision (1)
    ingest(new, sheet(tmp_path, "b.csv", [("パスワードの最小文字数は。", "12文字以上です。")]))
    store = LexicalStore(folder)
    assert ranked(store, new, "bigram") == full_rebuild(new, "bigram")
    assert store.counts["other_generation"] == 1 and store.counts["loads"] == 0


def test_a_fresh_process_searches_with_the_saved_index(tmp_path: Path) -> None:
    """The knowledge base's retriever keeps BM25 on disk: a new process (a new KnowledgeBase on
    the same home) answers its first search without rebuilding, with the same hits."""
    settings = Settings(home=tmp_path / "home")
    first = KnowledgeBase(settings)
    ingest(first, seed("000"))
    with session_scope(settings.resolved_database_url) as session:
        first.sync(session, WS)
        before = [h.entry.id for h in first.search(session, WS, "バックアップの世代数", k=5)]
    assert first.lexical_store.counts["full_builds"] == 1

    restarted = KnowledgeBase(settings)
    with session_scope(settings.resolved_database_url) as session:
        after = [h.entry.id for h in restarted.search(session, WS, "バックアップの世代数", k=5)]
    assert after == before
    assert restarted.lexical_store.counts == {"loads": 1}
