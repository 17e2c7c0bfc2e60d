"""PDF (pypdf): the extracted text, read as a table or as a policy's sections.

A PDF is a program more than a document: a few kilobytes can inflate to gigabytes (a FlateDecode
stream), name thousands of pages, or hand the text extractor a million operators (pypdf spends
tens of microseconds on each). So the pages are capped, pypdf's own decoding limits are set from
ours for the duration of the parse, and the operators the extractor runs are counted across the
whole document, pages and the forms they draw alike, and refused past the limit.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from typing import Any

import pypdf
from pypdf import PdfReader
from pypdf.errors import LimitReachedError, PyPdfError

from service.ingest.limits import Limits, megabytes
from service.ingest.model import IngestError, ParsedDocument
from service.ingest.parsers.text_file import parse_text


class _TooMuchWork(Exception):
    """Raised from inside pypdf's extraction loop to stop it; turned into an IngestError below."""


@contextlib.contextmanager
def _pypdf_limits(limits: Limits) -> Iterator[None]:
    """pypdf's decoding limits, at most ours, for this parse only (a context variable: threads
    parsing other files keep their own)."""
    apply = getattr(pypdf, "apply_configuration", None)
    if apply is None:  # pypdf before 6.x: its module-level defaults (75 MB per stream) apply
        yield
        return
    cap = limits.max_pdf_content_bytes
    current = pypdf.get_configuration()
    names = (
        "maximum_declared_stream_length",
        "array_based_stream_maximum_output_length",
        "lzw_maximum_output_length",
        "run_length_maximum_output_length",
        "zlib_maximum_output_length",
        "brotli_maximum_output_length",
        "jbig2_maximum_output_length",
        "image_maximum_buffer_size",
    )
    overrides: dict[str, Any] = {n: min(getattr(current, n), cap) for n in names if hasattr(current, n)}
    if hasattr(current, "stream_parsing_work_maximum_count"):
        overrides["stream_parsing_work_maximum_count"] = min(
            current.stream_parsing_work_maximum_count, limits.max_pdf_operations
        )
    with apply(**overrides):
        yield


def _extract(file: str, reader: PdfReader, limits: Limits) -> str:
    pages = len(reader.pages)
    if pages > limits.max_pdf_pages:
        raise IngestError(file, f"the PDF has {pages} pages; the limit is {limits.max_pdf_pages} (max_pdf_pages)")
    operations = 0

    def count(*_: object) -> None:
        nonlocal operations
        operations += 1
        if operations > limits.max_pdf_operations:
            raise _TooMuchWork

    texts: list[str] = []
    chars = 0
    for number, page in enumerate(reader.pages, start=1):
        try:
            text = page.extract_text(visitor_operand_before=count) or ""
            if operations > limits.max_pdf_operations:
                raise _TooMuchWork  # pypdf logs and skips a form that fails: its last count may not stop it
        except _TooMuchWork:
            raise IngestError(
                file,
                f"extracting the text takes more than {limits.max_pdf_operations} drawing operations "
                f"(reached on page {number}; limit max_pdf_operations)",
            ) from None
        chars += len(text)
        if chars > limits.max_pdf_content_bytes:
            raise IngestError(
                file,
                f"the PDF's text is longer than {megabytes(limits.max_pdf_content_bytes)} "
                f"(reached on page {number}; limit max_pdf_content_mb)",
            )
        texts.append(text)
    return "\n".join(texts)


def parse(file: str, data: bytes, limits: Limits) -> ParsedDocument:
    try:
        with _pypdf_limits(limits):
            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted and not reader.decrypt(""):
                raise IngestError(file, "the PDF is password-protected; remove the password and retry")
            text = _extract(file, reader, limits)
    except IngestError:
        raise
    except PyPdfError as exc:  # LimitReachedError (a stream past the limits), PdfReadError, ...
        if isinstance(exc, LimitReachedError):
            raise IngestError(
                file,
                f"the PDF exceeds a safety limit ({str(exc)[:200]}); a stream may decode to at most "
                f"{megabytes(limits.max_pdf_content_bytes)} (max_pdf_content_mb)",
            ) from exc
        raise IngestError(file, f"not a readable PDF ({type(exc).__name__}: {str(exc)[:200]})") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise IngestError(file, f"not a readable PDF ({type(exc).__name__}: {str(exc)[:200]})") from exc
    if not text.strip():
        raise IngestError(file, "the PDF has no text layer (a scan?); OCR it first")
    return parse_text(file, text, limits)
