"""Reading answered (and unanswered) questionnaires and policies into one item shape.

Public surface: `parse_file`, `parse_bytes`, `SUPPORTED`, `ParsedDocument`, `ParsedItem`,
`IngestError`, `Limits`.
"""

from service.ingest.limits import Limits
from service.ingest.model import CellRef, IngestError, ParsedDocument, ParsedItem, SkippedRow
from service.ingest.registry import SUPPORTED, parse_bytes, parse_file

__all__ = [
    "SUPPORTED",
    "CellRef",
    "IngestError",
    "Limits",
    "ParsedDocument",
    "ParsedItem",
    "SkippedRow",
    "parse_bytes",
    "parse_file",
]
