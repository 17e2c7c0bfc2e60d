"""Bounded input: each test reproduces one defect of the hardening issue (hostile or odd files,
oversized bodies, exports that lost characters or failed) and checks it stays fixed.

Tests that could take the machine down if the defect came back (memory) parse in a subprocess
under an address-space limit; time bounds count CPU time, so a busy machine does not fail them.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import select
import socket
import subprocess
import sys
import time
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import docx
import openpyxl
import pytest
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.table import _Cell

from service.drafting import DRAFTED, Draft, read_questionnaire
from service.export import fill
from service.export.csv_file import csv_encoding_for
from service.ingest import IngestError, Limits, parse_bytes, registry
from service.ingest.parsers import text_file
from service.ingest.text import clean_cell, find_dates, labelled_date

ROOT = Path(__file__).resolve().parents[1]
MB = 1024 * 1024

# Parses one file in a fresh interpreter that cannot map more than 1 GiB, and reports the
# outcome, the CPU seconds the parse took and the peak resident memory.
CHILD = """
import json, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
from service.ingest import IngestError, parse_file
start = time.process_time()
try:
    parse_file(sys.argv[1])
    outcome = "parsed"
except IngestError as exc:
    outcome = str(exc)
seconds = time.process_time() - start
# VmHWM, not ru_maxrss: ru_maxrss survives exec and would count the forking pytest worker's memory.
peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"outcome": outcome, "seconds": seconds, "rss_mb": peak_kb / 1024}))
"""


def parse_in_subprocess(path: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def workbook_bytes(build: Callable[[openpyxl.Workbook], None]) -> bytes:
    wb = openpyxl.Workbook()
    build(wb)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# --------------------------------------------------------------------------- xlsx


def test_sparse_xlsx_is_refused_fast_in_little_memory(tmp_path: Path) -> None:
    """A 5 KB workbook with values in B2 and XFD20000 made openpyxl build a 20000 x 16384 grid (> 14 GB)."""

    def build(wb: openpyxl.Workbook) -> None:
        wb.active["B2"] = "質問"
        wb.active["XFD20000"] = "回答"

    path = tmp_path / "sparse.xlsx"
    path.write_bytes(workbook_bytes(build))
    assert path.stat().st_size < 6000
    result = parse_in_subprocess(path)
    assert result["outcome"] == (
        "sparse.xlsx, sheet 'Sheet': a value in cell XFD20000 is in column 16384; "
        "the limit is 1000 columns (max_columns)"
    )
    assert result["seconds"] < 5 and result["rss_mb"] < 500, result


def shared_strings_workbook(rows: list[tuple[str, str]], after_data: str = "") -> bytes:
    """An xlsx as Excel writes it (openpyxl writes inline strings instead): the text in the shared
    strings part, a string given as "<r>..." taken as rich text (runs, phonetic guides)."""
    main = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    package = 'xmlns="http://schemas.openxmlformats.org/package/2006/relationships"'
    strings: list[str] = []
    cells: list[str] = []
    for number, row in enumerate([("質問", "回答"), *rows], start=1):
        refs = []
        for column, text in zip("AB", row, strict=True):
            strings.append(f"<si>{text if text.startswith('<') else f'<t>{text}</t>'}</si>")
            refs.append(f'<c r="{column}{number}" t="s"><v>{len(strings) - 1}</v></c>')
        cells.append(f'<row r="{number}">{"".join(refs)}</row>')
    sheet = '<sheet name="シート" sheetId="1" r:id="r1"/>'
    parts = {
        "_rels/.rels": f'<Relationships {package}><Relationship Id="r1" Type="{rel}/officeDocument" '
        'Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<workbook {main} xmlns:r="{rel}"><sheets>{sheet}</sheets></workbook>',
        "xl/_rels/workbook.xml.rels": f"<Relationships {package}>"
        f'<Relationship Id="r1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="r2" Type="{rel}/sharedStrings" Target="sharedStrings.xml"/></Relationships>',
        "xl/worksheets/sheet1.xml": f"<worksheet {main}><sheetData>{''.join(cells)}</sheetData>"
        f"{after_data}</worksheet>",
        "xl/sharedStrings.xml": f"<sst {main}>{''.join(strings)}</sst>",
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return out.getvalue()


def test_xlsx_limits_are_checked_while_reading() -> None:
    furigana = "<r><t>暗号化</t></r><rPh sb='0' eb='3'><t>アンゴウカ</t></rPh><r><t>していますか</t></r>"
    rows = [(furigana, "はい")] + [(f"パスワードを暗号化して保存していますか（{i}）", "はい") for i in range(29)]
    data = shared_strings_workbook(rows)
    doc = parse_bytes("excel.xlsx", data)
    assert len(doc.items) == 30 and doc.items[0].question == "暗号化していますか"  # the furigana is not text
    with pytest.raises(IngestError, match=r"more than 10 shared strings \(limit max_shared_strings\)"):
        parse_bytes("strings.xlsx", data, Limits(max_shared_strings=10))
    with pytest.raises(IngestError, match=r"sheet 'シート', row 26: more than 50 cells \(limit max_cells\)"):
        parse_bytes("cells.xlsx", data, Limits(max_cells=50))
    with pytest.raises(IngestError, match=r"a value in cell A11 is in row 11; the limit is 10 rows \(max_rows\)"):
        parse_bytes("rows.xlsx", data, Limits(max_rows=10))
    # A merged range over millions of cells: openpyxl (the export loads the workbook) makes an
    # object for every cell of it, so the questionnaire is refused before it is ever stored.
    merged = shared_strings_workbook(rows, '<mergeCells count="1"><mergeCell ref="D1:ZZ90000"/></mergeCells>')
    with pytest.raises(IngestError, match=r"merged ranges cover more than 2000000 cells \(limit max_cells\)"):
        parse_bytes("merged.xlsx", merged)


@pytest.mark.parametrize("kind", ["xlsx", "docx"])
def test_zip_bomb_is_refused_before_it_is_inflated(tmp_path: Path, kind: str) -> None:
    if kind == "xlsx":
        small, member = workbook_bytes(lambda wb: None), "xl/worksheets/sheet1.xml"
    else:
        document, out = docx.Document(), io.BytesIO()
        document.add_paragraph("1 Policy")
        document.save(out)
        small, member = out.getvalue(), "word/document.xml"
    bomb = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(small)) as src, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename != member:
                dst.writestr(info.filename, body)
                continue
            head, tail = body.rsplit(b"</", 1)
            with dst.open(member, "w", force_zip64=True) as part:  # 200 MB of blanks, packed ~1000:1
                part.write(head)
                for _ in range(200):
                    part.write(b" " * MB)
                part.write(b"</" + tail)
    path = tmp_path / f"bomb.{kind}"
    path.write_bytes(bomb.getvalue())
    assert path.stat().st_size < 1 * MB
    result = parse_in_subprocess(path)
    assert f"the part {member} is compressed" in result["outcome"], result
    assert "the limit is 100:1 (max_zip_ratio)" in result["outcome"]
    assert result["seconds"] < 5 and result["rss_mb"] < 300, result


# --------------------------------------------------------------------------- pdf


def minimal_pdf(pages: int, content: bytes, *, flate: bool = False) -> bytes:
    """A PDF whose every page draws the same content stream (written by hand: no writer's
    limits or shortcuts in the way)."""
    kids = " ".join(f"{5 + i} 0 R" for i in range(pages))
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d%s >>\nstream\n" % (len(content), b" /Filter /FlateDecode" if flate else b"")
        + content
        + b"\nendstream",
    ] + [page + b"/Contents 4 0 R >>"] * pages
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def test_pdf_bombs_are_refused_with_an_ingest_error(tmp_path: Path) -> None:
    packer = zlib.compressobj(9)
    stream = packer.compress(b"BT /F1 12 Tf 72 700 Td (1 Policy) Tj ET\n")
    for _ in range(300):  # inflates to 300 MB
        stream += packer.compress(b" " * MB)
    inflating = tmp_path / "inflating.pdf"
    inflating.write_bytes(minimal_pdf(1, stream + packer.flush(), flate=True))
    result = parse_in_subprocess(inflating)
    assert "the PDF exceeds a safety limit" in result["outcome"] and "(max_pdf_content_mb)" in result["outcome"]
    assert result["seconds"] < 10 and result["rss_mb"] < 500, result

    page = b"BT /F1 12 Tf 72 700 Td (1 Access control) Tj ET\n"
    with pytest.raises(IngestError, match=r"pages\.pdf: the PDF has 5000 pages; the limit is 2000 \(max_pdf_pages\)"):
        parse_bytes("pages.pdf", minimal_pdf(5000, page))
    # 11 KB that kept pypdf's text extractor busy for 5 minutes: the operators are counted.
    start = time.process_time()
    with pytest.raises(IngestError, match=r"more than 20000 drawing operations \(reached on page 3; limit max_pdf_op"):
        parse_bytes("busy.pdf", minimal_pdf(50, page * 2000), Limits(max_pdf_operations=20_000))
    assert time.process_time() - start < 10


# --------------------------------------------------------------------------- docx


def _vmerge(tc: object, value: str | None) -> None:
    element = OxmlElement("w:vMerge")
    if value:
        element.set(qn("w:val"), value)
    tc.get_or_add_tcPr().append(element)  # type: ignore[attr-defined]


def _question_table(rows: int) -> tuple[docx.document.Document, list]:
    document = docx.Document()
    table = document.add_table(rows=rows, cols=3)
    trs = table._tbl.tr_lst
    for number, tr in enumerate(trs):
        texts = ("分類", "質問", "回答") if number == 0 else ("組織", f"規程 {number} はありますか", "はい")
        for tc, text in zip(tr.tc_lst, texts, strict=True):
            _Cell(tc, table).text = text
    return document, trs


def _docx(document: docx.document.Document) -> bytes:
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_docx_with_awkward_vertical_merges_reads_or_says_why() -> None:
    """python-docx raised ValueError (a 500) on these, and took seconds per hundred merged rows."""
    cases: dict[str, bytes] = {}
    document, trs = _question_table(4)
    _vmerge(trs[0].tc_lst[1], None)  # a continuation in the first row: nothing above it
    cases["top"] = _docx(document)
    document, trs = _question_table(4)
    trs[1].tc_lst[0].grid_span = 2  # a wide cell above...
    trs[1].remove(trs[1].tc_lst[1])
    _vmerge(trs[2].tc_lst[1], None)  # ...and a continuation starting inside it
    cases["inside"] = _docx(document)
    document, trs = _question_table(4)
    _vmerge(trs[1].tc_lst[0], "restart")
    trs[2].tc_lst[0].grid_span = 2  # a continuation wider than the cell it continues
    trs[2].remove(trs[2].tc_lst[1])
    _vmerge(trs[2].tc_lst[0], None)
    _vmerge(trs[3].tc_lst[2], None)
    cases["wider"] = _docx(document)
    document, trs = _question_table(1500)
    _vmerge(trs[1].tc_lst[0], "restart")
    for tr in trs[2:]:
        _vmerge(tr.tc_lst[0], None)  # one category merged down 1499 rows
    cases["long"] = _docx(document)

    start = time.process_time()
    outcomes = {}
    for name, data in cases.items():
        try:
            outcomes[name] = len(parse_bytes(f"{name}.docx", data).items)
        except IngestError as exc:
            outcomes[name] = str(exc)
    assert time.process_time() - start < 10
    assert outcomes["top"] == "top.docx: no question table and no numbered sections were found in this text"
    # The rows under a wide cell whose question cell is the continuation of nothing are skipped.
    assert (outcomes["inside"], outcomes["wider"], outcomes["long"]) == (2, 2, 1499)
    long = parse_bytes("long.docx", cases["long"])
    assert long.items[-1].section == ["組織"]  # the merged category reaches the last row


def test_unexpected_library_errors_become_ingest_errors_and_are_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(file: str, data: bytes, limits: Limits) -> None:
        raise ValueError("no `tc` element at grid_offset=1")

    monkeypatch.setitem(registry.PARSERS, ".docx", broken)
    with caplog.at_level(logging.ERROR), pytest.raises(IngestError) as info:
        parse_bytes("merged.docx", b"PK not empty")
    assert str(info.value).startswith("merged.docx: the file could not be read (ValueError: no `tc` element")
    (record,) = [r for r in caplog.records if r.name == "service.ingest.registry"]
    assert "merged.docx" in record.getMessage() and record.exc_info is not None  # with its traceback


# --------------------------------------------------------------------------- regular expressions

PATHOLOGICAL = {
    "spaces": " " * 200_000 + "x",
    "rule then spaces": "|---" + " " * 200_000 + "x",  # 30 s at 32k characters before
    "pipes": "|" * 200_000,
    "spaced pipes": "| " * 100_000 + "x",
    "dashes": "-" * 200_000 + "x",
    "rule cells": "---|" * 50_000 + "x",
    "digits": "1" * 200_000,
    "numbering": "1." * 100_000 + " x",
    "open brackets": "（(【[" * 50_000,  # 48 s at 32k characters before
    "open tags": "<" * 200_000,
    "years": "2020年" * 40_000 + " " * 100_000 + "x",
    "tabs": "\t" * 200_000 + "x",
}


@pytest.mark.parametrize("name", list(PATHOLOGICAL))
def test_pathological_lines_are_read_in_linear_time(name: str) -> None:
    line = PATHOLOGICAL[name]
    table = f"| 質問 | 回答 |\n|---|---|\n{line}\n| a | b |\n| c | d |\n"
    start = time.process_time()
    for document in (line, table, "# 1 方針\n" + line):
        with contextlib.suppress(IngestError):
            parse_bytes("line.md", document.encode())
    text_file.is_rule_line(line)
    text_file._is_heading(line)
    clean_cell(line)
    find_dates(line)
    labelled_date(line)
    assert time.process_time() - start < 1.0


def test_long_paragraphs_and_unclosed_rows_are_read_in_linear_time() -> None:
    """A paragraph wrapped over many lines was joined line by line and searched whole at each
    line (24 s for 8000 lines); an unclosed markdown row was joined the same way."""
    line = "これは長い段落の途中で改行されたとても長い文章の一部分です本当に\n"
    prose = "# 1 方針\n" + line * 20_000
    unclosed = "| 質問 | 回答 |\n|---|---|\n| a | b |\n| 開いたまま\n" + "続きの行です\n" * 60_000
    start = time.process_time()
    (item,) = parse_bytes("policy.md", prose.encode()).items
    assert len(item.answer) == len(line.strip()) * 20_000
    with contextlib.suppress(IngestError):
        parse_bytes("table.md", unclosed.encode())
    assert time.process_time() - start < 3.0


# --------------------------------------------------------------------------- exports


def test_control_characters_in_answers_do_not_break_the_exports() -> None:
    """openpyxl raised IllegalCharacterError (a 500) on a \\x07 or \\x00 in an answer."""

    def build(wb: openpyxl.Workbook) -> None:
        wb.active.title = "質問票"
        wb.active.append(["No", "質問", "回答"])
        wb.active.append([1, "暗号化していますか。", None])

    dirty = "は\x00い\x07、対応\x1bしています\tタブ\n改行\ud800\ufffe"
    clean = "はい、対応しています\tタブ\n改行"
    draft = Draft("No.1", "暗号化していますか。", "ja", None, dirty, 0.9, DRAFTED, [])
    questionnaire = read_questionnaire("q.xlsx", workbook_bytes(build))
    ws = openpyxl.load_workbook(io.BytesIO(fill(questionnaire, [draft])))["質問票"]
    assert ws["C2"].value == clean
    questionnaire = read_questionnaire("q.csv", "No,質問,回答\r\n1,暗号化していますか。,\r\n".encode("cp932"))
    assert fill(questionnaire, [draft]).decode("cp932") == f'No,質問,回答\r\n1,暗号化していますか。,"{clean}"\r\n'


def test_cp932_csv_export_keeps_every_character() -> None:
    """Answers were encoded with errors="replace": "café naïve" came back as "caf? na?ve"."""
    source = "No,質問,回答\r\n1,暗号化していますか。,\r\n2,バックアップは取得していますか。,\r\n".encode("cp932")
    questionnaire = read_questionnaire("q.csv", source)
    drafts = [
        Draft("No.1", "q", "ja", None, "café naïve ①", 0.9, DRAFTED, []),
        Draft("No.2", "q", "ja", None, "日次で取得しています。", 0.9, DRAFTED, []),
    ]
    out = fill(questionnaire, drafts)
    assert out.startswith(b"\xef\xbb\xbf") and "?" not in out.decode("utf-8-sig")
    assert out.decode("utf-8-sig").splitlines()[1] == "1,暗号化していますか。,café naïve ①"
    assert csv_encoding_for([["café"]], "cp932") == "utf-8-sig"
    # Answers CP932 can hold keep the customer's encoding (no BOM, readable by their old tools).
    japanese = fill(questionnaire, [drafts[1], drafts[1]])
    assert japanese.decode("cp932").splitlines()[1] == "1,暗号化していますか。,日次で取得しています。"
    assert csv_encoding_for([["日次", "①"]], "cp932") == "cp932"


# --------------------------------------------------------------------------- request bodies

SERVER = """
import os, sys, tempfile
# Starlette spools an upload past 1 MB to a temporary file, which on Linux has no name
# (O_TMPFILE): an empty folder alone would prove nothing, so every rollover leaves a mark.
_rollover = tempfile.SpooledTemporaryFile.rollover
def rollover(self):
    open(os.path.join(os.environ["TMPDIR"], "rolled-over"), "w").close()
    return _rollover(self)
