"""The scaled setup for real, without Docker: PostgreSQL and Redis (running on this machine and in
CI), a Chroma server started here (`chroma run`), two `kotae worker` processes, and the API."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import select

from service.accounts.service import create_token, create_user, set_role
from service.api import create_app
from service.db import session_scope
from service.ingest import parse_file
from service.questionnaires import Item
from service.settings import Settings
from tests.conftest import seed

# Real worker processes, a Chroma server and Redis: minutes, not seconds (make check leaves them out).
pytestmark = pytest.mark.slow

REDIS_URL = os.environ.get("KOTAE_TEST_REDIS", "redis://127.0.0.1:6379/0")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def questionnaire(count: int) -> bytes:
    base = [i.question for n in ("000", "001", "004") for i in parse_file(seed(n)).items]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["No.", "質問", "回答"])
    for n in range(count):
        ws.append([n + 1, f"{base[n % len(base)]}（{n // len(base) + 1}）", None])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


class Scaled:
    def __init__(self, env: dict[str, str], settings: Settings, home: Path) -> None:
        self.env = env
        self.settings = settings
        self.home = home
        self.workers: list[subprocess.Popen[bytes]] = []

    def start_worker(self, name: str) -> subprocess.Popen[bytes]:
        log = (self.home / f"{name}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "service.cli.main", "worker"], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        self.workers.append(process)
        return process


@pytest.fixture
def scaled(tmp_path: Path, postgres_url: str) -> Iterator[Scaled]:
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is not reachable at {REDIS_URL} ({exc}); it runs on this machine and in CI")
    port = free_port()
    chroma = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("chroma")),
            "run",
            "--path",
            str(tmp_path / "chroma"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    namespace = f"kotae-test-{uuid.uuid4().hex[:8]}"
    env = dict(
        os.environ,
        KOTAE_HOME=str(tmp_path / "home"),
        KOTAE_DATABASE_URL=postgres_url,
        KOTAE_VECTOR_STORE="chroma_http",
        KOTAE_CHROMA_URL=f"http://127.0.0.1:{port}",
        KOTAE_QUEUE_URL=REDIS_URL,
        KOTAE_QUEUE_NAMESPACE=namespace,
        KOTAE_QUEUE_HEARTBEAT_MS="3000",
        KOTAE_QUEUE_MAINTENANCE_CHANCE="1000000",  # look for dead workers on every queue command
        KOTAE_DRAFTING_BATCH_SIZE="5",
        ANONYMIZED_TELEMETRY="False",
    )
    settings = Settings(
        home=tmp_path / "home",
        database_url=postgres_url,
        vector_store="chroma_http",
        chroma_url=f"http://127.0.0.1:{port}",
        queue_url=REDIS_URL,
        queue_namespace=namespace,
        queue_heartbeat_ms=3000,
        queue_maintenance_chance=1_000_000,
        drafting_batch_size=5,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.2)
    world = Scaled(env, settings, tmp_path)
    try:
        yield world
    finally:
        for process in world.workers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in world.workers:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        chroma.terminate()
        chroma.wait(timeout=20)
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"{namespace}*"):
            client.delete(key)


def api_upload(scaled: Scaled, count: int) -> tuple[TestClient, dict[str, str], int]:
    with session_scope(scaled.settings.resolved_database_url) as session:
        user = create_user(session, "rev@acme.test", "scaled test password")
        set_role(session, user, "acme", "admin")
        token = create_token(session, user)
    client = TestClient(create_app(scaled.settings))
    headers = {"Authorization": f"Bearer {token}"}
    files = [("files", (p.name, p.read_bytes())) for p in (seed("000"), seed("001"), seed("004"))]
    assert all(
        r["error"] is None for r in client.post("/api/workspaces/acme/kb/files", files=files, headers=headers).json()
    )
    response = client.post(
        "/api/workspaces/acme/questionnaires", files={"file": ("big.xlsx", questionnaire(count))}, headers=headers
    )
    assert response.status_code == 202, response.text
    return client, headers, response.json()["id"]


def wait_done(client: TestClient, headers: dict[str, str], qid: int, timeout: float = 600) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        q = client.get(f"/api/questionnaires/{qid}", headers=headers).json()
        if q["status"] in ("done", "failed"):
            return q
        time.sleep(0.5)
    raise AssertionError(f"not drafted in time: {q}")


def items(scaled: Scaled, qid: int) -> list[Item]:
    with session_scope(scaled.settings.resolved_database_url) as session:
        return list(session.scalars(select(Item).where(Item.questionnaire_id == qid)))


def test_two_workers_draft_every_item(scaled: Scaled) -> None:
    first, second = scaled.start_worker("w1"), scaled.start_worker("w2")
    client, headers, qid = api_upload(scaled, 60)
    q = wait_done(client, headers, qid)
    assert q["status"] == "done" and q["done"] == q["total"] == 60 and q["failed"] == 0
    drafted = items(scaled, qid)
    pids = {item.drafted_by.rsplit(":", 1)[-1] for item in drafted}
    assert pids <= {str(first.pid), str(second.pid)} and len(pids) == 2, pids  # both workers took batches
    assert all(item.draft_count == 1 for item in drafted)
    assert all(item.status in ("drafted", "no_evidence") for item in drafted)
    assert sum(1 for item in drafted if item.citations) > 30  # the vectors were on the Chroma server


def test_a_killed_worker_loses_no_question(scaled: Scaled) -> None:
    victim = scaled.start_worker("victim")
    client, headers, qid = api_upload(scaled, 150)
    # Let the only worker start on the job, then kill it without a chance to clean up.
    deadline = time.time() + 120
    while time.time() < deadline and client.get(f"/api/questionnaires/{qid}", headers=headers).json()["done"] < 10:
        time.sleep(0.1)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    done_at_kill = client.get(f"/api/questionnaires/{qid}", headers=headers).json()["done"]
    assert 0 < done_at_kill < 150
    survivor = scaled.start_worker("survivor")
    q = wait_done(client, headers, qid)
    assert q["status"] == "done" and q["done"] == q["total"] == 150 and q["failed"] == 0
    drafted = items(scaled, qid)
    assert all(item.draft_count == 1 for item in drafted), "a question was drafted twice into the result"
    assert {item.drafted_by.rsplit(":", 1)[-1] for item in drafted} == {str(victim.pid), str(survivor.pid)}
