"""Plain text: tab-separated tables, markdown tables (rows broken across lines included), or prose."""

from __future__ import annotations

import re

from service.ingest.encoding import decode_text
from service.ingest.limits import Limits
from service.ingest.model import IngestError, ParsedDocument, ParsedItem
from service.ingest.parsers.grid import document_from_grids
from service.ingest.table import Row
from service.ingest.text import clean_cell, detect_language, find_dates, labelled_date

# One cell of a markdown rule line ("---", ":---:"); matched against a single stripped cell, so
# there is nothing to backtrack over. (The one-regex version of the whole line,
# r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$", has two adjacent \s* and took 30 s on
# one 32k-character line of spaces.)
_RULE_CELL = re.compile(r":?-{3,}:?")
_PIPE_SPLIT = re.compile(r"(?<!\\)\|")


def is_rule_line(line: str) -> bool:
    """'|---|:---:|', '--- | ---' or '---': the line under a markdown table's header."""
    body = line.strip()
    if body.startswith("|"):
        body = body[1:]
    if body.endswith("|"):
        body = body[:-1]
    return all(_RULE_CELL.fullmatch(cell.strip()) for cell in body.split("|"))


def markdown_rows(lines: list[str]) -> list[Row]:
    """Markdown table rows as cells; a row whose text runs onto the next lines is joined back."""
    rows: list[Row] = []
    # The row being read: its first line number and its pieces, joined once complete (joining at
    # every line would copy the row again and again: quadratic on a row that never closes).
    start = 0
    pieces: list[str] = []

    def flush() -> None:
        if pieces:
            body = " ".join(pieces)
            if body.startswith("|"):
                body = body[1:]
            if body.endswith("|"):
                body = body[:-1]
            rows.append((start, [clean_cell(c.replace("\\|", "|")) for c in _PIPE_SPLIT.split(body)]))
            pieces.clear()

    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if pieces and not pieces[-1].endswith("|"):
            # The row broke in the middle of a cell: everything up to the closing pipe belongs to it.
            if stripped:
                pieces.append(stripped)
            continue
        if not stripped:
            flush()
            continue
        if "-" in stripped and is_rule_line(stripped):
            flush()
            continue
        if stripped.startswith("|"):
            flush()
            start = number
            pieces.append(stripped)
        elif pieces and "|" in stripped:
            # "有無/設定状況 | 有 | |": the rest of the previous row, which closed too early.
            pieces.append(stripped)
        else:
            flush()
            rows.append((number, [clean_cell(stripped)]))
    flush()
    return rows


def tab_rows(lines: list[str]) -> list[Row]:
    return [(number, [clean_cell(c) for c in line.split("\t")]) for number, line in enumerate(lines, start=1)]


def parse_text(file: str, text: str, limits: Limits) -> ParsedDocument:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if len(lines) > limits.max_rows:
        raise IngestError(file, f"too many lines ({len(lines)}; the limit is {limits.max_rows})")
    md_lines = sum(1 for line in lines if line.lstrip().startswith("|"))
    grid = markdown_rows(lines) if md_lines >= 3 else tab_rows(lines)
    if md_lines >= 3 or sum(1 for line in lines if "\t" in line) >= 3:
        try:
            return document_from_grids(file, [(None, grid)], row_word="line", limits=limits)
        except IngestError:
            pass  # tables that are not questionnaires (a policy's revision table): read it as prose
    return parse_prose(file, lines, limits)


# --------------------------------------------------------------------------- prose

_HEADING = re.compile(r"^(?:#{1,6}[ \t]*)?(\d{1,2}(?:[.．]\d{1,2}){0,3})[.．)）]?[ \u3000]+(\S[^\t]{0,60})$")
_MD_HEADING = re.compile(r"^#{1,6}[ \t]+(\S.{0,80})$")
_BULLET = re.compile(r"^\s*([-*•・●○◆■□]|\d{1,2}[.)）])\s*")
_HISTORY = re.compile(
    r"^(改訂履歴|変更履歴|更新履歴|版数管理|revision history|change ?log|document history)\b", re.IGNORECASE
)
# Tested on one character only (the last of a paragraph, the first of a line): a `$`-anchored
# search would scan the whole, growing paragraph at every line.
_CJK_END = re.compile(r"[\u3040-\u30ff\u3400-\u9fffA-Za-z0-9]")
_CJK_START = re.compile(r"[\u3040-\u30ff\u3400-\u9fff)）」、。]")


