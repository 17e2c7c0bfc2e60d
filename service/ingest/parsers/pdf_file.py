"""PDF (pypdf): the extracted text, read as a table or as a policy's sections."""

from __future__ import annotations

import io

from pypdf import PdfReader
from pypdf.errors import PdfReadError

from service.ingest.limits import Limits
from service.ingest.model import IngestError, ParsedDocument
from service.ingest.parsers.text_file import parse_text


def parse(file: str, data: bytes, limits: Limits) -> ParsedDocument:
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise IngestError(file, "the PDF is password-protected; remove the password and retry")
        text = "\n".join(page.extract_text() or "" for page in reader.pages)
    except IngestError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise IngestError(file, f"not a readable PDF ({exc})") from exc
    if not text.strip():
        raise IngestError(file, "the PDF has no text layer (a scan?); OCR it first")
    return parse_text(file, text, limits)
