"""Holdout evals over HTTP: an admin starts one as a background run, anyone in the workspace follows
it to the documented result; audited; viewers cannot start one; bad input is a 422 naming it. With an
LLM configured, each drafted item also gets the LLM judge's verdict (through the local HTTP stub).
Runs go to the app's job queue (`Jobs.holdout`); crash recovery and calibrate: tests/test_holdout_jobs.py."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from service.audit import AuditEvent
from service.db import session_scope
from service.evaluation.models import HoldoutRecord
from service.knowledge_base import KnowledgeBase, get_workspace
from service.knowledge_base.models import utcnow
from service.settings import Settings
from tests.conftest import ingest_all
from tests.openai_stub import OpenAIStub, prompt_text
from tests.test_api import Env, make_env
from tests.test_holdout import TOPICS, sheet

ITEM_KEYS = {"ref", "question", "real_choice", "real_answer", "status", "choice", "answer", "confidence", "flags"}
SUMMARY_KEYS = {"source", "questions", "drafted", "choice_agreement", "answer_agreement", "reliability"}


def workspace_env(home: Path, **settings: object) -> Iterator[Env]:
    """Three small sheets in workspace 'acme' (two alike, one with every Yes/No flipped), and its members."""
    folder = home / "sheets"
    folder.mkdir(parents=True)
    (folder / "a_2025.csv").write_text(sheet(TOPICS), encoding="utf-8")
    (folder / "b_2026.csv").write_text(sheet(TOPICS), encoding="utf-8")
    flipped = [(q, "No" if c == "Yes" else "Yes", a) for q, c, a in TOPICS]
    (folder / "c_flipped.csv").write_text(sheet(flipped), encoding="utf-8")
    config = Settings(home=home / "home", stale_evidence_months=1200, **settings)
    ingest_all(KnowledgeBase(config), "acme", sorted(folder.iterdir()))
    yield from make_env(config)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    yield from workspace_env(tmp_path_factory.mktemp("holdout-api"))


def wait_done(env: Env, run_id: int, who: str = "view") -> dict:
    deadline = time.time() + 300
    seen = []
    while time.time() < deadline:
        response = env.client.get(f"/api/workspaces/acme/holdout/{run_id}", headers=env.as_(who))
        assert response.status_code == 200, response.text
        run = response.json()
        seen.append(run["done"])
        if run["status"] in ("done", "failed"):
            assert seen == sorted(seen), "progress never goes back"
            return run
        time.sleep(0.2)
    raise AssertionError("the holdout run did not finish")


def test_admin_starts_a_run_and_anyone_in_the_workspace_follows_it_to_the_result(env: Env) -> None:
    started = env.client.post(
        "/api/workspaces/acme/holdout", json={"sources": ["a_2025.csv"]}, headers=env.as_("admin")
    )
    assert started.status_code == 202, started.text
    run = started.json()
    assert run["status"] in ("queued", "running") and run["total"] == len(TOPICS) and run["sources"] == ["a_2025.csv"]
    assert run["started_by"] == "admin@acme.test" and run["result"] is None

    done = wait_done(env, run["id"])
    assert done["status"] == "done", done["error"]
    assert done["done"] == done["total"] == len(TOPICS) and done["finished_at"]
    result = done["result"]
    assert set(result) == {"sources", "overall"}
    (source,) = result["sources"]
    assert set(source) >= SUMMARY_KEYS and source["source"] == "a_2025.csv" and source["questions"] == len(TOPICS)
    assert [set(b) for b in source["reliability"]] == [{"band", "count", "agreement"}] * 5
    assert len(source["items"]) == len(TOPICS) and all(set(i) >= ITEM_KEYS for i in source["items"])
    assert {i["real_answer"] for i in source["items"]} == {a for _, _, a in TOPICS}
    assert not any(c.startswith("a_2025.csv") for i in source["items"] for c in i["citations"])
    # No LLM configured: no judge, said as null rather than a made-up agreement.
    assert result["overall"]["judge_agreement"] is None and all(i["judge"] is None for i in source["items"])
    assert done["overall"] == result["overall"] and "items" not in result["overall"]

    listed = env.client.get("/api/workspaces/acme/holdout", headers=env.as_("view")).json()
    assert listed[0]["id"] == run["id"] and listed[0]["result"] is None and listed[0]["overall"]["questions"] == 6

    with session_scope(env.client.app.state.settings.resolved_database_url) as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action.like("holdout.%"))).all()
        mine = [(e.action, e.user_id is not None) for e in events if e.after["run"] == run["id"]]
    assert mine == [("holdout.start", True), ("holdout.finished", False)]


def test_who_may_start_and_bad_input(env: Env) -> None:
    post = env.client.post
    assert post("/api/workspaces/acme/holdout", json={"all": True}, headers=env.as_("view")).status_code == 403
    assert post("/api/workspaces/acme/holdout", json={"all": True}, headers=env.as_("rev")).status_code == 403
    assert post("/api/workspaces/acme/holdout", json={"all": True}, headers=env.as_("out")).status_code == 404
    assert env.client.get("/api/workspaces/acme/holdout", headers=env.as_("out")).status_code == 404
    unknown = post("/api/workspaces/acme/holdout", json={"sources": ["nope.xlsx"]}, headers=env.as_("admin"))
    assert unknown.status_code == 422 and "nope.xlsx" in unknown.json()["detail"]
    both = post("/api/workspaces/acme/holdout", json={"sources": ["a_2025.csv"], "all": True}, headers=env.as_("admin"))
    assert both.status_code == 422 and "either" in both.json()["detail"]
    assert post("/api/workspaces/acme/holdout", json={}, headers=env.as_("admin")).status_code == 422
    missing = env.client.get("/api/workspaces/acme/holdout/999999", headers=env.as_("view"))
    assert missing.status_code == 404 and "999999" in missing.json()["detail"]


def test_one_run_at_a_time_and_a_run_no_process_takes_is_replaced(env: Env) -> None:
    # A run handed to a Redis queue that no worker serves: no process holds it, nothing moved for an hour.
    # (A run whose process died is taken again by the recovery sweep instead: tests/test_holdout_jobs.py.)
    url = env.client.app.state.settings.resolved_database_url
    with session_scope(url) as session:
        workspace = get_workspace(session, "acme")
        dead = HoldoutRecord(workspace_id=workspace.id, status="queued", sources=["a_2025.csv"], total=6)
        dead.updated_at = utcnow() - timedelta(hours=1)
        dead.lease_owner, dead.lease_expires_at = "queue", utcnow() + timedelta(minutes=10)
        session.add(dead)
        session.flush()
        dead_id = dead.id
    shown = env.client.get(f"/api/workspaces/acme/holdout/{dead_id}", headers=env.as_("view")).json()
    assert shown["status"] == "stalled"

    started = env.client.post("/api/workspaces/acme/holdout", json={"all": True}, headers=env.as_("admin"))
    assert started.status_code == 202, started.text
    assert started.json()["sources"] == ["a_2025.csv", "b_2026.csv", "c_flipped.csv"] and started.json()["all"]
    again = env.client.post("/api/workspaces/acme/holdout", json={"all": True}, headers=env.as_("admin"))
    assert again.status_code == 409 and f"run {started.json()['id']}" in again.json()["detail"]
    replaced = env.client.get(f"/api/workspaces/acme/holdout/{dead_id}", headers=env.as_("view")).json()
    assert replaced["status"] == "failed" and "stalled" in replaced["error"]
    done = wait_done(env, started.json()["id"])
    assert done["status"] == "done" and done["done"] == done["total"] == 3 * len(TOPICS)
    assert done["attempts"] == 1 and done["calibrate"] is False and done["calibration"] is None
    assert [s["source"] for s in done["result"]["sources"]] == started.json()["sources"]


def judge_reply(body: dict) -> str:
    """The judge's scripted word: disagree on data location, garbage on shared accounts, else agree."""
    text = prompt_text(body)
    if "shared user accounts" in text:
        return "I think they agree."  # no JSON: asked again, then the item stays unjudged, counted
    if "outside Japan" in text:
        return '{"verdict": "disagree", "reason": "the regions differ"}'
    return '{"verdict": "agree", "reason": "same facts"}'


