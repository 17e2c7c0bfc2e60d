"""The `kotae` command as a user runs it: ingest with a summary, stats, search, show."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.cli.main import app
from service.settings import get_settings
from tests.conftest import SAMPLES, seed


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("KOTAE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_ingest_stats_search_show(runner: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "broken.xlsx"
    bad.write_bytes(b"not a workbook at all")
    result = runner.invoke(app, ["ingest", str(SAMPLES), str(seed("004")), str(bad)])
    assert result.exit_code == 1, result.output  # one file failed; the others still went in
    assert "broken.xlsx" in result.output and "not a valid .xlsx workbook" in result.output
    assert "6 files, 122 entries, 0 skipped rows, 1 failed." in result.output

    stats = runner.invoke(app, ["kb", "stats"])
    assert stats.exit_code == 0
    assert "hoshizora_caiq_lite_2024.csv" in stats.output and "122 entries" in stats.output
    assert "StarDesk, StarMail" in stats.output

    found = runner.invoke(app, ["kb", "search", "バックアップの世代数", "-k", "3"])
    assert found.exit_code == 0
    assert "バックアップ" in found.output.split("\n", 6)[-1]

    shown = runner.invoke(app, ["kb", "show", "6-8"])
    assert shown.exit_code == 0 and "004_" in shown.output

    again = runner.invoke(app, ["ingest", str(seed("004"))])
    assert again.exit_code == 0 and "replaced" in again.output and "0 embedded" in again.output


def test_ingest_reports_missing_files(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["ingest", str(tmp_path / "nothing-here.xlsx")])
    assert result.exit_code == 1 and "no such file" in result.output
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    assert runner.invoke(app, ["ingest", str(empty_dir)]).exit_code == 2


def test_users_add_creates_an_admin_who_can_sign_in(runner: CliRunner, tmp_path: Path) -> None:
    from service.accounts.service import authenticate, role_in
    from service.db import session_scope
    from service.knowledge_base import get_workspace

    result = runner.invoke(
        app,
        ["users", "add", "Boss@Example.com", "-w", "acme", "--token"],
        env={"KOTAE_NEW_USER_PASSWORD": "a long enough password"},
    )
    assert result.exit_code == 0, result.output
    assert "admin of workspace 'acme'" in result.output and "API token (shown once): kt_" in result.output
    url = get_settings().resolved_database_url
    with session_scope(url) as session:
        user = authenticate(session, "boss@example.com", "a long enough password")
        assert user is not None and role_in(session, user, get_workspace(session, "acme").id) == "admin"
        assert authenticate(session, "boss@example.com", "wrong password") is None
    again = runner.invoke(app, ["users", "add", "boss@example.com"], env={"KOTAE_NEW_USER_PASSWORD": "x" * 12})
    assert again.exit_code == 1 and "exists already" in again.output
    short = runner.invoke(app, ["users", "add", "b@example.com"], env={"KOTAE_NEW_USER_PASSWORD": "short"})
    assert short.exit_code == 1 and "at least 10 characters" in short.output
