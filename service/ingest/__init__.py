"""Reading answered (and unanswered) questionnaires and policies into one item shape.

Public surface: `parse_file`, `parse_bytes`, `SUPPORTED`, `ParsedDocument`, `ParsedItem`,
`IngestError`, `Limits`.

The parsers (openpyxl, python-docx, pypdf: half a second of imports) load on first use of
`parse_file`, `parse_bytes` or `SUPPORTED`: commands that only read the database (`kotae kb
stats`) import the item shapes without them.
"""

from typing import TYPE_CHECKING, Any

from service.ingest.limits import Limits
from service.ingest.model import CellRef, IngestError, ParsedDocument, ParsedItem, SkippedRow

if TYPE_CHECKING:
    from service.ingest.registry import SUPPORTED, parse_bytes, parse_file

_FROM_REGISTRY = {"SUPPORTED", "parse_bytes", "parse_file"}


def __getattr__(name: str) -> Any:
    if name in _FROM_REGISTRY:
        from service.ingest import registry

        return getattr(registry, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
