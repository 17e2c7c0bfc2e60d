"""An unexpected error on a real server: answered 500 with a logged reference, audited when it was an
export, and the keep-alive connection it came on still answers the next request.

The fault is a real one: the customer's file stored with the questionnaire is damaged in the database
(as a bad disk or a careless manual fix would leave it), so writing answers back into it fails.
"""

from __future__ import annotations

import http.client
import io
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import update

from service.accounts.service import create_token, create_user, set_role
from service.audit import for_questionnaire
from service.db import session_scope
from service.knowledge_base import get_workspace
from service.questionnaires import Questionnaire, create_questionnaire
from service.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "a long enough password"
PLAIN = "| No. | 質問 | 回答 |\n|---|---|---|\n| 1 | 暗号化していますか。 | |\n".encode()
SERVER = """
import sys
import uvicorn
from service.api import create_app
from service.settings import Settings
uvicorn.run(create_app(Settings(home=sys.argv[1])), host="127.0.0.1", port=int(sys.argv[2]), log_level="info")
"""


def workbook() -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["No.", "質問", "回答"])
    ws.append([1, "パスワードの最小文字数は何文字ですか。", None])
    ws.append([2, "バックアップは取得していますか。", None])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


@dataclass
class Server:
    port: int
    token: str
    settings: Settings
    questionnaires: dict[str, int]
    log: Path

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)

    def get(self, conn: http.client.HTTPConnection, path: str) -> tuple[int, dict[str, str], bytes]:
        conn.request("GET", path, headers={"Authorization": f"Bearer {self.token}"})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()

    def export_audit(self, name: str) -> list[dict]:
        with session_scope(self.settings.resolved_database_url) as session:
            events = for_questionnaire(session, self.questionnaires[name])
            return [e.after for e, _ in events if e.action == "questionnaire.export"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("keepalive") / "home"
    settings = Settings(home=home)
    questionnaires = {}
    with session_scope(settings.resolved_database_url) as session:
        user = create_user(session, "boss@acme.test", PASSWORD)
        set_role(session, user, "acme", "admin")
        token = create_token(session, user, "test")
        ws = get_workspace(session, "acme")
        # Stored as an upload stores them (no drafting started: nothing here needs drafts).
        for name, data in (("damaged.xlsx", workbook()), ("sound.xlsx", workbook()), ("plain.md", PLAIN)):
            questionnaires[name] = create_questionnaire(session, ws, name, data, user).id
    with session_scope(settings.resolved_database_url) as session:
        session.execute(
            update(Questionnaire).where(Questionnaire.id == questionnaires["damaged.xlsx"]).values(data=b"PK\x03\x04xx")
        )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = home.parent / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(home), str(port)], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.time() + 180
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, log.read_text()
                time.sleep(0.2)
        else:
            pytest.fail("the server did not start")
        yield Server(port, token, settings, questionnaires, log)
    finally:
        process.terminate()
        process.wait(timeout=60)


def test_the_connection_survives_an_internal_error(server: Server) -> None:
    conn = server.connect()
    try:
        status, _, _ = server.get(conn, "/api/me")
        assert status == 200
        before = conn.sock.getsockname()

        status, headers, body = server.get(conn, f"/api/questionnaires/{server.questionnaires['damaged.xlsx']}/export")
        assert status == 500
        assert headers.get("connection", "").lower() != "close" and conn.sock is not None

        # The next requests travel on the very same connection, and are answered.
        for _ in range(2):
            status, _, answer = server.get(conn, "/api/me")
            assert status == 200 and json.loads(answer)["email"] == "boss@acme.test"
            assert conn.sock.getsockname() == before
        reference = json.loads(body)["detail"].split("reference ")[1].split(")")[0]
    finally:
        conn.close()
    # Logged with its reference and the traceback that explains it.
    deadline = time.time() + 10
    while f"internal error {reference}" not in server.log.read_text() and time.time() < deadline:
        time.sleep(0.1)
    logged = server.log.read_text()
    assert f"internal error {reference} on GET /api/questionnaires/" in logged
    assert "Traceback" in logged and "BadZipFile" in logged


def test_exports_are_audited_as_done_or_failed(server: Server) -> None:
    conn = server.connect()
    try:
        damaged, sound, plain = (server.questionnaires[n] for n in ("damaged.xlsx", "sound.xlsx", "plain.md"))
        assert server.get(conn, f"/api/questionnaires/{damaged}/export?format=original")[0] == 500
        refused, _, body = server.get(conn, f"/api/questionnaires/{plain}/export?format=original")
        assert refused == 400 and "cannot write answers back into a '.md' file" in json.loads(body)["detail"]
        status, headers, _ = server.get(conn, f"/api/questionnaires/{sound}/export?format=original&cite=true")
        assert status == 200 and headers["x-blank-rows"] == "2"
        assert server.get(conn, f"/api/questionnaires/{plain}/export?format=csv")[0] == 200
    finally:
        conn.close()

    (failed,) = server.export_audit("damaged.xlsx")[-1:]
    assert failed["status"] == "failed" and failed["error"].startswith("BadZipFile")
    assert {k: failed[k] for k in ("format", "include", "cite")} == {
        "format": "original",
        "include": "approved",
        "cite": False,
    }
    assert "rows" not in failed  # nothing was exported
    (refused_event, csv_event) = server.export_audit("plain.md")[-2:]
    assert refused_event["status"] == "failed" and refused_event["error"].startswith("ExportError: cannot write")
    assert csv_event["status"] == "done" and csv_event["format"] == "csv"
    (done,) = server.export_audit("sound.xlsx")
    assert done == {"format": "original", "include": "approved", "cite": True, "status": "done", "rows": 0, "blank": 2}