class _Paragraph:
    """A paragraph's lines, joined once at the end (joining as lines arrive copies it each time)."""

    def __init__(self, line: str) -> None:
        self.parts = [line]
        self.length = len(line)

    def add(self, line: str) -> None:
        self.parts.append(line)
        self.length += len(line)

    def text(self) -> str:
        return "".join(self.parts)


def _is_heading(line: str) -> tuple[str | None, str] | None:
    if "\t" in line or line.endswith(("。", ".", "、", ":", "：")):
        return None
    m = _HEADING.match(line)
    if m:
        return m.group(1).replace("．", "."), m.group(2).strip()
    m = _MD_HEADING.match(line)
    if m:
        return None, m.group(1).strip().strip("#").strip()
    return None


def parse_prose(file: str, lines: list[str], limits: Limits) -> ParsedDocument:
    """A policy document: one entry per numbered (or markdown) section, citable as evidence."""
    doc = ParsedDocument(file=file, kind="prose")
    preamble: list[str] = []
    sections: list[tuple[str | None, str, int, list[_Paragraph]]] = []  # (number, title, line, body)
    in_history = False
    history_dates = []
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        if _HISTORY.match(line):
            in_history = True
            continue
        if in_history:
            history_dates.extend(find_dates(line))
            continue
        heading = _is_heading(line)
        if heading is not None:
            sections.append((heading[0], heading[1], number, []))
            continue
        if not sections:
            preamble.append(line)
            continue
        body = sections[-1][3]
        if "\t" in line:
            line = " | ".join(c.strip() for c in line.split("\t"))
        if len(line) > limits.max_cell_chars:
            raise IngestError(file, f"a paragraph is longer than {limits.max_cell_chars} characters", row=number)
        # A sentence broken by a page or line wrap: a long line running on into a long one.
        wrapped = (
            body
            and body[-1].length >= 30
            and (len(line) >= 20 or "、" in line or "。" in line)
            and _CJK_END.match(body[-1].parts[-1][-1])
            and _CJK_START.match(line)
        )
        if wrapped and not _BULLET.match(line):
            body[-1].add(line)
        else:
            body.append(_Paragraph(line))

    doc.title = preamble[0][:200] if preamble else ""
    doc.sheet_date = next((d for d in map(labelled_date, preamble) if d), None)
    if history_dates:
        doc.sheet_date = max(history_dates)

    parents: dict[str, str] = {}
    for number, title, line_no, body in sections:
        if number:
            parents[number] = title
        if not body:
            continue
        path = []
        if number and "." in number:
            parts = number.split(".")
            for depth in range(1, len(parts)):
                prefix = ".".join(parts[:depth])
                if prefix in parents:
                    path.append(f"{prefix} {parents[prefix]}")
        answer = "\n".join(p.text() for p in body)
        doc.items.append(
            ParsedItem(
                sheet=None,
                row=line_no,
                locator=f"§{number}" if number else title,
                section=([doc.title] if doc.title else []) + path,
                question=title,
                answer=answer,
                language=detect_language(title + answer),
            )
        )
    if not doc.items:
        raise IngestError(file, "no question table and no numbered sections were found in this text")
    return doc


def parse(file: str, data: bytes, limits: Limits) -> ParsedDocument:
    try:
        text, _ = decode_text(data)
    except UnicodeDecodeError as exc:
        raise IngestError(file, "not a text file in UTF-8, UTF-8 with BOM or CP932") from exc
    return parse_text(file, text, limits)
