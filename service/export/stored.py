"""A reviewed questionnaire out of the database: the customer's file filled in, JSON or CSV."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass

from service.drafting import Citation, Draft
from service.export.cells import ExportError, safe_csv_value, sources_text
from service.export.files import FILLABLE, fill
from service.questionnaires import APPROVED, FAILED, NO_EVIDENCE, PENDING, Item, Questionnaire, stored_file

_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass
class Exported:
    content: bytes
    media_type: str
    filename: str
    rows: int  # questions answered in the export
    blank: int  # questions left without an answer (not approved, or nothing to say)


def item_draft(item: Item) -> Draft:
    """The item's current answer as a Draft: what the writers of files take."""
    citations = [
        Citation(**{k: c.get(k) for k in ("entry_id", "source", "locator", "text", "product")})
        for c in item.citations or []
    ]
    return Draft(
        item.ref,
        item.question,
        item.language,
        item.choice,
        item.answer,
        item.confidence,
        "no_evidence" if item.status == NO_EVIDENCE else "drafted",
        citations,
        item.drafter or "offline",
        flags=list(item.flags or []),
        note=item.draft_note or "",
    )


def export_questionnaire(
    questionnaire: Questionnaire, fmt: str, include_all: bool = False, cite: bool = False
) -> Exported:
    """Only accepted and edited answers unless include_all. Raises ExportError.

    The customer's own file gets answers only; `cite` adds the cited sheets in its notes column.
    """
    chosen = [
        i for i in questionnaire.items if (include_all and i.status not in (PENDING, FAILED)) or i.status in APPROVED
    ]
    stem = questionnaire.name.rsplit(".", 1)[0]
    answered = [i for i in chosen if i.answer or i.choice]
    blank = questionnaire.total - len(answered)
    if fmt == "original":
        suffix = "." + questionnaire.name.rsplit(".", 1)[-1].lower()
        if suffix not in FILLABLE:
            raise ExportError(f"cannot write answers back into a '{suffix}' file; export json or csv")
        content = fill(stored_file(questionnaire, chosen), [item_draft(i) for i in chosen], cite=cite)
        media = "text/csv" if suffix in (".csv", ".tsv") else _XLSX
        return Exported(content, media, f"{stem}_answered{suffix}", len(answered), blank)
    if fmt == "json":
        rows = [
            {
                "ref": i.ref,
                "question": i.question,
                "language": i.language,
                "choice": i.choice,
                "answer": i.answer,
                "confidence": i.confidence,
                "status": i.status,
                "flags": list(i.flags or []),
                "citations": i.citations,
            }
            for i in chosen
        ]
        data = json.dumps({"questionnaire": questionnaire.name, "items": rows}, ensure_ascii=False, indent=2)
        return Exported(data.encode("utf-8"), "application/json", f"{stem}_answered.json", len(answered), blank)
    if fmt == "csv":
        out = io.StringIO(newline="")
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(["ref", "question", "choice", "answer", "status", "confidence", "sources"])
        for i in chosen:
            row = [i.ref, i.question, i.choice or "", i.answer, i.status, f"{i.confidence:.2f}"]
            writer.writerow([safe_csv_value(v) for v in row] + [safe_csv_value(sources_text(item_draft(i)))])
        return Exported(out.getvalue().encode("utf-8-sig"), "text/csv", f"{stem}_answered.csv", len(answered), blank)
    raise ExportError(f"unknown export format {fmt!r} (original, json, csv)")
