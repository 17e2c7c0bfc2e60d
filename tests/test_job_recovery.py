"""Crash-safe drafting: a real `kotae serve` killed with SIGKILL mid-drafting and started again on
the same KOTAE_HOME finishes the questionnaire, every question drafted exactly once; a question
whose drafting keeps failing ends `failed` after job_max_attempts attempts, with the reason.

Only the chat model is a stand-in (tests/openai_stub.py, real HTTP): its replies take a moment, so
the kill lands mid-drafting.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openpyxl
import pytest
from sqlalchemy import select

from service.accounts.service import create_token, create_user, set_role
from service.db import session_scope
from service.ingest import parse_file
from service.jobs.local import LocalJobs
from service.knowledge_base import KnowledgeBase, get_workspace
from service.questionnaires import Item, Questionnaire, create_questionnaire
from service.settings import Settings
from tests.conftest import ROOT, ingest_all, seed
from tests.openai_stub import OpenAIStub

# Real server processes, each loading the embedding models: make check leaves it out.
pytestmark = pytest.mark.slow

QUESTIONS = 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answer(_body: dict) -> tuple[str, float]:
    """A valid cited reply, after a pause: drafting takes long enough to be killed half-way."""
    content = {"choice": "はい", "answer": "対応しています。", "citations": ["E1"], "confidence": 0.8}
    return json.dumps(content, ensure_ascii=False), 1.0


def workbook(questions: list[str]) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["No.", "質問", "回答"])
    for n, question in enumerate(questions, start=1):
        ws.append([n, question, None])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def seed_questions(count: int) -> list[str]:
    return [item.question for item in parse_file(seed("000")).items][:count]


def claimed(url: str, qid: int) -> list[int]:
    """Items a runner holds right now (claimed, not yet written)."""
    with session_scope(url) as session:
        query = select(Item.id).where(Item.questionnaire_id == qid, Item.status == "pending", Item.lease_owner != "")
        return list(session.scalars(query))


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    with OpenAIStub() as server:
        server.replies.extend([answer] * 1000)
        yield server


class Server:
    """`kotae serve` as a child process on one KOTAE_HOME, started and killed at will."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home = home
        self.env = env
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> subprocess.Popen[bytes]:
        self.starts += 1
        log = (self.home / f"serve-{self.starts}.log").open("wb")
        command = [sys.executable, "-m", "service.cli.main", "serve", "--port", str(self.port)]
        self.process = subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.time() + 90
        while time.time() < deadline:
            assert self.process.poll() is None, self.log()
            try:
                if httpx.get(f"{self.url}/login", timeout=2).status_code == 200:
                    return self.process
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"the server did not start:\n{self.log()}")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def log(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted(self.home.glob("serve-*.log")))


@pytest.fixture
def server(tmp_path: Path, stub: OpenAIStub) -> Iterator[Server]:
    home = tmp_path / "home"
    env = dict(
        os.environ,
        KOTAE_HOME=str(home),
        KOTAE_DRAFTER="llm",
        KOTAE_LLM_BASE_URL=stub.base_url,
        KOTAE_LLM_MODEL="stub-model",
        KOTAE_DRAFTING_BATCH_SIZE="4",
        ANONYMIZED_TELEMETRY="False",
    )
    home.mkdir()
    world = Server(home, env)
    try:
        yield world
    finally:
        if world.process is not None and world.process.poll() is None:
            world.kill()


def test_a_killed_server_finishes_the_questionnaire_after_a_restart(server: Server) -> None:
    settings = Settings(home=server.home)
    url = settings.resolved_database_url
    with session_scope(url) as session:
        user = create_user(session, "rev@acme.test", "recovery test password")
        set_role(session, user, "acme", "admin")
        token = create_token(session, user)
    headers = {"Authorization": f"Bearer {token}"}
    first = server.start()
    with httpx.Client(base_url=server.url, headers=headers, timeout=120) as client:
        kb_file = seed("000")
        stored = client.post("/api/workspaces/acme/kb/files", files=[("files", (kb_file.name, kb_file.read_bytes()))])
        assert stored.json()[0]["error"] is None, stored.text
        response = client.post(
            "/api/workspaces/acme/questionnaires", files={"file": ("q.xlsx", workbook(seed_questions(QUESTIONS)))}
        )
        assert response.status_code == 202, response.text
        qid = response.json()["id"]
        deadline = time.time() + 300  # the first drafts wait for the knowledge base to be embedded
        while not (client.get(f"/api/questionnaires/{qid}").json()["done"] >= 4 and claimed(url, qid)):
            assert time.time() < deadline, server.log()
            time.sleep(0.05)

    server.kill()
    with session_scope(url) as session:
        q = session.get(Questionnaire, qid)
        items = list(session.scalars(select(Item).where(Item.questionnaire_id == qid)))
        assert q.status == "drafting" and q.lease_owner.split(":")[1] == str(first.pid)
        pending = [i for i in items if i.status == "pending"]
        in_flight = {i.id for i in pending if i.lease_owner}
        assert pending and in_flight, "the kill was meant to land mid-drafting"

    restarted = time.time()
    second = server.start()
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
        while (q := client.get(f"/api/questionnaires/{qid}").json())["status"] not in ("done", "failed"):
            assert time.time() - restarted < 180, (q, server.log())  # the bound, boot included
            time.sleep(0.3)
    assert q["status"] == "done" and q["done"] == q["total"] == QUESTIONS and q["failed"] == 0, q
    with session_scope(url) as session:
        items = list(session.scalars(select(Item).where(Item.questionnaire_id == qid)))
        assert session.get(Questionnaire, qid).lease_owner == ""
    assert all(i.status in ("drafted", "no_evidence") and i.draft_count == 1 for i in items)
    assert {i.drafted_by.rsplit(":", 1)[-1] for i in items} == {str(first.pid), str(second.pid)}
    # What the dead server had claimed was its first attempt; the restarted one made the second.
    assert {i.id: i.attempts for i in items if i.id in in_flight} == {i: 2 for i in in_flight}
    assert all(i.attempts == 1 for i in items if i.id not in in_flight)
    assert all(i.lease_owner == "" for i in items)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    kb = KnowledgeBase(Settings(home=tmp_path_factory.mktemp("recovery")))
    ingest_all(kb, "acme", [seed("000")])
    return kb


