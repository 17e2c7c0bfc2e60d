"""Request and response bodies, as they appear in the OpenAPI schema at /docs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Login(BaseModel):
    email: str
    password: str


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    email: str
    name: str


class TokenIn(BaseModel):
    name: str = ""


class TokenOut(BaseModel):
    token: str = Field(description="Shown once; send it as `Authorization: Bearer <token>`.")


class WorkspaceIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)


class WorkspaceOut(BaseModel):
    name: str
    role: str


class MemberIn(BaseModel):
    email: str
    role: Literal["viewer", "reviewer", "admin"]


class IngestResult(BaseModel):
    file: str
    entries: int = 0
    skipped: int = 0
    error: str | None = None


class EntryOut(BaseModel):
    id: str
    source: str
    locator: str
    sheet: str | None
    section: list[str]
    question: str
    choice: str | None
    answer: str
    product: str | None
    language: str
    provenance: dict[str, Any] | None = None
    score: float | None = None


class QuestionnaireOut(BaseModel):
    id: int
    workspace: str
    name: str
    product: str | None
    status: str
    total: int
    done: int
    failed: int
    fallbacks: int = Field(0, description="Drafts the LLM could not make, drafted offline (each item says why).")
    counts: dict[str, int]
    created_at: datetime


class CitationOut(BaseModel):
    entry_id: str
    source: str
    locator: str
    text: str
    product: str | None = None


class ItemOut(BaseModel):
    id: int
    questionnaire_id: int
    position: int
    ref: str
    question: str
    language: str
    status: str
    choice: str | None
    answer: str
    draft_choice: str | None
    draft_answer: str
    confidence: float
    confidence_source: str = Field("", description="Which calibration the confidence came from.")
    drafter: str
    flags: list[str] = []
    draft_note: str = ""
    citations: list[CitationOut]
    assignee: str | None
    version: int
    error: str


class VersionIn(BaseModel):
    version: int = Field(description="The item version the change is based on; a stale one gets 409.")


class EditIn(VersionIn):
    choice: str | None = None
    answer: str = ""


class AssignIn(VersionIn):
    assignee: str | None = Field(default=None, description="Email of a workspace member, or null to unassign.")


class CommentIn(BaseModel):
    text: str = Field(min_length=1, max_length=10_000)


class CommentOut(BaseModel):
    id: int
    user: str | None
    text: str
    created_at: datetime
    mentions: list[str] = Field(default=[], description="Emails of the workspace members the comment @-mentions.")


class BulkItemIn(BaseModel):
    id: int
    version: int


class BulkAcceptIn(BaseModel):
    min_confidence: float = Field(ge=0, le=1)
    items: list[BulkItemIn] | None = Field(
        default=None,
        max_length=100_000,
        description="The items previewed, with the versions seen: only these are accepted, if still unchanged.",
    )


class BulkAcceptOut(BaseModel):
    accepted: int
    batch_id: int | None = Field(default=None, description="Undo it with POST .../bulk-accept/undo.")
    item_ids: list[int] = []
    undo_until: datetime | None = None


class AuditOut(BaseModel):
    id: int
    at: datetime
    user: str | None
    action: str
    item_id: int | None
    questionnaire_id: int | None = None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class ErrorOut(BaseModel):
    detail: str
    current: ItemOut | None = None


# --- the reviewer's desk ---


class DeskItemOut(ItemOut):
    section: str = ""
    band: Literal["high", "medium", "low", "none"] = Field(description="Confidence band (none: nothing to trust).")
    comments: int = 0
    mentions_me: bool = False
    updated_at: datetime | None = None
    updated_by: str | None = None


class ProgressOut(BaseModel):
    total: int
    reviewed: int = Field(description="Accepted, edited, rejected or sent to an expert.")
    approved: int = Field(description="Accepted or edited.")
    drafted: int
    share: float = Field(description="reviewed / total")
    counts: dict[str, int]


class DeskOut(BaseModel):
    questionnaire: QuestionnaireOut
    due_date: date | None
    progress: ProgressOut
    sections: list[str]
    me: str
    can_review: bool
    members: list[str]
    items: list[DeskItemOut]


class DigestOut(BaseModel):
    status: str
    progress: ProgressOut
    due_date: date | None
    items: list[tuple[int, int, int]] = Field(description="[item id, version, comment count] per item, in order.")


class FlagOut(BaseModel):
    flag: str
    text: str


class EvidenceOut(BaseModel):
    source: str
    locator: str
    product: str | None
    text: str
    spans: list[tuple[int, int]] = Field(description="[start, end) of the words the question shares.")
    date: date | None
    language: str | None
    approved_by: str | None


class WhyOut(BaseModel):
    item_id: int
    band: str
    confidence: float
    flags: list[FlagOut]
    note: str
    citations: list[EvidenceOut]


class DueDateIn(BaseModel):
    due_date: date | None


class DueDateOut(BaseModel):
    due_date: date | None


class BriefItemOut(BaseModel):
    id: int
    ref: str
    question: str
    confidence: float
    version: int
    flags: list[str]


class BulkPreviewOut(BaseModel):
    min_confidence: float
    count: int
    items: list[BriefItemOut]
    flagged: list[BriefItemOut] = Field(description="Drafts in the band that are flagged: never bulk accepted.")


class BulkUndoIn(BaseModel):
    batch_id: int = Field(ge=1, le=2**63 - 1, description="The batch_id a bulk accept returned.")


class BulkUndoOut(BaseModel):
    restored: list[int] = Field(description="Items back to drafted.")
    kept: list[int] = Field(description="Items changed since the bulk accept, left as they are.")


class ExportSummaryOut(BaseModel):
    total: int
    approved: int = Field(description="Rows an approved-only export writes.")
    blank: int = Field(description="Rows an approved-only export leaves blank.")
    unapproved: int
    counts: dict[str, int]
