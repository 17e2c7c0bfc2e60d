"""Drafting speed on the offline default: a 300-question questionnaire against the seeds.

    python eval/bench_draft.py [--questions 300]

Prints the total drafting time and the floor: the time to only embed the same questions with the
same model. The goal is drafting within 3x of the floor.
"""

from __future__ import annotations

import argparse
import io
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import openpyxl  # noqa: E402

from service.db import session_scope  # noqa: E402
from service.drafting import draft_questionnaire, get_drafter, read_questionnaire  # noqa: E402
from service.ingest import parse_file  # noqa: E402
from service.knowledge_base import KnowledgeBase  # noqa: E402
from service.settings import Settings  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT.parent / "shared" / "seeds"
# Customer-style frames around the seeds' own control wording make distinct questions.
FRAMES = ["{}", "貴社では、{}", "{}（ご回答ください）", "次の点についてご確認ください：{}"]


def questionnaire_bytes(count: int) -> bytes:
    base = [i.question for f in sorted(SEEDS.iterdir()) for i in parse_file(f).items]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["No.", "質問", "回答", "備考"])
    for n in range(count):
        ws.append([n + 1, FRAMES[(n // len(base)) % len(FRAMES)].format(base[n % len(base)]), None, None])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        kb = KnowledgeBase(Settings(home=Path(home)))
        url = kb.settings.resolved_database_url
        for path in sorted(SEEDS.iterdir()):
            with session_scope(url) as session:
                kb.ingest_file(session, "bench", path)
        with session_scope(url) as session:
            kb.sync(session, "bench")
        questionnaire = read_questionnaire("bench.xlsx", questionnaire_bytes(args.questions))
        questions = [i.question for i in questionnaire.items]

        start = time.perf_counter()
        for q in questions:
            kb.embeddings.embed_query(q)
        floor = time.perf_counter() - start

        start = time.perf_counter()
        with session_scope(url) as session:
            drafts = draft_questionnaire(session, get_drafter(kb), "bench", questionnaire)
        total = time.perf_counter() - start
    drafted = sum(1 for d in drafts if d.status == "drafted")
    print(f"questions: {len(questions)} ({drafted} drafted, {len(drafts) - drafted} no evidence)")
    print(f"embed only (floor): {floor:.2f} s")
    print(f"drafting total:     {total:.2f} s = {total / floor:.1f}x the floor ({len(questions) / total:.0f} q/s)")


if __name__ == "__main__":
    main()
