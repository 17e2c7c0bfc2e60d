"""Leftovers of the hardening review, each reproduced and kept fixed: a workbook with two sheets of the
same name is refused when read (its answers would be written into the wrong sheet); booleans in request
bodies are strict; a questionnaire's audit log says which questionnaire each event belongs to; every
datetime the API returns is UTC with its zone; /api/me says whether the user is an instance admin."""

from __future__ import annotations

import io
import re
import types
import typing
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from pydantic import BaseModel, ValidationError
from pydantic.types import Strict
from sqlalchemy import text

import service.api.app  # noqa: F401 - every router, so every request and response model, is defined
from service.accounts import user_by_email
from service.api.routers.evaluation import HoldoutIn
from service.api.routers.library import ReviewIn
from service.api.schemas import RequestBody, as_utc
from service.db import get_engine, session_scope
from service.ingest import IngestError, parse_bytes
from service.knowledge_base import KnowledgeBase, get_workspace, list_sources
from service.questionnaires import create_questionnaire, read_questionnaire
from service.settings import Settings
from tests.test_api import Env, make_env

CSV_SHEET = "No,Question,Answer\n1,Do you encrypt data at rest?,Yes\n2,Do you run backups?,Yes\n"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    # The hashing embeddings: these tests store and read, they never search by meaning.
    yield from make_env(Settings(home=tmp_path / "home", embedding_backend="hashing"))


def _questions(ws: openpyxl.worksheet.worksheet.Worksheet, topic: str) -> None:
    ws.append(["No.", "質問", "回答", "備考"])
    for n in range(1, 4):
        ws.append([n, f"{topic}: question {n} about access control?", None, None])


def duplicate_sheets_workbook(first: str, second: str, *, hidden: bool = False) -> bytes:
    """An openpyxl workbook of two question sheets, its workbook.xml then renamed so that the second sheet
    is called `second` (Excel itself never saves such a file; a hand-made one can carry it)."""
    wb = openpyxl.Workbook()
    _questions(wb.active, "first")
    wb.active.title = first
    other = wb.create_sheet("PLACEHOLDER")
    _questions(other, "second")
    if hidden:
        other.sheet_state = "hidden"
    source = io.BytesIO()
    wb.save(source)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(source.getvalue())) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for member in zin.infolist():
            data = zin.read(member)
            if member.filename == "xl/workbook.xml":
                assert b'name="PLACEHOLDER"' in data
                data = data.replace(b'name="PLACEHOLDER"', f'name="{second}"'.encode())
            zout.writestr(member, data)
    return out.getvalue()


# --- 1. two sheets of one name ---


@pytest.mark.parametrize(
    ("first", "second", "hidden"),
    [("質問票", "質問票", False), ("Security", "SECURITY", False), ("Ärzte", "ärzte", False), ("Q", "q", True)],
)
def test_a_workbook_with_two_sheets_of_one_name_is_refused_naming_file_and_sheet(
    first: str, second: str, hidden: bool
) -> None:
    data = duplicate_sheets_workbook(first, second, hidden=hidden)
    for read in (parse_bytes, read_questionnaire):
        with pytest.raises(IngestError) as refused:
            read("customer.xlsx", data)
        message = str(refused.value)
        assert message.startswith("customer.xlsx") and f"'{second}'" in message and "two sheets" in message
    # Distinct names are read as before: both sheets' questions.
    fine = parse_bytes("customer.xlsx", duplicate_sheets_workbook("Security", "Privacy"))
    assert {i.sheet for i in fine.items} == {"Security", "Privacy"} and len(fine.items) == 6


