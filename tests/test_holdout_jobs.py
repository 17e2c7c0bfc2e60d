"""Holdout runs on the job queue that drafting uses: a run handed to the in-process runner finishes; a
run left behind by a process that died is taken again by the recovery sweep and finishes; a run
whose process kept dying ends failed with the reason; a run cut short by a shutdown is finished by
the next runner; a run sent through Redis is run by a dramatiq worker. Through the API,
`"calibrate": true` with every sheet held out keeps the workspace's calibration, audited; without
every sheet it is a 422.

A "dead process" is a real one: a child process started and gone, whose pid is on the lease, as a
kill -9 leaves it. Only the database row is set by hand, to what that process would have left.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import dramatiq
import pytest
import redis
from sqlalchemy import select

from service.audit import AuditEvent
from service.db import session_scope
from service.drafting.calibration import shipped
from service.drafting.calibration_store import WorkspaceCalibration, calibration_for
from service.evaluation import HoldoutRecord, start_run
from service.jobs import queue
from service.jobs.local import LocalJobs
from service.jobs.queue import QueueJobs
from service.knowledge_base import KnowledgeBase, get_workspace
from service.knowledge_base.models import utcnow
from service.settings import Settings, get_settings
from tests.conftest import ingest_all
from tests.openai_stub import OpenAIStub
from tests.test_api import PASSWORD, Env
from tests.test_holdout import TOPICS, sheet
from tests.test_holdout_api import wait_done, workspace_env
from tests.test_holdout_web import site  # noqa: F401 - a fixture: a real server on two small sheets
from tests.test_web import browser, sign_in  # noqa: F401 - browser: a fixture

SOURCES = ["a_2025.csv", "b_2026.csv", "c_flipped.csv"]


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    """Three small sheets (six questions each) in workspace 'acme'."""
    folder = tmp_path_factory.mktemp("sheets")
    (folder / "a_2025.csv").write_text(sheet(TOPICS), encoding="utf-8")
    (folder / "b_2026.csv").write_text(sheet(TOPICS), encoding="utf-8")
    flipped = [(q, "No" if c == "Yes" else "Yes", a) for q, c, a in TOPICS]
    (folder / "c_flipped.csv").write_text(sheet(flipped), encoding="utf-8")
    knowledge = KnowledgeBase(Settings(home=tmp_path_factory.mktemp("home"), stale_evidence_months=1200))
    ingest_all(knowledge, "acme", sorted(folder.iterdir()))
    return knowledge


def dead_owner() -> str:
    """The lease owner of a process of this machine that ran and is gone (as after a kill -9)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=30)
    return f"{socket.gethostname()}:{child.pid}:0badc0de"


def left_running(kb: KnowledgeBase, owner: str, attempts: int, lease_left: timedelta) -> int:
    """A run as a process killed mid-run leaves it: running, half done, its lease still on it."""
    with session_scope(kb.settings.resolved_database_url) as session:
        workspace = get_workspace(session, "acme")
        run = HoldoutRecord(
            workspace_id=workspace.id, status="running", sources=["b_2026.csv"], total=len(TOPICS), done=2
        )
        run.current = "b_2026.csv"
        run.attempts = attempts
        run.lease_owner = owner
        run.lease_expires_at = utcnow() + lease_left
        run.started_at = run.updated_at = utcnow() - timedelta(minutes=20)  # its heartbeat stopped
        session.add(run)
        session.flush()
        return run.id


def stored(kb: KnowledgeBase, run_id: int) -> HoldoutRecord:
    with session_scope(kb.settings.resolved_database_url) as session:
        return session.get(HoldoutRecord, run_id)


def test_a_run_handed_to_the_local_runner_finishes(kb: KnowledgeBase) -> None:
    url = kb.settings.resolved_database_url
    with session_scope(url) as session:
        run_id = start_run(session, get_workspace(session, "acme"), None, ["a_2025.csv"], False).id
    jobs = LocalJobs(kb, recover=False)
    try:
        future = jobs.holdout(run_id)
        assert future is not None
        assert jobs.holdout(run_id) is None  # held already: a second hand-over is refused, not run twice
        future.result(timeout=300)
        assert jobs.holdout(run_id) is None  # ended: nothing to run
    finally:
        jobs.shutdown()
    run = stored(kb, run_id)
    assert (run.status, run.error, run.attempts, run.lease_owner) == ("done", "", 1, "")
    assert run.done == run.total == len(TOPICS) and run.finished_at is not None
    assert [s["source"] for s in run.result["sources"]] == ["a_2025.csv"]
    assert "calibration" not in run.result