def test_the_llm_judge_gives_each_drafted_item_a_verdict(tmp_path: Path) -> None:
    with OpenAIStub() as stub:
        stub.replies = [judge_reply] * 100
        for env in workspace_env(tmp_path, drafter="llm", llm_base_url=stub.base_url, llm_api_key="test"):
            started = env.client.post(
                "/api/workspaces/acme/holdout", json={"sources": ["b_2026.csv"]}, headers=env.as_("admin")
            )
            assert started.status_code == 202, started.text
            done = wait_done(env, started.json()["id"])
        assert done["status"] == "done", done["error"]
        items = done["result"]["sources"][0]["items"]
        drafted = [i for i in items if i["status"] != "no_evidence"]
        assert len(drafted) == len(TOPICS) and all(i["judge"] is None for i in items if i["status"] == "no_evidence")
        verdicts = {i["question"]: i["judge"]["verdict"] for i in drafted}
        for question, verdict in verdicts.items():
            expected = {"shared user": None, "outside Japan": "disagree"}
            assert verdict == next((v for k, v in expected.items() if k in question), "agree"), question
        # The judge read the real answer and the draft, with the question.
        judged = [prompt_text(r) for r in stub.requests]
        assert any("Backups are taken daily" in t and "<draft>" in t for t in judged)
        overall = done["result"]["overall"]
        agree = sum(v == "agree" for v in verdicts.values())
        failed = sum(v is None for v in verdicts.values())
        assert overall["judge_verdicts"]["failed"] == failed == overall["judge_failures"] == 1
        assert overall["judge_agreement"] == round(agree / (len(verdicts) - failed), 4)
