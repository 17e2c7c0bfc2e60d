"""The vector index against the database: `kotae kb check` finds drift made behind the database's
back in the real Chroma store and cache, `--repair` mends it; a sync killed (SIGKILL) mid-embedding
keeps the vectors it computed, so the next sync embeds only the rest."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import chromadb
import numpy as np
import pytest
from chromadb.config import Settings as ChromaSettings
from sqlalchemy import delete, func, select
from typer.testing import CliRunner

from service.cli.main import app
from service.db import session_scope
from service.knowledge_base import KnowledgeBase
from service.knowledge_base.models import EmbeddingCache, Entry
from service.settings import Settings, get_settings
from tests.conftest import ROOT, SAMPLES, ingest_all, seed

# Embedding models load in this process and in a child: make check leaves it out.
pytestmark = pytest.mark.slow


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("KOTAE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    yield tmp_path / "home"
    get_settings.cache_clear()


def check(*options: str) -> tuple[int, dict]:
    result = CliRunner().invoke(app, ["kb", "check", "-w", "acme", "--json", *options])
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)


def test_check_reports_drift_and_repair_mends_it(home: Path) -> None:
    kb = KnowledgeBase(Settings(home=home))
    ingest_all(kb, "acme", [SAMPLES / "hoshizora_caiq_lite_2024.csv"])
    code, report = check()
    assert code == 0 and not report["drift"] and report["entries"] == 14

    with session_scope(kb.settings.resolved_database_url) as session:
        ids = list(session.scalars(select(Entry.id).order_by(Entry.id)))
        # Behind the database's back: the cache loses two e5 rows...
        e5 = kb.vectors.views["e5"]
        removed = session.execute(
            delete(EmbeddingCache).where(
                EmbeddingCache.text_hash.in_(
                    select(EmbeddingCache.text_hash).where(EmbeddingCache.model == e5.key).limit(2).scalar_subquery()
                ),
                EmbeddingCache.model == e5.key,
            )
        ).rowcount
    assert removed == 2
    # ...and, through Chroma's own client, the e5 collection loses two vectors, gains one of no
    # entry, and one vector claims an older text.
    client = chromadb.PersistentClient(
        path=str(kb.settings.resolved_chroma_path), settings=ChromaSettings(anonymized_telemetry=False)
    )
    collection = client.get_collection(kb.vectors.collection_name("acme", "e5"))
    collection.delete(ids=ids[:2])
    dim = len(collection.get(ids=[ids[2]], include=["embeddings"])["embeddings"][0])
    collection.upsert(ids=["no-such-entry"], embeddings=[np.ones(dim, dtype=np.float32)], metadatas=[{"x": 1}])
    collection.update(ids=[ids[2]], metadatas=[{"content_hash": "an older text"}])

    code, report = check()
    assert code == 1 and report["drift"] and report["repaired"] is None
    e5_drift = next(v for v in report["views"] if v["view"] == "e5")
    assert (e5_drift["missing"], e5_drift["orphaned"], e5_drift["stale"], e5_drift["uncached"]) == (2, 1, 1, 2)
    assert sorted(e5_drift["examples"]["missing"]) == ids[:2] and e5_drift["examples"]["orphaned"] == ["no-such-entry"]
    assert all(
        not (v["missing"] or v["orphaned"] or v["stale"] or v["uncached"]) for v in report["views"] if v != e5_drift
    )

    code, report = check("--repair")
    assert code == 0, report
    assert report["drift"] and not report["repaired"]["after"]["drift"]
    # Missing and stale vectors came back (from the cache where it had them); the orphan went.
    assert report["repaired"]["upserted"] == 3 and report["repaired"]["removed"] == 1
    assert report["repaired"]["embedded"] == 2  # only the two texts the cache had lost
    code, report = check()
    assert code == 0 and not report["drift"]
    human = CliRunner().invoke(app, ["kb", "check", "-w", "acme"])
    assert human.exit_code == 0 and "In step: no drift." in human.output


def cached_rows(database: Path) -> int:
    """Rows in the embedding cache, read with sqlite3 alone: the child may still be creating the schema,
    and this process must not migrate the database beside it."""
    try:
        with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)) as db:
            return db.execute("SELECT count(*) FROM embedding_cache").fetchone()[0]
    except sqlite3.OperationalError:  # no database or no table yet
        return 0


def test_a_sync_killed_mid_embedding_keeps_what_it_embedded(home: Path) -> None:
    env = dict(os.environ, KOTAE_HOME=str(home), ANONYMIZED_TELEMETRY="False")
    files = [str(seed("000"))]
    child = subprocess.Popen(
        [sys.executable, "-m", "service.cli.main", "ingest", *files, "-w", "acme"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = Settings(home=home).resolved_database_url
    deadline = time.time() + 240
    try:
        while not cached_rows(home / "kotae.db"):  # the first chunk is committed: the sync is under way
            assert child.poll() is None, "the ingest ended before it could be killed"
            assert time.time() < deadline, "no vector reached the cache"
            time.sleep(0.05)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    with session_scope(url) as session:
        kept = session.scalar(select(func.count()).select_from(EmbeddingCache))
    assert kept, "nothing was kept"

    kb = KnowledgeBase(Settings(home=home))
    with session_scope(url) as session:
        result = kb.sync(session, "acme")
    with session_scope(url) as session:
        total = session.scalar(select(func.count()).select_from(EmbeddingCache))
    embedded_now = sum(result.by_view.values())
    # The rest was embedded, and only the rest: what the killed sync cached was not computed again.
    assert 0 < embedded_now == total - kept, (kept, embedded_now, total)
