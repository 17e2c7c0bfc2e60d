"""Scale benchmark: N synthetic entries through the real storage path, numbers printed.

    python eval/bench_scale.py 10000            # or 40000, 100000; --queries 200 --home DIR
    python eval/bench_scale.py 40000 --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench
    python eval/bench_scale.py 40000 --database-url ... --chroma-url http://127.0.0.1:8765

Entries are written as CSV sheets of 2,000 rows and go through the real path: parse, store in
the database (SQLite in the home by default, or --database-url: give it an empty database), sync
into Chroma (on disk by default, or a Chroma server with --chroma-url, i.e. `chroma run`), search
through KnowledgeBase.search. The embedding is the deterministic hashing stand-in
(KOTAE_EMBEDDING_BACKEND=hashing), chosen by the same settings a user has, so the figures measure
storage and retrieval, not the model; English queries search the e5_sym view only (the USE model
would dominate otherwise). Printed: the machine and its load average (start and end), ingest
rate, search p50/p95, the time until one added entry is found (ingest + sync + first search),
peak RSS, and the cold first query: a fresh process with the same settings, timed from
KnowledgeBase(settings) to its first answer (which includes the deferred chromadb import and
loading the vector graph; importing `service` is printed apart). The persisted lexical index
(service.retrieval.lexical_store.LexicalStore) is also timed on its own: full build, one-entry
update, cold load.
No timed test asserts these: compare runs by eye, on the same machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from sqlalchemy.engine import make_url  # noqa: E402

from service.db import session_scope  # noqa: E402
from service.knowledge_base import KnowledgeBase, get_workspace  # noqa: E402
from service.knowledge_base.corpus import EntryCorpus  # noqa: E402
from service.retrieval.lexical_store import LexicalStore  # noqa: E402
from service.settings import Settings  # noqa: E402

WS = "scale"
ROWS_PER_FILE = 2000
TOPICS = [
    "バックアップ",
    "暗号化",
    "パスワード",
    "多要素認証",
    "アクセス権",
    "ログ",
    "脆弱性診断",
    "委託先",
    "入退室",
    "インシデント",
    "事業継続",
    "データ消去",
    "ウイルス対策",
    "監査",
    "教育",
    "鍵管理",
    "ファイアウォール",
    "侵入検知",
    "通信経路",
    "証明書",
    "特権ID",
    "退職者",
    "端末",
    "媒体",
    "クラウド",
    "冗長化",
    "障害",
    "復旧目標",
    "個人情報",
    "委託契約",
    "開発環境",
    "変更管理",
    "構成管理",
    "資産台帳",
    "物理セキュリティ",
    "監視",
    "アラート",
    "保守",
    "パッチ",
    "標的型攻撃",
    "メール",
    "無線LAN",
    "リモートアクセス",
    "持ち出し",
    "廃棄",
    "二段階認証",
    "SOC",
    "ISMS",
]
ASPECTS = [
    "頻度",
    "保管期間",
    "責任者",
    "手順書",
    "世代数",
    "対象範囲",
    "見直し",
    "記録",
    "承認",
    "報告",
    "方針",
    "基準",
    "体制",
    "期限",
    "方法",
]
TEMPLATES = [
    "{a}の{x}はどのように定めていますか。",
    "{a}と{b}について、{x}を教えてください。",
    "{a}に関する{x}および{y}は文書化されていますか。",
    "{b}の{y}に{a}は含まれますか。",
]
ANSWERS = ["はい、{a}は{x}に従い実施しています。", "いいえ。{b}で代替しています。", "{x}は年{n}回見直します。"]


def settings_values(home: Path, database_url: str | None, chroma_url: str | None) -> dict[str, object]:
    """What the benchmark sets explicitly (so no KOTAE_* variable of the caller changes a run); the
    cold-query process is given the same values."""
    values: dict[str, object] = {
        "home": str(home),
        "dense_views_en": ["e5_sym"],
        "evidence_view_en": "e5_sym",  # no USE view: the bench measures storage, not a second model
        "embedding_backend": "hashing",
    }
    values["database_url"] = database_url
    values["vector_store"] = "chroma_http" if chroma_url else "chroma_local"
    values["chroma_url"] = chroma_url
    return values


def machine() -> str:
    model = "unknown cpu"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    threads = os.environ.get("OMP_NUM_THREADS", "unset")
    return f"{os.cpu_count()} cpus ({model}), Python {sys.version.split()[0]}, OMP_NUM_THREADS={threads}"


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} (1/5/15 min)"


def backend(settings: Settings) -> str:
    url = make_url(settings.resolved_database_url)
    database = f"{url.get_backend_name()}" + (f" at {url.host}:{url.port}/{url.database}" if url.host else "")
    vectors = f"Chroma server {settings.chroma_url}" if settings.vector_store == "chroma_http" else "Chroma on disk"
    return f"database {database}, vectors {vectors}"


def write_sheets(folder: Path, n: int, seed: int = 7) -> list[Path]:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for start in range(0, n, ROWS_PER_FILE):
        path = folder / f"sheet_{start // ROWS_PER_FILE:04d}.csv"
        lines = ["No,確認事項,回答"]
        for i in range(start, min(n, start + ROWS_PER_FILE)):
            a, b = rng.sample(TOPICS, 2)
            x, y = rng.sample(ASPECTS, 2)
            words = {"a": a, "b": b, "x": x, "y": y, "n": i % 12 + 1}
            lines.append(f"{i + 1},{rng.choice(TEMPLATES).format(**words)},{rng.choice(ANSWERS).format(**words)}")
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


COLD = """
import json, os, sys, time
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
sys.path.insert(0, {root!r})
t0 = time.perf_counter()
from service.db import session_scope
from service.knowledge_base import KnowledgeBase
from service.knowledge_base.corpus import EntryCorpus
from service.retrieval.lexical_store import LexicalStore
from service.settings import Settings
settings = Settings(**json.loads({values!r}))
kb = KnowledgeBase(settings)
t1 = time.perf_counter()
with session_scope(settings.resolved_database_url) as session:
    hits = kb.search(session, {ws!r}, "バックアップの世代数", k=5)