tempfile.SpooledTemporaryFile.rollover = rollover
import uvicorn
from service.api import create_app
from service.settings import Settings
app = create_app(Settings(home=sys.argv[1], max_request_mb=1))  # the real app, its middleware as registered
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


def _rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


def _post(port: int, head: str, body_chunks: int = 0, chunked: bool = False) -> bytes:
    """Send a request head and up to `body_chunks` 64 KB pieces of an upload (stopping once the
    server answers), and return the answer."""
    part = b'--b\r\nContent-Disposition: form-data; name="file"; filename="q.csv"\r\n\r\n'
    pieces = [part] + [b"x" * 0x10000] * body_chunks if body_chunks else []
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(head.encode())
        try:
            for piece in pieces:
                if select.select([conn], [], [], 0)[0]:
                    break  # answered already: stop sending
                conn.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
        except OSError:
            pass  # the server closed the connection after answering
        answer = b""
        with contextlib.suppress(ConnectionResetError):  # closed with our unread body in its buffer
            while chunk := conn.recv(65536):
                answer += chunk
        return answer


def test_oversized_body_is_refused_before_it_is_read(tmp_path: Path) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(tmp_path / "home"), str(port)],
        cwd=ROOT,
        env={**os.environ, "TMPDIR": str(scratch)},
    )
    try:
        deadline = time.time() + 180
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("the server did not start")
        path = "/api/workspaces/acme/questionnaires"  # the upload route: no credentials are sent
        head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
        _post(port, head + "Content-Length: 2000000\r\n\r\n")  # warm up
        before = _rss_mb(server.pid)
        after_startup = sorted(os.listdir(scratch))

        declared = _post(port, head + f"Content-Length: {10 * 1024 * MB}\r\n\r\n", body_chunks=4)
        assert declared.startswith(b"HTTP/1.1 413"), declared[:200]
        assert b"the request body is 10240 MB; the limit is 1 MB (max_request_mb)" in declared
        assert b"x-content-type-options: nosniff" in declared.lower()  # a refusal carries the security headers too
        streamed = _post(port, head + "Transfer-Encoding: chunked\r\n\r\n", body_chunks=48, chunked=True)
        assert streamed.startswith(b"HTTP/1.1 413"), streamed[:200]
        assert b"the request body is over 1 MB; the limit is 1 MB (max_request_mb)" in streamed

        assert _rss_mb(server.pid) - before < 50
        assert sorted(os.listdir(scratch)) == after_startup and "rolled-over" not in after_startup
    finally:
        server.terminate()
        server.wait(timeout=30)
