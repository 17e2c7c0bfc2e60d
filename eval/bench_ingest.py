"""Ingest throughput (entries/s), cold and with the embedding cache warm.

    python eval/bench_ingest.py [--repeat N] [PATH ...]

Defaults to the seeds in ../shared/seeds plus the sample knowledge base. "Cold" is a fresh data
directory (every vector computed); "cached" ingests the same files into a second workspace of
the same directory, so parsing, storing and indexing run again but no vector is recomputed.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from service.db import session_scope  # noqa: E402
from service.knowledge_base import KnowledgeBase  # noqa: E402
from service.settings import Settings  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def ingest(kb: KnowledgeBase, workspace: str, files: list[Path]) -> tuple[int, float, int]:
    url = kb.settings.resolved_database_url
    start = time.perf_counter()
    entries = 0
    for path in files:
        with session_scope(url) as session:
            entries += kb.ingest_file(session, workspace, path).entries
    with session_scope(url) as session:
        result = kb.sync(session, workspace)
    return entries, time.perf_counter() - start, result.embedded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--repeat", type=int, default=1, help="ingest the file set N times (as N copies)")
    args = parser.parse_args()
    paths = args.paths or [ROOT.parent / "shared" / "seeds", ROOT / "knowledge_base"]
    files = [f for p in paths for f in (sorted(p.iterdir()) if p.is_dir() else [p]) if f.suffix != ".py"]

    with tempfile.TemporaryDirectory() as home:
        kb = KnowledgeBase(Settings(home=Path(home)))
        kb.embeddings.embed_query("warm up")  # model load is not ingest time
        for label, workspace in (("cold", "bench-cold"), ("cached", "bench-cached")):
            total_entries, total_seconds, embedded = 0, 0.0, 0
            for i in range(args.repeat):
                entries, seconds, computed = ingest(kb, f"{workspace}-{i}", files)
                total_entries += entries
                total_seconds += seconds
                embedded += computed
            print(
                f"{label:>6}: {total_entries} entries from {len(files) * args.repeat} files in {total_seconds:.2f} s"
                f" = {total_entries / total_seconds:.0f} entries/s ({embedded} vectors computed)"
            )


if __name__ == "__main__":
    main()
