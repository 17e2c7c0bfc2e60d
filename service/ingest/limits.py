"""Limits on what one file may hold, so a huge or hostile upload fails fast with a clear message.

Every limit is checked while the file is read (never by trusting what the file declares about
itself), and every refusal names the file, the limit and the value found. The defaults here
equal the ones in `Settings` (the KOTAE_MAX_* variables); `Limits.from_settings` carries them over.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

MB = 1024 * 1024


class _LimitSettings(Protocol):
    max_file_mb: int
    max_cell_chars: int
    max_rows: int
    max_columns: int
    max_cells: int
    max_shared_strings: int
    max_unzipped_mb: int
    max_zip_ratio: int
    max_zip_entries: int
    max_pdf_pages: int
    max_pdf_content_mb: int
    max_pdf_operations: int


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int = 50 * MB
    max_cell_chars: int = 20_000
    max_rows: int = 100_000
    # A value further right than this is refused: questionnaires are a few dozen columns wide,
    # and the table reader holds every sheet as a grid as wide as its rightmost value.
    max_columns: int = 1_000
    # Cells of one sheet (or elements of one XML part): the count of <c> elements read, and the
    # area of the grid (rows x columns) the table reader will hold in memory.
    max_cells: int = 2_000_000
    max_shared_strings: int = 1_000_000
    # Zip containers (xlsx, docx): the uncompressed total, and how much smaller than its content
    # a large member may be compressed (a "zip bomb" packs gigabytes at ratios of 1000:1).
    max_unzipped_bytes: int = 200 * MB
    max_zip_ratio: int = 100
    max_zip_entries: int = 10_000
    max_pdf_pages: int = 2_000
    # Any one stream pypdf decodes, and the text extracted from the whole PDF.
    max_pdf_content_bytes: int = 64 * MB
    # Content-stream operators the text extractor may run over the whole PDF: pypdf spends tens
    # of microseconds on each, so this bounds the time (a text page holds a few hundred).
    max_pdf_operations: int = 300_000

    @classmethod
    def from_settings(cls, settings: _LimitSettings) -> Limits:
        return cls(
            max_file_bytes=settings.max_file_mb * MB,
            max_cell_chars=settings.max_cell_chars,
            max_rows=settings.max_rows,
            max_columns=settings.max_columns,
            max_cells=settings.max_cells,
            max_shared_strings=settings.max_shared_strings,
            max_unzipped_bytes=settings.max_unzipped_mb * MB,
            max_zip_ratio=settings.max_zip_ratio,
            max_zip_entries=settings.max_zip_entries,
            max_pdf_pages=settings.max_pdf_pages,
            max_pdf_content_bytes=settings.max_pdf_content_mb * MB,
            max_pdf_operations=settings.max_pdf_operations,
        )


def megabytes(size: int) -> str:
    return f"{size / MB:.1f} MB"
