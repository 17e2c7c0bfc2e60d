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
