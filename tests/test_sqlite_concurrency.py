"""Concurrent uploads against a real server on SQLite: every one answered 2xx and stored whole, never
"database is locked". SQLite has one writer at a time: WAL lets readers go on meanwhile, the busy
timeout makes a writer wait its turn, and the upload routes keep their write transactions short
(files are parsed before anything is written, off the event loop)."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from service.accounts.service import create_token, create_user, set_role
from service.db import session_scope
from service.knowledge_base import Entry, Source
from service.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
UPLOADS = 8
ROWS = 100  # of each upload's own, on top of the sample's: writes long enough to overlap
SERVER = """
import sys
import uvicorn
from service.api import create_app
from service.settings import Settings
uvicorn.run(create_app(Settings(home=sys.argv[1])), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


def multipart(files: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = b""
    for name, data in files:
        body += (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + data
            + b"\r\n"
        )
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def sheet(n: int) -> bytes:
    """A past sheet of rows of its own: each upload writes entries of its own."""
    rows = "".join(f"{k + 1},Is question {k} of upload {n} answered?,Answer {k} of upload {n}.\n" for k in range(ROWS))
    return ("No.,Question,Answer\n" + rows).encode()


def test_concurrent_uploads_on_sqlite_are_all_stored(tmp_path: Path) -> None:
    home = tmp_path / "home"
    settings = Settings(home=home)
    assert settings.resolved_database_url.startswith("sqlite")
    with session_scope(settings.resolved_database_url) as session:
        user = create_user(session, "boss@acme.test", "a long enough password")
        set_role(session, user, "acme", "admin")
        token = create_token(session, user, "test")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(home), str(port)], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.time() + 180
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None, log.read_text()
                time.sleep(0.2)
        else:
            pytest.fail("the server did not start")

        answers: dict[int, tuple[int, object]] = {}
        start = threading.Barrier(UPLOADS)

        def upload(n: int) -> None:
            body, content_type = multipart([(f"sheet-{n}.csv", sheet(n))])
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
            try:
                start.wait()  # all at once
                conn.request(
                    "POST",
                    "/api/workspaces/acme/kb/files",
                    body=body,
                    headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
                )
                response = conn.getresponse()
                raw = response.read()
                answers[n] = (response.status, json.loads(raw) if raw.startswith((b"[", b"{")) else raw)
            finally:
                conn.close()

        threads = [threading.Thread(target=upload, args=(n,)) for n in range(UPLOADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=600)
    finally:
        # Killed, not stopped: a graceful stop would first finish embedding every new entry (the
        # vector sync the uploads started), minutes of CPU that this test does not need.
        server.kill()
        server.wait(timeout=60)

    assert sorted(answers) == list(range(UPLOADS))
    for n, (status, body) in answers.items():
        assert status == 200, (n, status, body)
        assert [(r["file"], r["stored"], r["error"]) for r in body] == [(f"sheet-{n}.csv", True, None)], body
    assert "database is locked" not in log.read_text()
    with session_scope(settings.resolved_database_url) as session:
        stored = dict(
            session.execute(select(Source.name, func.count(Entry.id)).join(Entry).group_by(Source.name)).all()
        )
    assert stored == {f"sheet-{n}.csv": answers[n][1][0]["entries"] for n in range(UPLOADS)}
    assert min(stored.values()) > ROWS // 2  # each with its own rows