t2 = time.perf_counter()
store = LexicalStore({lexical!r})
corpus = EntryCorpus()
with session_scope(settings.resolved_database_url) as session:
    workspace_id, revision, generation = corpus.workspace_state(session, {ws!r})
    snapshot = store.snapshot(session, corpus, workspace_id, revision, settings.lexical_tokenizer, generation)
    snapshot.index.scores("バックアップの世代数")
t3 = time.perf_counter()
# VmHWM, not ru_maxrss: the latter keeps the parent's peak across fork + exec on Linux.
status = open("/proc/self/status").read().split("VmHWM:")[1]
peak_mb = int(status.split()[0]) / 1024
print(json.dumps({{"imports": t1 - t0, "first_search": t2 - t1, "lexical_store_first": t3 - t2,
                  "store": dict(store.counts), "hits": len(hits),
                  "peak_rss_mb": peak_mb}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("n", type=int, help="entries")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--home", type=Path, default=None, help="data folder (default: a new temporary one)")
    parser.add_argument("--database-url", default=None, help="an empty database (default: SQLite in the home)")
    parser.add_argument("--chroma-url", default=None, help="a Chroma server, e.g. http://127.0.0.1:8000")
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="kotae-scale-"))
    values = settings_values(home, args.database_url, args.chroma_url)
    settings = Settings(**values)
    kb = KnowledgeBase(settings)
    url = settings.resolved_database_url
    print(f"machine: {machine()}; load average at start {load()}")
    print(f"entries {args.n}, {backend(settings)}, embedding {settings.embedding_backend}, home {home}")

    sheets = write_sheets(home / "sheets", args.n)
    with session_scope(url):
        pass  # the schema is created before the clock starts
    kb.parse("warm.csv", "No,確認事項,回答\n1,q,a\n".encode())  # and the parsers are imported
    t0 = time.perf_counter()
    for path in sheets:
        with session_scope(url) as session:
            kb.ingest_file(session, WS, path)
    t1 = time.perf_counter()
    with session_scope(url) as session:
        synced = kb.sync(session, WS)
    t2 = time.perf_counter()
    print(
        f"ingest: {args.n / (t2 - t0):,.0f} entries/s ({t1 - t0:.1f} s parse+store, {t2 - t1:.1f} s sync of "
        f"{synced.upserted} entries); peak RSS {peak_rss_mb():,.0f} MB"
    )

    rng = random.Random(11)
    queries = [f"{rng.choice(TOPICS)}の{rng.choice(ASPECTS)}" for _ in range(args.queries)]
    with session_scope(url) as session:
        kb.search(session, WS, queries[0], k=5)  # warm: this process's first query builds what it needs
    timings = []
    for query in queries:
        with session_scope(url) as session:
            start = time.perf_counter()
            kb.search(session, WS, query, k=5)
            timings.append((time.perf_counter() - start) * 1000)
    p50, p95 = percentile(timings, 0.5), percentile(timings, 0.95)
    print(f"search: p50 {p50:.1f} ms, p95 {p95:.1f} ms ({len(timings)} queries)")

    # The persisted lexical index on its own: a first build, then an incremental update.
    folder = home / "bench-lexical"
    corpus = EntryCorpus()
    store = LexicalStore(folder)
    with session_scope(url) as session:
        workspace_id, revision, generation = corpus.workspace_state(session, WS)
        start = time.perf_counter()
        store.snapshot(session, corpus, workspace_id, revision, settings.lexical_tokenizer, generation)
    print(f"lexical store: full build + save {time.perf_counter() - start:.2f} s")

    added_question = "量子鍵配送の導入予定はありますか。"
    extra = home / "sheets-extra"
    extra.mkdir()
    added = extra / "added.csv"
    added.write_text(
        "No,確認事項,回答\n1,量子鍵配送の導入予定はありますか。,現時点で予定はありません。\n", encoding="utf-8"
    )
    start = time.perf_counter()
    with session_scope(url) as session:
        kb.ingest_file(session, WS, added)
    stored = time.perf_counter()
    with session_scope(url) as session:
        kb.sync(session, WS)
    synced_at = time.perf_counter()
    with session_scope(url) as session:
        hits = kb.search(session, WS, "量子鍵配送の導入予定", k=3)
    searchable = time.perf_counter() - start
    # Where the time goes: the first search after a change also brings the lexical index up to date.
    first_search = start + searchable - synced_at
    steps = f"ingest {stored - start:.2f} + sync {synced_at - stored:.2f} + first search {first_search:.2f} s"
    found = (
        [h.entry.question for h in hits].index(added_question) + 1
        if any(h.entry.question == added_question for h in hits)
        else None
    )
    with session_scope(url) as session:
        workspace_id, revision, generation = corpus.workspace_state(session, WS)
        start = time.perf_counter()
        store.snapshot(session, corpus, workspace_id, revision, settings.lexical_tokenizer, generation)
    print(
        f"incremental: one added entry searchable through KnowledgeBase in {searchable:.2f} s ({steps}; "
        f"its rank: {found}); "
        f"lexical store update {time.perf_counter() - start:.2f} s ({dict(store.counts)})"
    )

    with session_scope(url) as session:
        get_workspace(session, WS)  # the database is settled before the fresh process reads it
    script = COLD.format(root=str(ROOT), values=json.dumps(values), ws=WS, lexical=str(folder))
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        print("cold query failed:", done.stderr[-2000:])
    else:
        cold = json.loads(done.stdout.strip().splitlines()[-1])
        print(
            f"cold first query (fresh process): {cold['first_search']:.2f} s through KnowledgeBase, "
            f"{cold['lexical_store_first']:.2f} s for the persisted lexical index ({cold['store']}); "
            f"imports {cold['imports']:.2f} s; process {time.perf_counter() - start:.1f} s, "
            f"peak RSS {cold['peak_rss_mb']:,.0f} MB"
        )
    print(f"peak RSS {peak_rss_mb():,.0f} MB; load average at end {load()}")


if __name__ == "__main__":
    main()
