"""One truth across processes: a long-lived KnowledgeBase (as in `kotae serve`) finds what a
`kotae ingest` in another process wrote, without a restart, through both dense and BM25."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from service.db import session_scope
from service.knowledge_base import KnowledgeBase
from service.settings import Settings

WS = "fresh"
OLD = "No,確認事項,回答\n1,通信は暗号化されていますか。,はい、TLS 1.2 以上で暗号化しています。\n"
NEW = "No,確認事項,回答\n1,データセンターの入退室はどのように管理していますか。,ICカードと生体認証で記録しています。\n"


def test_a_server_sees_a_cli_ingest_without_restarting(tmp_path: Path) -> None:
    home = tmp_path / "home"
    kb = KnowledgeBase(Settings(home=home))
    url = kb.settings.resolved_database_url
    (tmp_path / "old.csv").write_text(OLD, encoding="utf-8")
    with session_scope(url) as session:
        kb.ingest_file(session, WS, tmp_path / "old.csv")
    with session_scope(url) as session:
        kb.sync(session, WS)
    question = "データセンターの入退室管理"
    with session_scope(url) as session:
        before = kb.search(session, WS, question, k=5)
    assert all("入退室" not in hit.entry.question for hit in before)  # only the old entry so far
    refreshes = kb.vectors.counts["refreshes"]

    (tmp_path / "new.csv").write_text(NEW, encoding="utf-8")
    env = {**os.environ, "KOTAE_HOME": str(home)}
    done = subprocess.run(
        [sys.executable, "-m", "service.cli.main", "ingest", str(tmp_path / "new.csv"), "-w", WS],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr

    with session_scope(url) as session:
        after = kb.search(session, WS, question, k=5)
    found = [hit for hit in after if "入退室" in hit.entry.question]
    assert found, [hit.entry.question for hit in after]
    # Found by the dense side too, not only by BM25: the on-disk vector client was reopened.
    assert found[0].dense_rank is not None
    assert kb.vectors.counts["refreshes"] == refreshes + 1

    # Nothing changed since: the next search reopens nothing.
    with session_scope(url) as session:
        kb.search(session, WS, question, k=5)
    assert kb.vectors.counts["refreshes"] == refreshes + 1
