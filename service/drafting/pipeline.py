"""The one drafting pipeline: the CLI, the API's drafting job and the eval all draft through here.

Identical questions (same words after normalisation, same product) are drafted once; every
question gets its own draft, in order, under its own reference.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Protocol

from sqlalchemy.orm import Session

from service.drafting.model import Draft
from service.drafting.offline import EvidenceObserver
from service.drafting.request import Request
from service.questionnaires import QuestionnaireFile, item_ref

Progress = Callable[[int, int], None]


class Drafter(Protocol):
    name: str

    def draft_batch(
        self,
        session: Session,
        workspace: str,
        requests: list[Request],
        progress: Progress | None = None,
        on_evidence: EvidenceObserver | None = None,
    ) -> list[Draft]:
        """Drafts in request order; `on_evidence(request, hits)` sees what was retrieved (the eval ranks it)."""
        ...


def question_key(question: str, product: str | None) -> tuple[str, str]:
    """Questions with the same key get the same draft."""
    return " ".join(unicodedata.normalize("NFKC", question).lower().split()), product or ""


def draft_requests(
    session: Session,
    drafter: Drafter,
    workspace: str,
    requests: Sequence[Request],
    progress: Progress | None = None,
    on_evidence: EvidenceObserver | None = None,
) -> list[Draft]:
    """One draft per request, in order. Only this workspace's entries can ever be cited."""
    keys = [question_key(r.question, r.product) for r in requests]
    unique: dict[tuple[str, str], Request] = {}
    for key, request in zip(keys, requests, strict=True):
        unique.setdefault(key, request)
    drafted = drafter.draft_batch(session, workspace, list(unique.values()), progress, on_evidence)
    by_key = dict(zip(unique, drafted, strict=True))
    return [replace(by_key[key], ref=r.ref) for key, r in zip(keys, requests, strict=True)]


def requests_for(questionnaire: QuestionnaireFile, product: str | None = None) -> list[Request]:
    return [
        Request(item_ref(item), item.question, item.language, item.product or product) for item in questionnaire.items
    ]


def draft_questionnaire(
    session: Session,
    drafter: Drafter,
    workspace: str,
    questionnaire: QuestionnaireFile,
    product: str | None = None,
    progress: Progress | None = None,
) -> list[Draft]:
    """A questionnaire file drafted without storing it (the CLI's `kotae draft`)."""
    return draft_requests(session, drafter, workspace, requests_for(questionnaire, product), progress)
