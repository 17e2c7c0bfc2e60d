"""Request and response bodies, as they appear in the OpenAPI schema at /docs."""

from __future__ import annotations

from datetime import datetime
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


class BulkAcceptIn(BaseModel):
    min_confidence: float = Field(ge=0, le=1)


class BulkAcceptOut(BaseModel):
    accepted: int


class AuditOut(BaseModel):
    id: int
    at: datetime
    user: str | None
    action: str
    item_id: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class ErrorOut(BaseModel):
    detail: str
    current: ItemOut | None = None