def test_a_duplicate_sheet_name_is_a_422_and_nothing_is_stored(env: Env) -> None:
    data = duplicate_sheets_workbook("Security", "security")
    upload = env.client.post(
        "/api/workspaces/acme/questionnaires",
        files={"file": ("customer.xlsx", data)},
        headers=env.as_("rev"),
    )
    assert upload.status_code == 422, upload.text
    detail = upload.json()["detail"]
    assert "customer.xlsx" in detail and "'Security' and 'security'" in detail
    assert env.client.get("/api/workspaces/acme/questionnaires", headers=env.as_("rev")).json() == []

    files = [("files", ("past.xlsx", data)), ("files", ("past.csv", CSV_SHEET.encode()))]
    results = env.client.post("/api/workspaces/acme/kb/files", files=files, headers=env.as_("admin")).json()
    refused, stored = results
    assert refused["stored"] is False and refused["status"] == "failed"
    assert "past.xlsx" in refused["error"] and "'security'" in refused["error"]
    assert stored["stored"] is True  # the other file of the batch stands on its own
    sources = env.client.get("/api/workspaces/acme/kb/sources", headers=env.as_("admin")).json()
    assert [s["name"] for s in sources] == ["past.csv"]


def test_the_knowledge_base_refuses_it_too(tmp_path: Path) -> None:
    kb = KnowledgeBase(Settings(home=tmp_path / "home", embedding_backend="hashing"))
    url = kb.settings.resolved_database_url
    with session_scope(url) as session:
        kb.ingest_bytes(session, "acme", "past.csv", CSV_SHEET.encode())
    refused = duplicate_sheets_workbook("Sheet", "SHEET")
    with (
        pytest.raises(IngestError, match="old.xlsx: two sheets are named 'Sheet' and 'SHEET'"),
        session_scope(url) as db,
    ):
        kb.ingest_bytes(db, "acme", "old.xlsx", refused)
    with session_scope(url) as session:
        assert [s.name for s, _ in list_sources(session, get_workspace(session, "acme"))] == ["past.csv"]


# --- 2. strict booleans ---


def _is_strict_bool(annotation: object, metadata: list[object]) -> bool:
    return annotation is bool and any(isinstance(m, Strict) and m.strict for m in metadata)


