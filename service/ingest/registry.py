"""Which parser reads which file: chosen by file type, every parser returning a ParsedDocument."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from service.ingest.limits import Limits
from service.ingest.model import IngestError, ParsedDocument
from service.ingest.parsers import csv_file, docx_file, pdf_file, text_file, xlsx_file

Parser = Callable[[str, bytes, Limits], ParsedDocument]

PARSERS: dict[str, Parser] = {
    ".xlsx": xlsx_file.parse,
    ".xlsm": xlsx_file.parse,
    ".csv": csv_file.parse,
    ".tsv": csv_file.parse,
    ".txt": text_file.parse,
    ".md": text_file.parse,
    ".markdown": text_file.parse,
    ".docx": docx_file.parse,
    ".pdf": pdf_file.parse,
}

SUPPORTED = tuple(sorted(PARSERS))

log = logging.getLogger(__name__)


def parse_bytes(name: str, data: bytes, limits: Limits | None = None) -> ParsedDocument:
    """Parse one file's content; `name` gives the type (by its suffix) and names it in errors."""
    limits = limits or Limits()
    suffix = Path(name).suffix.lower()
    if suffix == ".xls":
        raise IngestError(name, "old Excel 97-2003 (.xls) files are not supported; save the sheet as .xlsx")
    parser = PARSERS.get(suffix)
    if parser is None:
        kind = f"'{suffix}'" if suffix else "without a suffix"
        raise IngestError(name, f"unsupported file type {kind}; supported: {', '.join(SUPPORTED)}")
    if not data or not data.strip():
        raise IngestError(name, "the file is empty")
    if len(data) > limits.max_file_bytes:
        raise IngestError(
            name,
            f"the file is {len(data) / 1e6:.1f} MB; the limit is {limits.max_file_bytes / 1e6:.0f} MB (max_file_mb)",
        )
    try:
        return parser(name, data, limits)
    except IngestError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever a library raises on a customer's file is that file's error
        # The parsers turn the failures they expect into IngestError; anything else (a library
        # tripping over an odd construction, a recursion limit) still names the file for the
        # person who uploaded it, and is logged with its traceback for whoever maintains Kotae.
        log.exception("parsing %s failed unexpectedly", name)
        raise IngestError(
            name,
            f"the file could not be read ({type(exc).__name__}: {str(exc)[:200]}); "
            "it may be damaged, or built in a way Kotae does not support",
        ) from exc


def parse_file(path: Path | str, limits: Limits | None = None) -> ParsedDocument:
    path = Path(path)
    limits = limits or Limits()
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise IngestError(path.name, f"cannot read the file: {exc.strerror or exc}") from exc
    if size > limits.max_file_bytes:
        raise IngestError(
            path.name,
            f"the file is {size / 1e6:.1f} MB; the limit is {limits.max_file_bytes / 1e6:.0f} MB (max_file_mb)",
        )
    return parse_bytes(path.name, path.read_bytes(), limits)
