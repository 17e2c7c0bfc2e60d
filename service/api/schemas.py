"""Request and response bodies, as they appear in the OpenAPI schema at /docs."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from service.accounts.models import aware

# The largest id or version any table holds: their columns are INTEGER, 32 bits on PostgreSQL (which
# refuses a larger number even in a WHERE: "integer out of range"). Beyond it a 422, never a 500.
MAX_ID = 2**31 - 1
# Column sizes the request fields are stored in (service/*/models.py): a longer value is a 422 here,
# never a database error (PostgreSQL refuses an over-long VARCHAR; SQLite would store it silently).
EMAIL_CHARS = 320
NAME_CHARS = 200
CHOICE_CHARS = 20


def as_utc(value: datetime) -> datetime:
    """The same instant, timezone-aware in UTC. SQLite gives back the stored UTC time without its
    zone (a browser would read it as local time), PostgreSQL gives it in the session's zone."""
    return aware(value).astimezone(UTC)


# Every datetime a response carries: serialized as ISO 8601 in UTC ("...Z") on either database.
UtcDateTime = Annotated[datetime, AfterValidator(as_utc)]


class RequestBody(BaseModel):
    """Every JSON body a route takes: text without NUL characters (PostgreSQL cannot store them, and no
    legitimate answer, comment or name holds one), refused as a 422 naming the field."""

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL (\\u0000) characters")
        return value


class Login(RequestBody):
    email: str = Field(max_length=EMAIL_CHARS)
    password: str = Field(max_length=1024)


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    email: str
    name: str
    is_instance_admin: bool = Field(
        False, description="May create workspaces (as may everyone when KOTAE_OPEN_WORKSPACE_CREATION is on)."
    )


class TokenIn(RequestBody):
    name: str = Field("", max_length=NAME_CHARS)


class TokenOut(BaseModel):
    token: str = Field(description="Shown once; send it as `Authorization: Bearer <token>`.")


class WorkspaceIn(RequestBody):
    name: str = Field(min_length=1, max_length=100)


class WorkspaceOut(BaseModel):
    name: str
    role: str


class MemberIn(RequestBody):
    email: str = Field(max_length=EMAIL_CHARS)
    role: Literal["viewer", "reviewer", "admin"]


class IngestResult(BaseModel):
    """One uploaded file's outcome. Each file is stored whole or not at all: `stored` says which."""

    file: str
    entries: int = 0
    skipped: int = 0
    error: str | None = None
    stored: bool = Field(False, description="The file's entries are in the knowledge base (all of them).")
    status: Literal["added", "replaced", "unchanged", "failed"] = Field(
        "failed", description="added, replaced (an earlier upload of the file), unchanged (the same bytes), failed."
    )


class SourceOut(BaseModel):
    name: str
    kind: str
    entries: int
    sheet_date: date | None
    ingested_at: UtcDateTime


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
    created_at: UtcDateTime
    error: str = Field("", description="Why drafting failed as a whole (status failed); empty otherwise.")


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


class VersionIn(RequestBody):
    version: int = Field(ge=0, le=MAX_ID, description="The item version the change is based on; a stale one gets 409.")


class EditIn(VersionIn):
    choice: str | None = Field(None, max_length=CHOICE_CHARS)
    answer: str = ""


class AssignIn(VersionIn):
    assignee: str | None = Field(
        default=None, max_length=EMAIL_CHARS, description="Email of a workspace member, or null to unassign."
    )


class CommentIn(RequestBody):
    text: str = Field(min_length=1, max_length=10_000)


class CommentOut(BaseModel):
    id: int
    user: str | None
    text: str
    created_at: UtcDateTime
    mentions: list[str] = Field(default=[], description="Emails of the workspace members the comment @-mentions.")


class BulkItemIn(RequestBody):
    id: int = Field(ge=1, le=MAX_ID)
    version: int = Field(ge=0, le=MAX_ID)


class BulkAcceptIn(RequestBody):
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
    undo_until: UtcDateTime | None = None


class AuditOut(BaseModel):
    id: int
    at: UtcDateTime
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
    updated_at: UtcDateTime | None = None
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


class DueDateIn(RequestBody):
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


class BulkUndoIn(RequestBody):
    batch_id: int = Field(ge=1, le=MAX_ID, description="The batch_id a bulk accept returned.")


class BulkUndoOut(BaseModel):
    restored: list[int] = Field(description="Items back to drafted.")
    kept: list[int] = Field(description="Items changed since the bulk accept, left as they are.")


class ExportSummaryOut(BaseModel):
    total: int
    approved: int = Field(description="Rows an approved-only export writes.")
    blank: int = Field(description="Rows an approved-only export leaves blank.")
    unapproved: int
    counts: dict[str, int]
