"""Entries committed by a process that died before its vector sync become searchable by meaning
when the next runner starts, without another change or `kotae kb check --repair`."""

from __future__ import annotations

import time
from pathlib import Path

from service.db import session_scope
from service.jobs.local import LocalJobs
from service.knowledge_base import KnowledgeBase, get_workspace
from service.knowledge_base.indexing import check_index
from service.settings import Settings


def test_a_new_runner_syncs_what_a_dead_process_left_unsynced(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(
        "No,確認事項,回答\n1,バックアップの世代数は何世代ですか。,30世代を保持します。\n"
        "2,パスワードの最小文字数は。,12文字以上です。\n",
        encoding="utf-8",
    )
    dead = KnowledgeBase(settings)
    with session_scope(settings.resolved_database_url) as session:
        dead.ingest_file(session, "acme", sheet)  # committed; the process "dies" before its sync
    with session_scope(settings.resolved_database_url) as session:
        drift = check_index(session, get_workspace(session, "acme"), dead.vectors)
    assert drift.found and all(len(v.missing) == 2 for v in drift.views)

    kb = KnowledgeBase(settings)  # the restarted server
    jobs = LocalJobs(kb, sync_delay=0.0)
    try:
        deadline = time.monotonic() + 120
        while not jobs.recovery.resynced and time.monotonic() < deadline:
            time.sleep(0.1)
        assert jobs.recovery.resynced == ["acme"]
        jobs.wait(timeout=120)
        with session_scope(settings.resolved_database_url) as session:
            assert not check_index(session, get_workspace(session, "acme"), kb.vectors).found
            hits = kb.search(session, "acme", "How many backup generations are kept?", k=1)
        assert hits and hits[0].entry.locator.endswith("1")
    finally:
        jobs.shutdown()
