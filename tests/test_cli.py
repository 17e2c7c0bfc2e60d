"""The `kotae` command as a user runs it: ingest with a summary, stats, search, show, users, doctor."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from service.accounts import ROLES, authenticate, role_in
from service.cli.main import app
from service.cli.users import Role
from service.db import session_scope
from service.knowledge_base import Source, get_workspace
from service.settings import get_settings
from tests.conftest import SAMPLES, seed
from tests.openai_stub import ErrorEndpoint, OpenAIStub

SHEET = (
    "No,確認事項,回答\n"
    "1,バックアップを取得していますか。,はい、日次で取得しています。\n"
    "2,通信は暗号化されていますか。,はい、TLS 1.2 以上です。\n"
)
CHANGED_SHEET = SHEET.replace("日次", "毎時")
# Longer than any table column: JSON must carry it whole.
LONG_NAME = "2024_customer_security_questionnaire_answers_for_the_stardesk_renewal_final_v3.csv"
PASSWORD = "a long enough password"


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("KOTAE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("KOTAE_NEW_USER_PASSWORD", raising=False)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def sheet_file(tmp_path: Path, name: str = "vendor_sheet.csv", text: str = SHEET) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def assert_one_line_error(result: Any, *phrases: str) -> None:
    """Exit 2, a single line naming the problem, no traceback."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for phrase in phrases:
        assert phrase in lines[0], result.output


