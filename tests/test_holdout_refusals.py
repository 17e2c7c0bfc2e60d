"""What a holdout or a questionnaire cannot be built on is refused with why, never a 5xx or a
retry: a calibration with nothing to fit on, a sheet name answers could not be written back to."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import openpyxl
import pytest

from service.db import session_scope
from service.drafting.calibration_store import WorkspaceCalibration
from service.evaluation import HoldoutRecord, execute_run, start_run
from service.ingest import IngestError
from service.knowledge_base import KnowledgeBase, get_workspace
from service.questionnaires import read_questionnaire
from service.settings import Settings
from tests.conftest import ingest_all
from tests.test_holdout import TOPICS, sheet


def test_a_calibration_of_a_one_sheet_workspace_ends_the_run_failed_with_why(tmp_path: Path) -> None:
    kb = KnowledgeBase(Settings(home=tmp_path / "home"))
    only = tmp_path / "only.csv"
    only.write_text(sheet(TOPICS), encoding="utf-8")
    ingest_all(kb, "acme", [only])
    url = kb.settings.resolved_database_url
    with session_scope(url) as session:
        run_id = start_run(session, get_workspace(session, "acme"), None, None, True, calibrate=True).id
    execute_run(kb, run_id)  # the job body, as a runner calls it: it must end the run, not raise
    with session_scope(url) as session:
        run = session.get(HoldoutRecord, run_id)
        assert run.status == "failed" and run.error.startswith("no calibration fitted")
        assert session.query(WorkspaceCalibration).count() == 0  # nothing kept


def _workbook_with_sheet_name(name: str) -> bytes:
    book = openpyxl.Workbook()
    book.active.title = "Q"
    book.active.append(["No", "Question", "Answer"])
    book.active.append([1, "Do you encrypt customer data at rest?", None])
    plain = io.BytesIO()
    book.save(plain)
    # openpyxl refuses such names itself: written into the workbook's XML as another tool might.
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(plain.getvalue())) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "xl/workbook.xml":
                data = data.replace(b'name="Q"', f'name="{name}"'.encode())
            dst.writestr(info, data)
    return out.getvalue()


@pytest.mark.parametrize("name", ["a/b[c]*?:d", ""])
def test_a_sheet_name_answers_cannot_be_written_back_to_is_refused_naming_it(name: str) -> None:
    with pytest.raises(IngestError) as refused:
        read_questionnaire("odd.xlsx", _workbook_with_sheet_name(name))
    message = str(refused.value)
    assert message.startswith("odd.xlsx") and "row 2" in message and "sheet's name" in message


def test_an_ordinary_sheet_name_is_read() -> None:
    assert [i.sheet for i in read_questionnaire("ok.xlsx", _workbook_with_sheet_name("Security 2025")).items] == [
        "Security 2025"
    ]