@pytest.mark.parametrize(
    ("owner", "lease_left"),
    [
        pytest.param("dead", timedelta(seconds=50), id="a process of this machine that is gone"),
        pytest.param("elsewhere:4242:cafe", timedelta(seconds=-5), id="a lease no one renewed, run out"),
    ],
)
def test_a_run_whose_process_died_is_taken_again_and_finishes(
    kb: KnowledgeBase, owner: str, lease_left: timedelta
) -> None:
    run_id = left_running(kb, dead_owner() if owner == "dead" else owner, attempts=1, lease_left=lease_left)
    held = left_running(kb, "elsewhere:4343:beef", attempts=1, lease_left=timedelta(minutes=5))
    jobs = LocalJobs(kb, recover=False)
    try:
        assert jobs.recovery.sweep_holdouts() == [run_id]  # not the run another live process holds
        jobs.wait(timeout=300)
    finally:
        jobs.shutdown()
    run = stored(kb, run_id)
    assert (run.status, run.error, run.lease_owner) == ("done", "", "")
    assert run.attempts == 2  # the dead process's attempt, and this one
    assert run.done == run.total == len(TOPICS)  # started over: progress counted once, not 2 + 6
    assert [s["source"] for s in run.result["sources"]] == ["b_2026.csv"]
    assert stored(kb, held).status == "running"
    with session_scope(kb.settings.resolved_database_url) as session:  # leave the workspace without it
        session.get(HoldoutRecord, held).status = "failed"


def test_a_run_whose_process_died_every_time_ends_failed_with_the_reason(kb: KnowledgeBase) -> None:
    limit = kb.settings.job_max_attempts
    run_id = left_running(kb, dead_owner(), attempts=limit, lease_left=timedelta(seconds=50))
    jobs = LocalJobs(kb, recover=False)
    try:
        assert jobs.recovery.sweep_holdouts() == [run_id]
        jobs.wait(timeout=60)
        assert jobs.recovery.sweep_holdouts() == []  # ended: nothing left for a sweep
    finally:
        jobs.shutdown()
    run = stored(kb, run_id)
    assert run.status == "failed" and run.finished_at is not None
    assert run.error == f"gave up after {limit} attempts: the process running it stopped each time"
    assert (run.attempts, run.done, run.lease_owner) == (limit, 2, "")  # not run again
    with session_scope(kb.settings.resolved_database_url) as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "holdout.failed")).all()
    assert [e.after for e in events if e.after["run"] == run_id] == [{"run": run_id, "error": run.error}]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    # A low minimum, so the small workspace's own calibration is the one drafting uses.
    yield from workspace_env(tmp_path_factory.mktemp("holdout-calibrate"), calibration_min_samples=10)


def calibration_row(env: Env) -> WorkspaceCalibration | None:
    with session_scope(env.client.app.state.settings.resolved_database_url) as session:
        return session.scalar(select(WorkspaceCalibration))


def test_calibrate_needs_every_sheet_held_out(env: Env) -> None:
    response = env.client.post(
        "/api/workspaces/acme/holdout",
        json={"sources": ["a_2025.csv"], "calibrate": True},
        headers=env.as_("admin"),
    )
    assert response.status_code == 422 and '"calibrate" needs {"all": true}' in response.json()["detail"]
    assert env.client.get("/api/workspaces/acme/holdout", headers=env.as_("view")).json() == []
    assert calibration_row(env) is None


def test_a_run_started_with_calibrate_keeps_the_workspace_calibration(env: Env) -> None:
    started = env.client.post(
        "/api/workspaces/acme/holdout", json={"all": True, "calibrate": True}, headers=env.as_("admin")
    )
    assert started.status_code == 202, started.text
    assert started.json()["calibrate"] is True and started.json()["calibration"] is None
    done = wait_done(env, started.json()["id"])
    assert done["status"] == "done", done["error"]
    assert set(done["result"]) == {"sources", "overall"}  # the documented --json shape, unchanged

    row = calibration_row(env)
    assert row is not None and row.fitted_by == f"holdout run #{done['id']}"
    # Every drafted item with an answer-agreement verdict is a sample (6 questions x 3 sheets at most).
    assert 10 <= row.samples <= 3 * len(TOPICS)
    today = datetime.now(UTC).date().isoformat()
    assert done["calibration"] == {
        "samples": row.samples,
        "fitted_at": today,
        "fitted_by": f"holdout run #{done['id']}",
        "in_use": True,
        "min_samples": 10,
    }
    with session_scope(env.client.app.state.settings.resolved_database_url) as session:
        calibration, source = calibration_for(session, "acme", 10)
        assert calibration is not None and calibration.samples == row.samples
        # A history holds no unanswerable questions: whether anything answers at all is judged as shipped.
        assert calibration.answerable_from == shipped().answerable_from != {}
        assert source == f"workspace 'acme' ({row.samples} drafts, {today})"
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "calibration.stored")).all()
        admin = next(e.user_id for e in session.scalars(select(AuditEvent)) if e.action == "holdout.start")
    assert [(e.user_id, e.after["samples"]) for e in events] == [(admin, row.samples)]

    # The run's page says so too (pages sign in by cookie).
    login = env.client.post("/api/auth/login", json={"email": "view@acme.test", "password": PASSWORD})
    assert login.status_code == 200, login.text
    page = env.client.get(f"/holdout/{done['id']}")
    assert page.status_code == 200 and f"stored: fitted on {row.samples} drafts, {today}" in page.text