def test_a_question_that_keeps_failing_ends_failed_after_max_attempts(
    seeded: KnowledgeBase, stub: OpenAIStub, tmp_path: Path
) -> None:
    # The prompt folder has only the Japanese prompts: drafting the English question raises, every time.
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    for path in (ROOT / "prompts").glob("draft.ja.*"):
        shutil.copy(path, prompts / path.name)
    settings = seeded.settings.model_copy(
        update={
            "drafter": "llm",
            "llm_base_url": stub.base_url,
            "llm_model": "stub-model",
            "prompts_dir": prompts,
            "job_max_attempts": 3,
        }
    )
    kb = seeded.with_settings(settings)
    questions = [*seed_questions(3), "How many generations of data backups do you keep?"]
    with session_scope(settings.resolved_database_url) as session:
        ws = get_workspace(session, "acme")
        qid = create_questionnaire(session, ws, "mixed.xlsx", workbook(questions), None).id
    jobs = LocalJobs(kb, recover=False)
    future = jobs.draft(qid)
    assert future is not None
    future.result(timeout=300)
    jobs.shutdown()

    with session_scope(settings.resolved_database_url) as session:
        q = session.get(Questionnaire, qid)
        items = list(session.scalars(select(Item).where(Item.questionnaire_id == qid).order_by(Item.position)))
    *japanese, english = items
    assert q.status == "done" and q.lease_owner == ""
    assert all(i.status == "drafted" and i.drafter == "llm" and i.attempts == 1 for i in japanese)
    assert english.status == "failed" and english.attempts == 3 and english.draft_count == 0
    assert english.error.startswith("failed after 3 attempts: LLMConfigError: prompt files for 'draft' (en)")
    assert english.lease_owner == "" and english.lease_expires_at is None
    # Nothing is left for a recovery sweep: the questionnaire is finished, not stuck.
    assert LocalJobs(kb, recover=False).recovery.sweep() == []


# A runner that claims one question and is then killed, as a server drafting it would be.
CLAIM_AND_HANG = """
import sys, time
from pathlib import Path
from service.jobs.drafting import claim_items, start_drafting
from service.jobs.lease import owner_id
from service.knowledge_base import KnowledgeBase
from service.settings import Settings
kb = KnowledgeBase(Settings(home=Path(sys.argv[1])))
qid, item = int(sys.argv[2]), int(sys.argv[3])
assert start_drafting(kb, qid, owner_id())[0]
assert [i for i, _, _ in claim_items(kb, qid, [item], owner_id())[1]] == [item]
print("claimed", flush=True)
time.sleep(600)
"""


def test_a_question_whose_runner_dies_every_time_ends_failed(seeded: KnowledgeBase) -> None:
    kb = seeded.with_settings(seeded.settings.model_copy(update={"job_max_attempts": 1}))
    url = kb.settings.resolved_database_url
    with session_scope(url) as session:
        q = create_questionnaire(session, get_workspace(session, "acme"), "q.xlsx", workbook(seed_questions(3)), None)
        qid, victim = q.id, q.items[0].id
    child = subprocess.Popen(
        [sys.executable, "-c", CLAIM_AND_HANG, str(kb.settings.home), str(qid), str(victim)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == b"claimed\n"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)

    jobs = LocalJobs(kb, recover=False)
    assert jobs.recovery.sweep() == [qid]  # the dead runner's lease is released, its job re-queued
    jobs.wait(timeout=300)
    jobs.shutdown()
    with session_scope(url) as session:
        q = session.get(Questionnaire, qid)
        first, *rest = session.scalars(select(Item).where(Item.questionnaire_id == qid).order_by(Item.position))
        assert q.status == "done" and q.lease_owner == ""
        assert first.status == "failed" and first.attempts == 1 and first.draft_count == 0
        assert first.error.startswith("gave up after 1 attempt: none ended with a draft")
        assert all(i.status in ("drafted", "no_evidence") and i.attempts == 1 for i in rest)
