"""The reviewer's desk over HTTP: one load and a digest to poll, why a draft is as it is, filters,
comments that mention members, the due date, bulk accept with preview and undo, the export summary."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from datetime import timedelta

import openpyxl
import pytest
from fastapi.testclient import TestClient

from service.accounts.service import create_token, create_user, set_role, user_by_email
from service.api import create_app
from service.db import session_scope
from service.knowledge_base import KnowledgeBase
from service.review import BulkBatch
from service.settings import Settings
from tests.conftest import ingest_all, seed
from tests.test_drafting import customer_workbook

PASSWORD = "correct horse battery"
NTP = "サーバーの時刻はNTP等で同期されていますか。"
TLS = "Is customer data encrypted in transit (e.g. TLS)?"


class Desk:
    def __init__(self, client: TestClient, tokens: dict[str, str], url: str) -> None:
        self.client = client
        self.tokens = tokens
        self.url = url

    def get(self, path: str, who: str = "rev", **kwargs: object) -> object:
        response = self.client.get(path, headers={"Authorization": f"Bearer {self.tokens[who]}"}, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()

    def send(self, method: str, path: str, who: str = "rev", **kwargs: object):  # noqa: ANN201
        return self.client.request(method, path, headers={"Authorization": f"Bearer {self.tokens[who]}"}, **kwargs)

    def upload(self, name: str = "customer.xlsx", data: bytes | None = None) -> int:
        response = self.send(
            "POST", "/api/workspaces/acme/questionnaires", files={"file": (name, data or customer_workbook())}
        )
        assert response.status_code == 202, response.text
        qid = response.json()["id"]
        deadline = time.time() + 300
        while self.get(f"/api/questionnaires/{qid}")["status"] not in ("done", "failed"):
            assert time.time() < deadline, "drafting did not finish"
            time.sleep(0.2)
        return qid

    def items(self, qid: int, who: str = "rev", **filters: str) -> list[dict]:
        return self.get(f"/api/questionnaires/{qid}/items", who, params=filters)


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    # Evidence never goes stale here: bulk accept, which skips flagged drafts, has drafts to take.
    settings = Settings(home=tmp_path_factory.mktemp("desk"), stale_evidence_months=1200, calibration="off")
    ingest_all(KnowledgeBase(settings), "acme", [seed("000")])
    tokens = {}
    with session_scope(settings.resolved_database_url) as session:
        for email, role in (("rev@acme.test", "reviewer"), ("kim@acme.test", "reviewer"), ("view@acme.test", "viewer")):
            user = create_user(session, email, PASSWORD)
            set_role(session, user, "acme", role)
            tokens[email.split("@")[0]] = create_token(session, user, "test")
        outsider = create_user(session, "out@other.test", PASSWORD)
        set_role(session, outsider, "other", "admin")
    with TestClient(create_app(settings)) as client:
        yield Desk(client, tokens, settings.resolved_database_url)


@pytest.fixture(scope="module")
def qid(desk: Desk) -> int:
    return desk.upload()


def by_question(items: list[dict], question: str) -> dict:
    return next(i for i in items if i["question"] == question)


def taught(desk: Desk) -> set[int]:
    """The items whose approved answers the knowledge base holds."""
    entries = desk.get("/api/workspaces/acme/kb/entries", params={"limit": 500})
    return {e["provenance"]["item_id"] for e in entries if e["provenance"]}


def test_bulk_accept_previews_confirms_the_previewed_and_undoes(desk: Desk) -> None:
    # First in the module: no other questionnaire has taught the knowledge base these answers yet
    # (an answer the knowledge base holds already is not learned twice).
    qid = desk.upload("bulk.xlsx")
    preview = desk.get(f"/api/questionnaires/{qid}/bulk-accept/preview", params={"min_confidence": 0.3})
    assert preview["count"] == len(preview["items"]) >= 3
    assert all(not i["flags"] for i in preview["items"]) and all(i["flags"] for i in preview["flagged"])
    assert preview["flagged"], "the English questions drafted from Japanese evidence are flagged"
    drafted = {i["id"] for i in desk.items(qid, status="drafted")}
    assert {i["id"] for i in preview["items"] + preview["flagged"]} <= drafted

    # Someone edits one previewed item before the confirm: the bulk accept leaves it alone.
    first, *rest = preview["items"]
    edit = desk.send(
        "POST", f"/api/items/{first['id']}/edit", "kim", json={"version": first["version"], "answer": "自分の回答"}
    )
    assert edit.status_code == 200
    seen = [{"id": i["id"], "version": i["version"]} for i in preview["items"]]
    bulk = desk.send("POST", f"/api/questionnaires/{qid}/bulk-accept", json={"min_confidence": 0.3, "items": seen})
    assert bulk.status_code == 200, bulk.text
    result = bulk.json()
    assert result["accepted"] == len(rest) and set(result["item_ids"]) == {i["id"] for i in rest}
    assert result["batch_id"] and result["undo_until"]
    assert taught(desk) == {first["id"]} | set(result["item_ids"])  # approvals teach the knowledge base

    # One accepted item is changed after the bulk accept: undo keeps it as it is.
    changed = desk.get(f"/api/items/{rest[0]['id']}")
    desk.send("POST", f"/api/items/{changed['id']}/reject", "kim", json={"version": changed["version"]})
    undo = desk.send("POST", f"/api/questionnaires/{qid}/bulk-accept/undo", json={"batch_id": result["batch_id"]})
    assert undo.status_code == 200, undo.text
    assert undo.json() == {"restored": [i["id"] for i in rest[1:]], "kept": [rest[0]["id"]]}
    statuses = {i["id"]: i["status"] for i in desk.items(qid)}
    assert [statuses[i["id"]] for i in rest[1:]] == ["drafted"] * len(rest[1:])
    assert statuses[first["id"]] == "edited" and statuses[rest[0]["id"]] == "rejected"
    assert taught(desk) == {first["id"]}  # what the batch taught is gone (the rejected one unlearned itself)
    actions = [e["action"] for e in desk.get(f"/api/questionnaires/{qid}/audit")]
    assert actions.count("item.undo_accept") == len(rest) - 1 and actions[-1] == "questionnaire.bulk_undo"

    # Once only; a viewer cannot; another questionnaire's batch is not found.
    again = desk.send("POST", f"/api/questionnaires/{qid}/bulk-accept/undo", json={"batch_id": result["batch_id"]})
    assert again.status_code == 409 and "already" in again.json()["detail"]
    assert (
        desk.send("POST", f"/api/questionnaires/{qid}/bulk-accept/undo", "view", json={"batch_id": 1}).status_code
        == 403
    )
    assert desk.send("POST", f"/api/questionnaires/{qid}/bulk-accept/undo", json={"batch_id": 10**9}).status_code == 404

    # Too late: a batch older than the undo window stays accepted.
    late = desk.send("POST", f"/api/questionnaires/{qid}/bulk-accept", json={"min_confidence": 0.3}).json()
    assert late["accepted"] == len(rest) - 1
    with session_scope(desk.url) as session:
        batch = session.get(BulkBatch, late["batch_id"])
        batch.created_at -= timedelta(minutes=11)
    expired = desk.send("POST", f"/api/questionnaires/{qid}/bulk-accept/undo", json={"batch_id": late["batch_id"]})
    assert expired.status_code == 409 and "no longer" in expired.json()["detail"]
    assert all(statuses == "accepted" for statuses in (desk.get(f"/api/items/{i}")["status"] for i in late["item_ids"]))


def test_desk_loads_everything_and_the_digest_shows_what_changed(desk: Desk, qid: int) -> None:
    board = desk.get(f"/api/questionnaires/{qid}/desk")
    assert board["me"] == "rev@acme.test" and board["can_review"] is True
    assert board["members"] == ["kim@acme.test", "rev@acme.test", "view@acme.test"]
    assert len(board["items"]) == 10 and [i["position"] for i in board["items"]] == list(range(10))
    assert board["sections"][:2] == ["データ保護", "認証"]  # the sheet's category column, in order
    assert {i["band"] for i in board["items"]} <= {"high", "medium", "low", "none"}
    progress = board["progress"]
    assert progress["total"] == 10 and progress["reviewed"] == 0 and progress["share"] == 0

    before = {i: v for i, v, _ in desk.get(f"/api/questionnaires/{qid}/desk/digest")["items"]}
    ntp = by_question(board["items"], NTP)
    assert desk.send("POST", f"/api/items/{ntp['id']}/accept", json={"version": ntp["version"]}).status_code == 200
    digest = desk.get(f"/api/questionnaires/{qid}/desk/digest")
    after = {i: v for i, v, _ in digest["items"]}
    assert [i for i in after if after[i] != before[i]] == [ntp["id"]]
    assert digest["progress"]["reviewed"] == 1 and digest["progress"]["counts"]["accepted"] == 1
    changed = desk.get(f"/api/questionnaires/{qid}/desk/items", params={"ids": f"{ntp['id']},999999"})
    assert [(i["id"], i["status"], i["updated_by"]) for i in changed] == [(ntp["id"], "accepted", "rev@acme.test")]
    assert desk.send("GET", f"/api/questionnaires/{qid}/desk/items", params={"ids": "1;drop"}).status_code == 422


def test_why_names_each_citation_with_its_date_and_matched_words(desk: Desk, qid: int) -> None:
    items = desk.items(qid)
    ntp = by_question(items, NTP)
    why = desk.get(f"/api/items/{ntp['id']}/why")
    assert why["band"] in ("high", "medium", "low") and why["citations"]
    cited = why["citations"][0]
    assert cited["source"].startswith("000_") and cited["locator"] == "No.27" and cited["date"] == "2019-10-03"
    matched = [cited["text"][a:b] for a, b in cited["spans"]]
    assert "時刻" in "".join(matched) and all(m.strip() for m in matched)
    # An English question drafted from Japanese evidence says so, in words.
    tls = by_question(items, TLS)
    flags = {f["flag"]: f["text"] for f in desk.get(f"/api/items/{tls['id']}/why")["flags"]}
    assert flags["needs_translation"] == "answer is Japanese evidence: translate it into English"


def test_filters_assigned_to_me_status_flag_band_and_section(desk: Desk, qid: int) -> None:
    items = desk.items(qid)
    target = items[2]
    assigned = desk.send(
        "POST", f"/api/items/{target['id']}/assign", json={"version": target["version"], "assignee": "kim@acme.test"}
    )
    assert assigned.status_code == 200
    assert [i["id"] for i in desk.items(qid, "kim", assigned="me")] == [target["id"]]
    assert desk.items(qid, "rev", assigned="me") == []
    assert [i["id"] for i in desk.items(qid, "view", assigned="kim@acme.test")] == [target["id"]]
    assert desk.items(qid, assigned="nobody@acme.test") == []
    flagged = desk.items(qid, flag="needs_translation")
    assert flagged and all("needs_translation" in i["flags"] for i in flagged)
    board = {i["id"]: i for i in desk.get(f"/api/questionnaires/{qid}/desk")["items"]}
    for band in ("high", "medium", "low", "none"):
        assert {i["id"] for i in desk.items(qid, band=band)} == {i for i, x in board.items() if x["band"] == band}
    assert [i["question"] for i in desk.items(qid, section="Encryption")] == [TLS]
    open_ = desk.items(qid, status="open")
    assert open_ and {i["status"] for i in open_} <= {"drafted", "no_evidence", "failed"}
    assert desk.send("GET", f"/api/questionnaires/{qid}/items", params={"band": "purple"}).status_code == 422


def test_comments_mention_members_and_only_members(desk: Desk, qid: int) -> None:
    item = desk.items(qid)[3]
    text = "@kim 根拠が古いので確認をお願いします (cc @view@acme.test, @out@other.test)"
    posted = desk.send("POST", f"/api/items/{item['id']}/comments", json={"text": text})
    assert posted.status_code == 201, posted.text
    assert posted.json()["mentions"] == ["kim@acme.test", "view@acme.test"]  # the outsider is no member
    thread = desk.get(f"/api/items/{item['id']}/comments", "view")
    assert [(c["user"], c["text"], c["mentions"]) for c in thread] == [
        ("rev@acme.test", text, ["kim@acme.test", "view@acme.test"])
    ]
    assert [i["id"] for i in desk.items(qid, "kim", mentions="me")] == [item["id"]]
    assert desk.items(qid, "rev", mentions="me") == []
    board = {i["id"]: i for i in desk.get(f"/api/questionnaires/{qid}/desk", "kim")["items"]}
    assert board[item["id"]]["comments"] == 1 and board[item["id"]]["mentions_me"] is True
    digest = {i: n for i, _, n in desk.get(f"/api/questionnaires/{qid}/desk/digest")["items"]}
    assert digest[item["id"]] == 1
    assert desk.send("POST", f"/api/items/{item['id']}/comments", "view", json={"text": "x"}).status_code == 403


def test_due_date_is_set_by_reviewers_cleared_and_audited(desk: Desk, qid: int) -> None:
    path = f"/api/questionnaires/{qid}/due-date"
    assert desk.send("PUT", path, json={"due_date": "2026-12-24"}).json() == {"due_date": "2026-12-24"}
    assert desk.get(f"/api/questionnaires/{qid}/desk", "view")["due_date"] == "2026-12-24"
    assert desk.send("PUT", path, "view", json={"due_date": None}).status_code == 403
    assert desk.send("PUT", path, json={"due_date": "next week"}).status_code == 422
    assert desk.send("PUT", path, json={"due_date": None}).json() == {"due_date": None}
    events = [e for e in desk.get(f"/api/questionnaires/{qid}/audit") if e["action"] == "questionnaire.due_date"]
    assert [(e["before"], e["after"]) for e in events] == [
        ({"due_date": None}, {"due_date": "2026-12-24"}),
        ({"due_date": "2026-12-24"}, {"due_date": None}),
    ]


def test_export_says_how_many_rows_are_blank_and_writes_answers_only(desk: Desk, qid: int) -> None:
    summary = desk.get(f"/api/questionnaires/{qid}/export/summary")
    approved = [i for i in desk.items(qid) if i["status"] in ("accepted", "edited")]
    assert summary["approved"] == len(approved) >= 1 and summary["blank"] == 10 - len(approved)
    assert summary["unapproved"] == 10 - len(approved)
    response = desk.send("GET", f"/api/questionnaires/{qid}/export")
    assert response.status_code == 200
    assert response.headers["x-exported-rows"] == str(len(approved))
    assert response.headers["x-blank-rows"] == str(summary["blank"])
    ws = openpyxl.load_workbook(io.BytesIO(response.content))["質問票"]
    cells = [c for row in ws.iter_rows() for c in row]
    assert not any(c.comment for c in cells)
    assert not any(isinstance(c.value, str) and "000_" in c.value for c in cells)
    cited = desk.send("GET", f"/api/questionnaires/{qid}/export", params={"cite": "true"})
    notes = [c.value for row in openpyxl.load_workbook(io.BytesIO(cited.content))["質問票"].iter_rows() for c in row]
    assert any(isinstance(v, str) and "000_" in v for v in notes)  # asked for: the notes column names the sheets


def test_outsiders_and_viewers_are_kept_out_of_the_desk(desk: Desk, qid: int) -> None:
    item = desk.items(qid)[0]
    with session_scope(desk.url) as session:
        desk.tokens["out"] = create_token(session, user_by_email(session, "out@other.test"), "test")
    for path in (
        f"/api/questionnaires/{qid}/desk",
        f"/api/questionnaires/{qid}/desk/digest",
        f"/api/items/{item['id']}/why",
    ):
        assert desk.send("GET", path, "out").status_code == 404
        assert desk.send("GET", path, "view").status_code == 200
    preview = f"/api/questionnaires/{qid}/bulk-accept/preview"
    assert desk.send("GET", preview, "view", params={"min_confidence": 0.5}).status_code == 403
    assert desk.send("GET", f"/api/questionnaires/{qid}/export/summary", "view").status_code == 403
    assert desk.send("GET", "/api/workspaces/acme/audit", "rev").status_code == 403
