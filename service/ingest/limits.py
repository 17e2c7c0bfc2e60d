"""Limits on what one file may hold, so a huge upload fails fast with a clear message."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int = 50 * 1024 * 1024
    max_cell_chars: int = 20_000
    max_rows: int = 100_000
