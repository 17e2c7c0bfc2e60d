"""The review service over HTTP: the whole flow, roles, bad input, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from fastapi.testclient import TestClient

from service.accounts.service import create_token, create_user, set_role
from service.api import create_app
from service.db import session_scope
from service.settings import Settings
from tests.conftest import seed
from tests.test_drafting import QUESTIONS, customer_workbook

PASSWORD = "correct horse battery"


class Env:
    def __init__(self, client: TestClient, tokens: dict[str, str]) -> None:
        self.client = client
        self.tokens = tokens

    def as_(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


def make_env(settings: Settings) -> Iterator[Env]:
    tokens = {}
    with session_scope(settings.resolved_database_url) as session:
        for email, role in (("admin@acme.test", "admin"), ("rev@acme.test", "reviewer"), ("view@acme.test", "viewer")):
            user = create_user(session, email, PASSWORD)
            set_role(session, user, "acme", role)
            tokens[email.split("@")[0]] = create_token(session, user, "test")
        outsider = create_user(session, "out@other.test", PASSWORD)
        set_role(session, outsider, "other", "admin")
        tokens["out"] = create_token(session, outsider, "test")
    app = create_app(settings)
    with TestClient(app) as client:
        yield Env(client, tokens)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    # The seed sheets are years old: without a wide staleness window every draft would be flagged.
    yield from make_env(Settings(home=tmp_path / "home", stale_evidence_months=240))


def wait_drafted(env: Env, questionnaire_id: int, who: str = "rev") -> dict:
    deadline = time.time() + 600  # generous: a busy 2-core machine drafts slowly
    while time.time() < deadline:
        q = env.client.get(f"/api/questionnaires/{questionnaire_id}", headers=env.as_(who)).json()
        if q["status"] in ("done", "failed"):
            return q
        time.sleep(0.2)
    raise AssertionError("drafting did not finish")


def ingest(env: Env, *paths: Path, extra: list[tuple[str, bytes]] = ()) -> list[dict]:
    files = [("files", (p.name, p.read_bytes())) for p in paths] + [("files", e) for e in extra]
    response = env.client.post("/api/workspaces/acme/kb/files", files=files, headers=env.as_("admin"))
    assert response.status_code == 200, response.text
    return response.json()


def whole_flow(env: Env) -> None:
    c = env.client
    # Sign-in with a password gives a session for the UI.
    assert c.post("/api/auth/login", json={"email": "rev@acme.test", "password": "wrong password!"}).status_code == 401
    login = c.post("/api/auth/login", json={"email": "admin@acme.test", "password": PASSWORD})
    assert login.status_code == 200 and c.get("/api/me").json()["email"] == "admin@acme.test"
    assert c.post("/api/auth/logout").status_code == 204 and c.get("/api/me").status_code == 401

    results = ingest(env, seed("000"), seed("001"), seed("004"), extra=[("broken.xlsx", b"not a workbook")])
    assert [r["entries"] for r in results[:3]] == [48, 127, 69]
    assert results[3]["error"].startswith("broken.xlsx: not a valid .xlsx workbook")

    upload = c.post(
        "/api/workspaces/acme/questionnaires",
        files={"file": ("customer.xlsx", customer_workbook())},
        headers=env.as_("rev"),
    )
    assert upload.status_code == 202, upload.text
    qid = upload.json()["id"]
    q = wait_drafted(env, qid)
    assert q["status"] == "done" and q["done"] == q["total"] == len(QUESTIONS) and q["failed"] == 0
    assert q["counts"].get("no_evidence", 0) >= 3

    items = {i["question"]: i for i in c.get(f"/api/questionnaires/{qid}/items", headers=env.as_("view")).json()}
    ntp = items["サーバーの時刻はNTP等で同期されていますか。"]
    otp = items["管理者ログインにワンタイムパスワード等の多要素認証を利用できますか。"]
    soc2 = items["SOC2 Type2 報告書を提出できますか。"]
    deletion = items["ご契約終了時、預けたデータはどのように消去されますか。"]
    assert ntp["status"] == "drafted" and ntp["citations"] and ntp["citations"][0]["text"]

    no_version = c.post(f"/api/items/{ntp['id']}/accept", json={}, headers=env.as_("rev"))
    assert no_version.status_code == 422 and "version" in no_version.json()["detail"]
    accepted = c.post(f"/api/items/{ntp['id']}/accept", json={"version": ntp["version"]}, headers=env.as_("rev"))
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    new_text = "管理者ログインでは TOTP 方式の多要素認証を必須にできます。"
    edited = c.post(
        f"/api/items/{otp['id']}/edit",
        json={"version": otp["version"], "choice": "はい", "answer": new_text},
        headers=env.as_("rev"),
    )
    assert edited.status_code == 200 and edited.json()["status"] == "edited"
    # An edit based on the version before: 409 with the current value, nothing lost.
    stale = c.post(
        f"/api/items/{otp['id']}/edit",
        json={"version": otp["version"], "choice": "いいえ", "answer": "old view"},
        headers=env.as_("rev"),
    )
    assert stale.status_code == 409 and stale.json()["current"]["answer"] == new_text
    # Accepting a question without evidence is not a valid transition.
    assert (
        c.post(f"/api/items/{soc2['id']}/accept", json={"version": soc2["version"]}, headers=env.as_("rev")).status_code
        == 409
    )
    assert (
        c.post(
            f"/api/items/{soc2['id']}/needs-expert", json={"version": soc2["version"]}, headers=env.as_("rev")
        ).json()["status"]
        == "needs_expert"
    )
    rejected = c.post(
        f"/api/items/{deletion['id']}/reject", json={"version": deletion["version"]}, headers=env.as_("rev")
    )
    assert rejected.json()["status"] == "rejected"
    assigned = c.post(
        f"/api/items/{soc2['id']}/assign",
        json={"version": soc2["version"] + 1, "assignee": "admin@acme.test"},
        headers=env.as_("rev"),
    )
    assert assigned.status_code == 200 and assigned.json()["assignee"] == "admin@acme.test"
    assert (
        c.post(f"/api/items/{soc2['id']}/comments", json={"text": "法務に確認中"}, headers=env.as_("rev")).status_code
        == 201
    )
    assert [x["text"] for x in c.get(f"/api/items/{soc2['id']}/comments", headers=env.as_("view")).json()] == [
        "法務に確認中"
    ]

    listed = c.get(
        f"/api/questionnaires/{qid}/items", params={"status": "drafted", "min_confidence": 0.5}, headers=env.as_("rev")
    ).json()
    eligible = [i for i in listed if not i["flags"]]  # a flagged draft always waits for a person
    bulk = c.post(f"/api/questionnaires/{qid}/bulk-accept", json={"min_confidence": 0.5}, headers=env.as_("rev"))
    assert bulk.status_code == 200 and bulk.json()["accepted"] == len(eligible) >= 1
    counts = c.get(f"/api/questionnaires/{qid}", headers=env.as_("view")).json()["counts"]
    assert counts["accepted"] == 1 + bulk.json()["accepted"] and counts["edited"] == 1 and counts["rejected"] == 1

    exported = c.get(f"/api/questionnaires/{qid}/export", headers=env.as_("rev"))
    assert exported.status_code == 200 and "customer_answered.xlsx" in exported.headers["content-disposition"]
    ws = openpyxl.load_workbook(io.BytesIO(exported.content))["質問票"]
    row_of = {ws.cell(row=r, column=3).value: r for r in range(5, 15)}
    assert ws.cell(row=row_of[ntp["question"]], column=5).value == ntp["answer"]
    assert ws.cell(row=row_of[otp["question"]], column=5).value == new_text
    assert ws.cell(row=row_of[otp["question"]], column=4).value == "はい"
    assert ws.cell(row=row_of[deletion["question"]], column=5).value is None  # rejected: not exported
    as_json = c.get(f"/api/questionnaires/{qid}/export?format=json", headers=env.as_("rev")).json()
    assert {i["status"] for i in as_json["items"]} <= {"accepted", "edited"}
    as_csv = c.get(f"/api/questionnaires/{qid}/export?format=csv&include=all", headers=env.as_("rev"))
    assert as_csv.content.decode("utf-8-sig").splitlines()[0] == "ref,question,choice,answer,status,confidence,sources"

    # The approved answer now comes back from the knowledge base, with its provenance.
    env.client.app.state.jobs.wait(timeout=60)
    found = c.get(
        "/api/workspaces/acme/kb/entries", params={"q": otp["question"], "limit": 3}, headers=env.as_("view")
    ).json()
    assert found[0]["answer"] == new_text and found[0]["provenance"]["reviewer"] == "rev@acme.test"
    # Accepting it again does not duplicate it; rejecting withdraws it.
    sources = c.get("/api/workspaces/acme/kb/sources", headers=env.as_("view")).json()
    review_source = next(s for s in sources if s["kind"] == "review")
    assert review_source["entries"] == 1 + 1 + bulk.json()["accepted"]

    audit = c.get(f"/api/questionnaires/{qid}/audit", headers=env.as_("view")).json()
    actions = [a["action"] for a in audit]
    for action in (
        "questionnaire.upload",
        "questionnaire.drafted",
        "item.accept",
        "item.edit",
        "item.reject",
        "item.needs_expert",
        "item.assign",
        "item.comment",
        "questionnaire.export",
    ):
        assert action in actions, action
    edit_event = next(a for a in audit if a["action"] == "item.edit")
    assert edit_event["user"] == "rev@acme.test" and edit_event["after"]["answer"] == new_text
    assert edit_event["before"]["status"] == "drafted"


def test_whole_flow_on_sqlite(env: Env) -> None:
    whole_flow(env)


def test_whole_flow_on_postgres(tmp_path: Path, postgres_url: str) -> None:
    for e in make_env(Settings(home=tmp_path / "home", database_url=postgres_url, stale_evidence_months=240)):
        whole_flow(e)


def test_viewer_sees_but_cannot_change(env: Env) -> None:
    c = env.client
    ingest(env, seed("000"))
    qid = c.post(
        "/api/workspaces/acme/questionnaires",
        files={"file": ("q.csv", "No,質問,回答\n1,NTPで時刻同期していますか,\n".encode())},
        headers=env.as_("rev"),
    ).json()["id"]
    wait_drafted(env, qid)
    (item,) = c.get(f"/api/questionnaires/{qid}/items", headers=env.as_("view")).json()
    assert (
        c.post(
            f"/api/items/{item['id']}/accept", json={"version": item["version"]}, headers=env.as_("view")
        ).status_code
        == 403
    )
    assert (
        c.post(
            "/api/workspaces/acme/questionnaires", files={"file": ("q.csv", b"No,Q,A\n")}, headers=env.as_("view")
        ).status_code
        == 403
    )
    assert c.get(f"/api/questionnaires/{qid}/items", headers=env.as_("view")).json()[0]["status"] == item["status"]


def test_bad_uploads_get_clear_errors(env: Env, tmp_path: Path) -> None:
    c = env.client
    too_big = c.app.state.kb.limits.max_file_bytes + 1
    big = c.post(
        "/api/workspaces/acme/questionnaires", files={"file": ("q.csv", b"x" * too_big)}, headers=env.as_("rev")
    )
    assert big.status_code == 413 and "limit" in big.json()["detail"]
    odd = c.post("/api/workspaces/acme/questionnaires", files={"file": ("q.exe", b"MZ")}, headers=env.as_("rev"))
    assert odd.status_code == 415 and "unsupported file type" in odd.json()["detail"]
    broken = c.post(
        "/api/workspaces/acme/questionnaires", files={"file": ("q.xlsx", b"PK not really")}, headers=env.as_("rev")
    )
    assert broken.status_code == 422 and broken.json()["detail"].startswith("q.xlsx: not a valid .xlsx")
    assert c.get("/api/workspaces/acme/questionnaires", headers=env.as_("rev")).json() == []  # nothing stored
    assert c.get("/api/questionnaires/999999", headers=env.as_("rev")).status_code == 404
    assert c.post("/api/items/999999/accept", json={"version": 1}, headers=env.as_("rev")).status_code == 404
    assert c.post("/api/items/1/accept", json={}, headers=env.as_("rev")).status_code == 404  # no item 1 here
    huge = c.get("/api/questionnaires/" + "9" * 21, headers=env.as_("rev"))
    assert huge.status_code == 422 and "questionnaire_id" in huge.json()["detail"]


def test_outsider_gets_nothing_from_any_route(env: Env) -> None:
    c = env.client
    ingest(env, seed("000"))
    qid = c.post(
        "/api/workspaces/acme/questionnaires",
        files={"file": ("secret-q.csv", "No,質問,回答\n1,極秘の質問ですか,\n".encode())},
        headers=env.as_("rev"),
    ).json()["id"]
    wait_drafted(env, qid)
    item_id = c.get(f"/api/questionnaires/{qid}/items", headers=env.as_("rev")).json()[0]["id"]
    values = {
        "workspace": "acme",
        "questionnaire_id": str(qid),
        "item_id": str(item_id),
        "name": "000_78e24bc43780e3f5.txt",
        "token_id": "1",  # the admin's token: not the outsider's to revoke
        "run_id": "1",  # a holdout run and a canonical answer: the workspace is not the outsider's either way
        "canonical_id": "1",
    }
    bodies = {"version": 1, "min_confidence": 0, "text": "x", "email": "out@other.test", "role": "admin"}
    walked = 0
    for path, operations in api_paths(c).items():
        if "{" not in path:
            continue  # routes without a resource are the caller's own (me, tokens, workspaces list)
        url = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)
        for method in (m.upper() for m in operations):
            kwargs: dict = {"headers": env.as_("out")}
            if method in ("POST", "PUT"):
                if path.endswith(("/files", "/questionnaires")) and method == "POST":
                    kwargs["files"] = {("files" if path.endswith("files") else "file"): ("x.csv", b"No,Q,A\n1,q,a\n")}
                else:
                    kwargs["json"] = bodies
            response = c.request(method, url, **kwargs)
            walked += 1
            assert response.status_code in (403, 404), f"{method} {path}: {response.status_code}"
            assert "極秘" not in response.text and "secret-q" not in response.text
    assert walked >= 20
    # The outsider's own workspace list does not include acme.
    assert [w["name"] for w in c.get("/api/workspaces", headers=env.as_("out")).json()] == ["other"]


def api_paths(client: TestClient) -> dict[str, dict]:
    """Every /api route the app serves, from its OpenAPI schema (FastAPI's public view of its routes)."""
    return {p: ops for p, ops in client.app.openapi()["paths"].items() if p.startswith("/api/")}


def test_openapi_describes_every_route(env: Env) -> None:
    spec = env.client.get("/openapi.json").json()
    paths = api_paths(env.client)
    assert sum(len(ops) for ops in paths.values()) >= 26
    error_ref = "#/components/schemas/ErrorOut"
    for path, operations in paths.items():
        for method, operation in operations.items():
            # Every route documents the one error shape for the errors it can give.
            for code in ("401", "404", "409", "422"):
                schema = operation["responses"][code]["content"]["application/json"]["schema"]
                assert schema == {"$ref": error_ref}, f"{method} {path} {code}: {schema}"
    schemas = spec["components"]["schemas"]
    # Changes name the version they are based on, and a stale one's 409 carries the current item.
    assert "version" in schemas["VersionIn"]["required"] and "version" in schemas["EditIn"]["required"]
    assert "current" in schemas["ErrorOut"]["properties"]
    assert env.client.get("/docs").status_code == 200
