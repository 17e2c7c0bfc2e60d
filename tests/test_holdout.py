"""`kotae eval holdout`: the user's own sheets held out, read-only, never citing themselves, and a
calibration fitted on the workspace's history that drafting then uses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from service.cli.main import app
from service.db import session_scope
from service.drafting import Request, draft_requests, get_drafter
from service.drafting.calibration_store import workspace_calibration
from service.evaluation.holdout import CitationLeak, draft_held_out, run_holdout
from service.knowledge_base import Entry, KnowledgeBase, Source, get_workspace
from service.knowledge_base.models import EmbeddingCache
from service.settings import Settings, get_settings
from tests.conftest import ingest_all

TOPICS = [
    ("Do you encrypt customer data at rest?", "Yes", "Customer data is encrypted at rest with AES-256."),
    ("Do you enforce multi-factor authentication for administrators?", "Yes", "Administrators must use TOTP MFA."),
    ("Do you allow shared user accounts?", "No", "Every user has a personal account; sharing is forbidden."),
    ("Do you back up customer data daily?", "Yes", "Backups are taken daily and kept for 30 days."),
    ("Do you store customer data outside Japan?", "No", "All customer data stays in Tokyo and Osaka regions."),
    ("Do you run annual penetration tests by a third party?", "Yes", "An external firm tests the service every year."),
]


def sheet(rows: list[tuple[str, str, str]]) -> str:
    return "No,Question,Answer,Comment\n" + "".join(f"{i},{q},{c},{a}\n" for i, (q, c, a) in enumerate(rows, 1))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    """Two sheets that say the same, one that says the opposite Yes/No, in one workspace."""
    folder = tmp_path_factory.mktemp("sheets")
    (folder / "a_2025.csv").write_text(sheet(TOPICS), encoding="utf-8")
    (folder / "b_2026.csv").write_text(sheet(TOPICS), encoding="utf-8")
    flipped = [(q, "No" if c == "Yes" else "Yes", a) for q, c, a in TOPICS]
    (folder / "c_flipped.csv").write_text(sheet(flipped), encoding="utf-8")
    kb = KnowledgeBase(Settings(home=tmp_path_factory.mktemp("home")))
    ingest_all(kb, "acme", sorted(folder.iterdir()))
    return kb


def snapshot(kb: KnowledgeBase) -> tuple:
    with session_scope(kb.settings.resolved_database_url) as session:
        ws = get_workspace(session, "acme")
        entries = sorted(session.execute(select(Entry.id, Entry.content_hash).where(Entry.workspace_id == ws.id)))
        cache = session.scalar(select(func.count()).select_from(EmbeddingCache))
        return ws.revision, entries, cache, len(kb.vectors.indexed("acme"))


def test_holdout_never_cites_the_sheet_and_changes_nothing(workspace: KnowledgeBase) -> None:
    before = snapshot(workspace)
    with session_scope(workspace.settings.resolved_database_url) as session:
        run = run_holdout(session, workspace, "acme", ["a_2025.csv"])
    assert snapshot(workspace) == before
    result = run.results[0]
    assert len(result.items) == len(TOPICS)
    cited = {c.source for i in result.items for c in i.draft.citations}
    assert cited and "a_2025.csv" not in cited


def test_a_sheet_with_known_answers_gives_the_expected_agreement(workspace: KnowledgeBase) -> None:
    # Without c_flipped, a_2025 is answered from its twin b_2026: every choice agrees.
    with session_scope(workspace.settings.resolved_database_url) as session:
        twin = run_holdout(session, workspace.excluding(c_flipped_ids(workspace)), "acme", ["a_2025.csv"])
        flipped_only = run_holdout(session, workspace.excluding(b_ids(workspace)), "acme", ["a_2025.csv"])
    summary = twin.to_json()["sources"][0]
    assert summary["choice_agreement"] == 1.0 and summary["answer_agreement"] == 1.0
    assert flipped_only.to_json()["sources"][0]["choice_agreement"] == 0.0


def _ids_of(kb: KnowledgeBase, source: str) -> set[str]:
    with session_scope(kb.settings.resolved_database_url) as session:
        return set(session.scalars(select(Entry.id).join(Source).where(Source.name == source)))


def c_flipped_ids(kb: KnowledgeBase) -> set[str]:
    return _ids_of(kb, "c_flipped.csv")


def b_ids(kb: KnowledgeBase) -> set[str]:
    return _ids_of(kb, "b_2026.csv")


def test_all_calibrates_the_workspace_and_drafting_uses_it(
    workspace: KnowledgeBase, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KOTAE_HOME", str(workspace.settings.home))
    monkeypatch.setenv("KOTAE_CALIBRATION_MIN_SAMPLES", "10")
    get_settings.cache_clear()
    try:
        out = tmp_path / "holdout.json"
        result = CliRunner().invoke(
            app,
            ["eval", "holdout", "--all", "-w", "acme", "--calibrate", "--json", str(out)],
        )
        assert result.exit_code == 0, result.output
        data = json.loads(out.read_text(encoding="utf-8"))
        assert [s["source"] for s in data["sources"]] == ["a_2025.csv", "b_2026.csv", "c_flipped.csv"]
        assert data["overall"]["questions"] == 3 * len(TOPICS)
    finally:
        get_settings.cache_clear()
    with session_scope(workspace.settings.resolved_database_url) as session:
        stored = workspace_calibration(session, "acme")
        assert stored is not None and stored.samples >= 10
        own = workspace.with_settings(workspace.settings.model_copy(update={"calibration_min_samples": 10}))
        drafted = draft_requests(session, get_drafter(own), "acme", [Request("1", TOPICS[0][0], "en", None)])[0]
        assert drafted.confidence_source.startswith("workspace 'acme'")
        few = workspace.with_settings(workspace.settings.model_copy(update={"calibration_min_samples": 10_000}))
        fallback = draft_requests(session, get_drafter(few), "acme", [Request("1", TOPICS[0][0], "en", None)])[0]
        assert "rests on" in fallback.confidence_source and not fallback.confidence_source.startswith("workspace")


def test_drafting_a_row_whose_sheet_is_visible_is_a_leak(workspace: KnowledgeBase) -> None:
    # The shared drafting step of the holdout and the labelled harness: over a view that does not
    # hide the sheets, the draft cites them, and that raises instead of counting as a match.
    hidden = _ids_of(workspace, "a_2025.csv") | b_ids(workspace)
    request = Request("1", TOPICS[0][0], "en", None)
    with session_scope(workspace.settings.resolved_database_url) as session:
        with pytest.raises(CitationLeak, match="cites the held-out sheet"):
            draft_held_out(session, get_drafter(workspace), "acme", request, hidden, "a_2025.csv")
        draft, hits = draft_held_out(
            session, get_drafter(workspace.excluding(hidden)), "acme", request, hidden, "a_2025.csv"
        )
    assert hits and all(h.entry.source.name == "c_flipped.csv" for h in hits)
    assert draft.citations and {c.source for c in draft.citations} == {"c_flipped.csv"}