def test_ingest_stats_search_show(runner: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "broken.xlsx"
    bad.write_bytes(b"not a workbook at all")
    result = runner.invoke(app, ["ingest", str(SAMPLES), str(seed("004")), str(bad)])
    assert result.exit_code == 1, result.output  # one file failed; the others still went in
    flat = re.sub(r"[\s│┃]+", "", result.output)  # the table may wrap a long message at any width
    assert "broken.xlsx" in flat and "notavalid.xlsxworkbook" in flat
    assert "6 files, 122 entries, 0 skipped rows, 1 failed." in result.output

    stats = runner.invoke(app, ["kb", "stats"])
    assert stats.exit_code == 0
    listed = re.sub(r"[\s│┃]+", "", stats.output)  # a narrow console wraps names inside their cells
    assert "hoshizora_caiq_lite_2024.csv" in listed and "122 entries" in stats.output
    assert "StarDesk,StarMail" in listed

    found = runner.invoke(app, ["kb", "search", "バックアップの世代数", "-k", "3"])
    assert found.exit_code == 0
    assert "バックアップ" in found.output.split("\n", 6)[-1]

    shown = runner.invoke(app, ["kb", "show", "6-8"])
    assert shown.exit_code == 0 and "004_" in shown.output
    assert "score" not in shown.output  # not a search: no rank or score columns left empty

    again = runner.invoke(app, ["ingest", str(seed("004"))])
    assert again.exit_code == 0, again.output
    assert "unchanged" in again.output and "replaced" not in again.output
    assert "1 files, 69 entries" in again.output and "0 updated (0 embedded" in again.output


def test_a_workspace_made_by_ingest_is_given_to_the_instance_admins(runner: CliRunner, tmp_path: Path) -> None:
    sheet = sheet_file(tmp_path)
    nobody = runner.invoke(app, ["ingest", str(sheet), "-w", "early"])
    assert nobody.exit_code == 0 and "nobody can open it in the UI yet" in nobody.output, nobody.output

    env = {"KOTAE_NEW_USER_PASSWORD": PASSWORD}
    assert runner.invoke(app, ["users", "add", "boss@example.com", "--role", "admin"], env=env).exit_code == 0
    assert runner.invoke(app, ["users", "add", "rev@example.com", "--role", "reviewer"], env=env).exit_code == 0
    made = runner.invoke(app, ["ingest", str(sheet), "-w", "acme"])
    assert made.exit_code == 0 and "its admins are boss@example.com" in made.output, made.output
    again = runner.invoke(app, ["ingest", str(sheet), "-w", "acme"])
    assert again.exit_code == 0 and "is new" not in again.output

    roles = {u["email"]: u["roles"] for u in json.loads(runner.invoke(app, ["users", "list", "--json"]).stdout)}
    assert roles["boss@example.com"]["acme"] == "admin"  # the first user is the instance admin
    assert "acme" not in roles["rev@example.com"]  # others are given a role by someone who decides


def test_ingest_reports_missing_files(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["ingest", str(tmp_path / "nothing-here.xlsx")])
    assert result.exit_code == 1 and "no such file" in result.output
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    assert runner.invoke(app, ["ingest", str(empty_dir)]).exit_code == 2


def test_reingest_says_added_unchanged_or_replaced(runner: CliRunner, tmp_path: Path) -> None:
    sheet = sheet_file(tmp_path)
    url = get_settings().resolved_database_url

    def stored() -> tuple[int, str, list[str]]:
        with session_scope(url) as session:
            ws = get_workspace(session, "default")
            source = session.scalars(select(Source).where(Source.workspace_id == ws.id)).one()
            return ws.revision, source.ingested_at.isoformat(), sorted(e.id for e in source.entries)

    first = runner.invoke(app, ["ingest", str(sheet)])
    assert first.exit_code == 0 and "added" in first.output and "2 embedded" in first.output, first.output
    before = stored()

    same = runner.invoke(app, ["ingest", str(sheet)])
    assert same.exit_code == 0 and "unchanged" in same.output, same.output
    assert "2 entries" in same.output and "0 updated (0 embedded" in same.output
    assert stored() == before  # nothing rewritten: same revision, same ingest time, same entries

    other_product = runner.invoke(app, ["ingest", str(sheet), "--product", "StarDesk"])
    assert other_product.exit_code == 0 and "replaced" in other_product.output, other_product.output

    sheet.write_text(CHANGED_SHEET, encoding="utf-8")
    changed = runner.invoke(app, ["ingest", str(sheet), "--product", "StarDesk"])
    assert changed.exit_code == 0 and "replaced" in changed.output and "1 embedded" in changed.output, changed.output


def test_read_commands_print_json_with_full_file_names(runner: CliRunner, tmp_path: Path) -> None:
    assert runner.invoke(app, ["ingest", str(sheet_file(tmp_path, LONG_NAME)), "-w", "acme"]).exit_code == 0

    stats = runner.invoke(app, ["kb", "stats", "-w", "acme", "--json"])
    assert stats.exit_code == 0, stats.output
    data = json.loads(stats.stdout)
    assert data["workspace"] == "acme" and data["entries"] == 2 and data["languages"] == {"ja": 2}
    assert [s["name"] for s in data["sources"]] == [LONG_NAME] and data["sources"][0]["entries"] == 2

    found = runner.invoke(app, ["kb", "search", "バックアップ", "-w", "acme", "-k", "1", "--json"])
    assert found.exit_code == 0, found.output
    hits = json.loads(found.stdout)
    assert len(hits) == 1 and hits[0]["rank"] == 1 and hits[0]["source"] == LONG_NAME
    assert hits[0]["locator"] == "No.1" and hits[0]["answer"] == "はい、日次で取得しています。"

    shown = runner.invoke(app, ["kb", "show", "2", "-w", "acme", "--json"])
    assert shown.exit_code == 0, shown.output
    assert [(e["source"], e["locator"], e["question"]) for e in json.loads(shown.stdout)] == [
        (LONG_NAME, "No.2", "通信は暗号化されていますか。")
    ]
    nothing = runner.invoke(app, ["kb", "show", "99", "-w", "acme", "--json"])
    assert nothing.exit_code == 1 and json.loads(nothing.stdout) == []


def test_missing_workspace_file_or_source_is_one_line_and_exit_2(runner: CliRunner, tmp_path: Path) -> None:
    questionnaire = sheet_file(tmp_path, "customer.csv")
    for command in (
        ["kb", "stats", "-w", "nope"],
        ["kb", "stats", "-w", "nope", "--json"],
        ["kb", "search", "バックアップ", "-w", "nope"],
        ["kb", "show", "1", "-w", "nope"],
        ["kb", "reindex", "-w", "nope"],
        ["kb", "delete-source", "customer.csv", "-w", "nope"],
        ["draft", str(questionnaire), "-w", "nope"],
    ):
        assert_one_line_error(runner.invoke(app, command), "workspace 'nope' does not exist")

    assert_one_line_error(runner.invoke(app, ["draft", str(tmp_path / "missing.csv")]), "missing.csv: no such file")

    # A workspace that exists (a user was given a role in it) but holds no entries: nothing to draft from.
    added = runner.invoke(
        app, ["users", "add", "a@example.com", "-w", "fresh"], env={"KOTAE_NEW_USER_PASSWORD": PASSWORD}
    )
    assert added.exit_code == 0, added.output
    assert_one_line_error(runner.invoke(app, ["draft", str(questionnaire), "-w", "fresh"]), "'fresh' is empty")

    assert runner.invoke(app, ["ingest", str(sheet_file(tmp_path)), "-w", "acme"]).exit_code == 0
    assert_one_line_error(
        runner.invoke(app, ["kb", "delete-source", "other.csv", "-w", "acme"]), "no source named 'other.csv'"
    )
    removed = runner.invoke(app, ["kb", "delete-source", "vendor_sheet.csv", "-w", "acme"])
    assert removed.exit_code == 0 and "Removed vendor_sheet.csv: 2 entries." in removed.output


def test_missing_workspace_prints_no_traceback_from_the_installed_command(tmp_path: Path) -> None:
    kotae = Path(sys.executable).with_name("kotae")
    env = {"KOTAE_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin", "COLUMNS": "200"}
    result = subprocess.run(
        [str(kotae), "kb", "show", "1", "-w", "nope"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2, result.stderr
    assert result.stdout == "" and result.stderr.strip().splitlines() == [
        "error: workspace 'nope' does not exist: ingest past answers into it first (kotae ingest PATH -w nope)"
    ]


def test_users_add_creates_an_admin_who_can_sign_in(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["users", "add", "Boss@Example.com", "-w", "acme", "--token"],
        env={"KOTAE_NEW_USER_PASSWORD": PASSWORD},
    )
    assert result.exit_code == 0, result.output
    assert "admin of workspace 'acme'" in result.output and "API token (shown once): kt_" in result.output
    url = get_settings().resolved_database_url
    with session_scope(url) as session:
        user = authenticate(session, "boss@example.com", PASSWORD)
        assert user is not None and role_in(session, user, get_workspace(session, "acme").id) == "admin"
        assert authenticate(session, "boss@example.com", "wrong password") is None
    again = runner.invoke(app, ["users", "add", "boss@example.com"], env={"KOTAE_NEW_USER_PASSWORD": "x" * 12})
    assert again.exit_code == 1 and "exists already" in again.output and "kotae users role" in again.output
    short = runner.invoke(app, ["users", "add", "b@example.com"], env={"KOTAE_NEW_USER_PASSWORD": "short"})
    assert short.exit_code == 1 and "at least 12 characters" in short.output
    bad_role = runner.invoke(
        app, ["users", "add", "c@example.com", "--role", "owner"], env={"KOTAE_NEW_USER_PASSWORD": PASSWORD}
    )
    assert bad_role.exit_code == 2 and "viewer" in bad_role.output


def test_users_role_deactivate_reset_password_and_list(runner: CliRunner) -> None:
    url = get_settings().resolved_database_url
    env = {"KOTAE_NEW_USER_PASSWORD": PASSWORD}
    assert (
        runner.invoke(app, ["users", "add", "rev@example.com", "-w", "acme", "--role", "viewer"], env=env).exit_code
        == 0
    )

    promoted = runner.invoke(app, ["users", "role", "REV@example.com", "-w", "acme", "--role", "reviewer"])
    assert promoted.exit_code == 0 and "rev@example.com is now reviewer of workspace 'acme'" in promoted.output
    assert runner.invoke(app, ["users", "role", "rev@example.com", "-w", "beta", "--role", "admin"]).exit_code == 0
    with session_scope(url) as session:
        user = authenticate(session, "rev@example.com", PASSWORD)
        assert user is not None
        assert role_in(session, user, get_workspace(session, "acme").id) == "reviewer"
        assert role_in(session, user, get_workspace(session, "beta").id) == "admin"

    listed = runner.invoke(app, ["users", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout) == [
        {
            "email": "rev@example.com",
            "name": "",
            "active": True,
            "roles": {"acme": "reviewer", "beta": "admin"},
            "created_at": json.loads(listed.stdout)[0]["created_at"],
        }
    ]

    # The password is asked for (hidden, twice) when KOTAE_NEW_USER_PASSWORD is not set.
    reset = runner.invoke(app, ["users", "reset-password", "rev@example.com"], input="a brand new password\n" * 2)
    assert reset.exit_code == 0 and "Password of rev@example.com changed." in reset.output, reset.output
    too_short = runner.invoke(
        app, ["users", "reset-password", "rev@example.com"], env={"KOTAE_NEW_USER_PASSWORD": "short"}
    )
    assert too_short.exit_code == 1 and "at least 12 characters" in too_short.output
    with session_scope(url) as session:
        assert authenticate(session, "rev@example.com", PASSWORD) is None
        assert authenticate(session, "rev@example.com", "a brand new password") is not None

    assert runner.invoke(app, ["users", "deactivate", "rev@example.com"]).exit_code == 0
    with session_scope(url) as session:
        assert authenticate(session, "rev@example.com", "a brand new password") is None
    table = runner.invoke(app, ["users", "list"])
    assert table.exit_code == 0 and "rev@example.com" in table.output and "acme: reviewer, beta: admin" in table.output
    assert json.loads(runner.invoke(app, ["users", "list", "--json"]).stdout)[0]["active"] is False

    assert runner.invoke(app, ["users", "activate", "rev@example.com"]).exit_code == 0
    with session_scope(url) as session:
        assert authenticate(session, "rev@example.com", "a brand new password") is not None

    for command in (
        ["users", "role", "nobody@example.com", "-w", "acme", "--role", "viewer"],
        ["users", "deactivate", "nobody@example.com"],
        ["users", "activate", "nobody@example.com"],
        ["users", "reset-password", "nobody@example.com"],
    ):
        assert_one_line_error(runner.invoke(app, command, env=env), "no user with email nobody@example.com")


def test_role_choices_are_the_account_roles() -> None:
    assert get_args(Role) == ROLES


def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def doctor_lines(result: Any) -> dict[str, str]:
    """check name -> its line."""
    lines = {}
    for line in result.stdout.strip().splitlines():
        name = line[5:].split(":", 1)[0]
        lines[name] = line
    return lines


def test_doctor_passes_on_the_offline_default(runner: CliRunner) -> None:
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 0, result.output
    lines = doctor_lines(result)
    assert list(lines) == ["embedding model", "database", "vector store", "LLM", "prompts"]
    assert all(line.startswith("ok ") for name, line in lines.items() if name != "LLM")
    assert lines["LLM"].startswith("skip") and "384 dimensions" in lines["embedding model"]

    data = json.loads(runner.invoke(app, ["doctor", "--json"]).stdout)
    assert data["ok"] is True
    assert [(c["name"], c["status"]) for c in data["checks"]] == [
        ("embedding model", "ok"),
        ("database", "ok"),
        ("vector store", "ok"),
        ("LLM", "skip"),
        ("prompts", "ok"),
    ]


def test_doctor_checks_the_llm_endpoint(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    def doctor_with(base_url: str) -> Any:
        monkeypatch.setenv("KOTAE_DRAFTER", "llm")
        monkeypatch.setenv("KOTAE_LLM_BASE_URL", base_url)
        monkeypatch.setenv("KOTAE_LLM_API_KEY", "sk-test")
        get_settings.cache_clear()
        return runner.invoke(app, ["doctor"])

    with OpenAIStub() as stub:
        answered = doctor_with(stub.base_url)
        assert answered.exit_code == 0, answered.output
        assert doctor_lines(answered)["LLM"].startswith("ok ") and len(stub.requests) == 1

    with ErrorEndpoint(401, "Incorrect API key provided", code="invalid_api_key") as refusing:
        refused = doctor_with(refusing.base_url)
    assert refused.exit_code == 1, refused.output
    line = doctor_lines(refused)["LLM"]
    assert line.startswith("FAIL") and "refused the API key (HTTP 401): check KOTAE_LLM_API_KEY" in line
    assert doctor_lines(refused)["database"].startswith("ok ")

    unreachable = doctor_with(f"http://127.0.0.1:{closed_port()}/v1")
    assert unreachable.exit_code == 1
    assert "cannot reach the LLM endpoint" in doctor_lines(unreachable)["LLM"]


def test_doctor_fails_on_an_unreachable_chroma_server(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOTAE_VECTOR_STORE", "chroma_http")
    monkeypatch.setenv("KOTAE_CHROMA_URL", f"http://127.0.0.1:{closed_port()}")
    get_settings.cache_clear()
    result = runner.invoke(app, ["doctor", "--json"])
    assert result.exit_code == 1
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["vector store"]["status"] == "FAIL" and "KOTAE_CHROMA_URL" in checks["vector store"]["fix"]
    assert checks["database"]["status"] == "ok"