def _request_bodies(cls: type[RequestBody] = RequestBody) -> Iterator[type[RequestBody]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _request_bodies(sub)


def test_every_boolean_of_a_request_body_is_strict() -> None:
    lax = [
        f"{model.__module__}.{model.__name__}.{name}"
        for model in _request_bodies()
        for name, field in model.model_fields.items()
        if bool in (field.annotation, *typing.get_args(field.annotation))
        and not (model.model_config.get("strict") or _is_strict_bool(field.annotation, field.metadata))
    ]
    assert not lax, f"lax booleans in request bodies: {lax}"
    found = {(m.__name__, n) for m in _request_bodies() for n, f in m.model_fields.items() if f.annotation is bool}
    assert {("HoldoutIn", "all_sources"), ("HoldoutIn", "calibrate"), ("ReviewIn", "reviewed")} <= found


@pytest.mark.parametrize("value", ["yes", "1", 1, "true", 0, None])
def test_a_boolean_must_be_a_json_boolean(value: object) -> None:
    for model, body, field in (
        (HoldoutIn, {"all": True, "calibrate": value}, "calibrate"),
        (HoldoutIn, {"all": value}, "all"),
        (ReviewIn, {"reviewed": value}, "reviewed"),
    ):
        with pytest.raises(ValidationError) as refused:
            model.model_validate(body)
        assert refused.value.errors()[0]["loc"] == (field,)
    assert HoldoutIn.model_validate({"all": True, "calibrate": False}).calibrate is False
    assert ReviewIn.model_validate({"reviewed": True}).reviewed is True


def test_lax_booleans_are_a_422_over_http(env: Env) -> None:
    post, admin = env.client.post, env.as_("admin")
    for body in ({"all": True, "calibrate": "yes"}, {"all": "1"}, {"all": 1}):
        refused = post("/api/workspaces/acme/holdout", json=body, headers=admin)
        assert refused.status_code == 422 and "valid boolean" in refused.json()["detail"], (body, refused.text)
    # JSON true passes validation and reaches the run itself (which has nothing to hold out here).
    real = post("/api/workspaces/acme/holdout", json={"all": True, "calibrate": True}, headers=admin)
    assert real.status_code == 422 and "no source to hold out" in real.json()["detail"]

    patch = env.client.patch
    refused = patch("/api/workspaces/acme/library/canonical/1", json={"reviewed": "yes"}, headers=admin)
    assert refused.status_code == 422 and "body.reviewed" in refused.json()["detail"]
    assert patch("/api/workspaces/acme/library/canonical/1", json={"reviewed": True}, headers=admin).status_code == 404


# --- 3. and 4. the audit log's questionnaire, and timezone-aware datetimes ---

ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def _datetimes(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(where, text) of every ISO datetime string in a JSON body."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _datetimes(inner, f"{path}.{key}")
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _datetimes(inner, f"{path}[{index}]")
    elif isinstance(value, str) and ISO_DATETIME.match(value):
        yield path, value


def _stored_questionnaire(env: Env, settings: Settings) -> int:
    """A questionnaire stored by the core (as an upload stores it, without starting its drafting) and a
    knowledge-base source: both get timestamps from the database."""
    kb = KnowledgeBase(settings)
    with session_scope(settings.resolved_database_url) as session:
        kb.ingest_bytes(session, "acme", "past.csv", CSV_SHEET.encode())
        ws = get_workspace(session, "acme")
        data = duplicate_sheets_workbook("Security", "Privacy")
        q = create_questionnaire(session, ws, "customer.xlsx", data, user_by_email(session, "rev@acme.test"))
        return q.id


def test_audit_events_say_their_questionnaire(env: Env, tmp_path: Path) -> None:
    qid = _stored_questionnaire(env, Settings(home=tmp_path / "home", embedding_backend="hashing"))
    rev = env.as_("rev")
    assert env.client.put(
        f"/api/questionnaires/{qid}/due-date", json={"due_date": "2027-01-31"}, headers=rev
    ).is_success
    events = env.client.get(f"/api/questionnaires/{qid}/audit", headers=rev).json()
    assert [e["action"] for e in events] == ["questionnaire.upload", "questionnaire.due_date"]
    assert all(e["questionnaire_id"] == qid for e in events)
    timeline = env.client.get("/api/workspaces/acme/audit", headers=env.as_("admin")).json()
    assert {e["questionnaire_id"] for e in timeline if e["action"].startswith("questionnaire.")} == {qid}


def test_every_datetime_the_api_returns_is_utc_with_its_zone(env: Env, tmp_path: Path) -> None:
    """On SQLite, which gives the stored UTC times back without their zone."""
    datetimes_are_utc(env, Settings(home=tmp_path / "home", embedding_backend="hashing"))


def test_every_datetime_the_api_returns_is_utc_on_postgres(tmp_path: Path, postgres_url: str) -> None:
    """On PostgreSQL, which gives them in the session's time zone (here made Tokyo's, not UTC)."""
    settings = Settings(home=tmp_path / "home", embedding_backend="hashing", database_url=postgres_url)
    with session_scope(postgres_url) as session:
        database = session.scalar(text("SELECT current_database()"))
        session.execute(text(f"ALTER DATABASE \"{database}\" SET timezone TO 'Asia/Tokyo'"))
    get_engine(postgres_url).dispose()  # new connections take the database's zone
    for env in make_env(settings):
        datetimes_are_utc(env, settings)


def datetimes_are_utc(env: Env, settings: Settings) -> None:
    before = datetime.now(UTC) - timedelta(minutes=10)  # the fixture's tokens were made a moment ago
    qid = _stored_questionnaire(env, settings)
    get, rev = env.client.get, env.as_("rev")
    item = get(f"/api/questionnaires/{qid}/items", headers=rev).json()[0]
    assert env.client.post(
        f"/api/items/{item['id']}/assign", json={"version": item["version"], "assignee": "rev@acme.test"}, headers=rev
    ).is_success
    comment = env.client.post(f"/api/items/{item['id']}/comments", json={"text": "look at this"}, headers=rev)
    token = env.client.post("/api/auth/tokens", json={"name": "ci", "expires_in_days": 30}, headers=rev)
    bodies = {
        "comment": comment.json(),
        "new token": token.json(),
        "questionnaires": get("/api/workspaces/acme/questionnaires", headers=rev).json(),
        "questionnaire": get(f"/api/questionnaires/{qid}", headers=rev).json(),
        "desk": get(f"/api/questionnaires/{qid}/desk", headers=rev).json(),
        "comments": get(f"/api/items/{item['id']}/comments", headers=rev).json(),
        "audit": get(f"/api/questionnaires/{qid}/audit", headers=rev).json(),
        "timeline": get("/api/workspaces/acme/audit", headers=env.as_("admin")).json(),
        "tokens": get("/api/auth/tokens", headers=rev).json(),
        "sources": get("/api/workspaces/acme/kb/sources", headers=rev).json(),
    }
    found = {name: list(_datetimes(body)) for name, body in bodies.items()}
    assert all(found.values()), f"a response without the datetimes it should hold: {found}"
    for name, values in found.items():
        for where, value in values:
            assert value.endswith(("Z", "+00:00")), f"{name}{where} has no UTC zone: {value}"
            moment = datetime.fromisoformat(value)
            assert moment.utcoffset() == timedelta(0)
            if not where.endswith("expires_at"):
                assert before <= moment <= datetime.now(UTC), f"{name}{where} is not the UTC time it was stored at"
    assert any(where.endswith("updated_at") for where, _ in found["desk"])
    assert any(where.endswith("last_used_at") for where, _ in found["tokens"])


def _plain_datetime(annotation: object) -> bool:
    """Whether a type holds a datetime that does not go through as_utc."""
    if annotation is datetime:
        return True
    if typing.get_origin(annotation) is typing.Annotated:
        if any(getattr(m, "func", None) is as_utc for m in annotation.__metadata__):
            return False
        return _plain_datetime(annotation.__origin__)
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is not None:
        return any(_plain_datetime(a) for a in typing.get_args(annotation))
    return False


def _models(cls: type[BaseModel] = BaseModel) -> Iterator[type[BaseModel]]:
    for sub in cls.__subclasses__():
        if sub.__module__.startswith("service.api"):
            yield sub
        yield from _models(sub)


def test_every_response_datetime_field_goes_through_as_utc() -> None:
    plain = [
        f"{model.__module__}.{model.__name__}.{name}"
        for model in set(_models())
        for name, field in model.model_fields.items()
        if _plain_datetime(field.annotation)
        and not (field.annotation is datetime and any(getattr(m, "func", None) is as_utc for m in field.metadata))
    ]
    assert not plain, f"datetime fields without the UTC serializer: {plain}"
    # SQLite's naive values are UTC; PostgreSQL's come in the session's zone: both end as the UTC instant.
    assert as_utc(datetime(2026, 1, 2, 3, 4)) == datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    tokyo = datetime(2026, 1, 2, 12, 4, tzinfo=UTC).astimezone(ZoneInfo("Asia/Tokyo"))
    assert as_utc(tokyo).tzinfo is UTC and as_utc(tokyo) == tokyo and as_utc(tokyo).hour == 12


# --- 5. /api/me ---


def test_me_says_whether_the_user_is_an_instance_admin(env: Env) -> None:
    # admin@acme.test was the first user created: an instance admin; the others are not.
    assert env.client.get("/api/me", headers=env.as_("admin")).json()["is_instance_admin"] is True
    assert env.client.get("/api/me", headers=env.as_("rev")).json()["is_instance_admin"] is False


def test_pages_print_times_in_utc_whatever_zone_the_database_returns() -> None:
    from service.web.pages import templates

    utc = templates.env.filters["utc"]
    tokyo = timezone(timedelta(hours=9))
    assert utc(datetime(2026, 12, 7, 18, 30, tzinfo=tokyo)) == "2026-12-07 09:30"  # PostgreSQL in Asia/Tokyo
    assert utc(datetime(2026, 12, 7, 9, 30)) == "2026-12-07 09:30"  # SQLite: stored UTC, returned without a zone


def test_control_characters_in_a_questionnaire_are_dropped_when_it_is_read() -> None:
    """The CLI drafts what it reads; the API stores what it reads: both see the same clean text."""
    from service.questionnaires import read_questionnaire

    data = "No,質問,回答\n1,Do you\x00 use NTP\x1b?,\n".encode()
    (item,) = read_questionnaire("nul.csv", data).items
    assert item.question == "Do you use NTP?"