REDIS_URL = os.environ.get("KOTAE_TEST_REDIS", "redis://127.0.0.1:6379/0")


def test_a_run_sent_through_the_redis_queue_is_run_by_a_worker(
    kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scaled setup: the API process hands the run to Redis; a dramatiq worker (here in this
    process, on the same database) runs it under its own lease."""
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is not reachable at {REDIS_URL} ({exc}); it runs on this machine and in CI")
    namespace = f"kotae-test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("KOTAE_HOME", str(kb.settings.home))
    monkeypatch.setenv("KOTAE_QUEUE_URL", REDIS_URL)
    monkeypatch.setenv("KOTAE_QUEUE_NAMESPACE", namespace)
    get_settings.cache_clear()
    monkeypatch.setattr(queue, "_kb", None)  # the worker's knowledge base: built from the settings above
    settings = get_settings()
    url = kb.settings.resolved_database_url
    with session_scope(url) as session:
        run_id = start_run(session, get_workspace(session, "acme"), None, ["c_flipped.csv"], False).id
    jobs = QueueJobs(kb.with_settings(settings), recover=False)
    worker = dramatiq.Worker(jobs.actors["holdout"].broker, queues={queue.QUEUE}, worker_threads=1)
    worker.start()
    try:
        jobs.holdout(run_id)
        deadline = time.time() + 300
        while (run := stored(kb, run_id)).status in ("queued", "running"):
            assert time.time() < deadline, "the worker did not finish the run"
            time.sleep(0.2)
    finally:
        worker.stop()
        get_settings.cache_clear()
    assert (run.status, run.error, run.attempts, run.lease_owner) == ("done", "", 1, "")
    assert [s["source"] for s in run.result["sources"]] == ["c_flipped.csv"]


def slow_draft(_body: dict) -> tuple[str, float]:
    """A valid drafting reply after a pause, so a shutdown lands mid-run."""
    return json.dumps({"choice": "Yes", "answer": "We do.", "citations": ["E1"], "confidence": 0.8}), 0.3


def test_a_shutdown_mid_run_leaves_it_for_the_next_runner(kb: KnowledgeBase) -> None:
    url = kb.settings.resolved_database_url
    with OpenAIStub() as stub:
        stub.replies.extend([slow_draft] * 500)
        llm = kb.with_settings(
            kb.settings.model_copy(update={"drafter": "llm", "llm_base_url": stub.base_url, "llm_model": "stub-model"})
        )
        with session_scope(url) as session:
            run_id = start_run(session, get_workspace(session, "acme"), None, ["a_2025.csv", "c_flipped.csv"], False).id
        jobs = LocalJobs(llm, recover=False)
        assert jobs.holdout(run_id) is not None
        deadline = time.time() + 120
        while stored(kb, run_id).done < 1:
            assert time.time() < deadline, "the run did not start"
            time.sleep(0.05)
        jobs.shutdown()  # stops after the question at hand, instead of waiting for the whole run
        run = stored(kb, run_id)
        assert (run.status, run.attempts, run.lease_owner, run.error) == ("running", 1, "", "")
        assert 1 <= run.done < run.total == 2 * len(TOPICS)

        again = LocalJobs(llm, recover=False)  # the restarted server
        try:
            assert again.recovery.sweep_holdouts() == [run_id]
            again.wait(timeout=300)
        finally:
            again.shutdown()
    run = stored(kb, run_id)
    assert (run.status, run.error, run.attempts, run.lease_owner) == ("done", "", 2, "")
    assert run.done == run.total and [s["source"] for s in run.result["sources"]] == ["a_2025.csv", "c_flipped.csv"]


@pytest.mark.slow
def test_the_runs_page_starts_a_calibrating_run(browser, site: str) -> None:  # noqa: ANN001, F811
    page = sign_in(browser, type("Site", (), {"url": site})(), "admin@acme.test", width=1280)
    page.goto(site + "/holdout?ws=acme")
    page.get_by_role("checkbox", name="Calibrate").check()
    page.get_by_role("checkbox", name="a_2025.csv").check()
    page.get_by_role("button", name="Hold out the selected sheets").click()
    assert "hold out every sheet to calibrate" in page.inner_text("#holdout-status")
    assert page.url.endswith("/holdout?ws=acme")  # nothing started
    page.get_by_role("button", name="Hold out every sheet").click()
    page.wait_for_url("**/holdout/*")
    page.wait_for_selector("#holdout-summary", timeout=300_000)
    stored_line = page.inner_text("#run-calibration")
    assert stored_line.startswith("stored: fitted on ") and datetime.now(UTC).date().isoformat() in stored_line
    assert "below the minimum of 60" in stored_line  # two small sheets: drafting keeps Kotae's calibration
