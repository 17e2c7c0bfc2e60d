"""Drafting a whole questionnaire: one draft per question, identical questions drafted once."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from sqlalchemy.orm import Session

from service.drafting.model import Draft
from service.drafting.questionnaire import Questionnaire, item_ref

Progress = Callable[[int, int], None]


class Drafter(Protocol):
    name: str

    def draft(
        self, session: Session, workspace: str, ref: str, question: str, language: str, product: str | None
    ) -> Draft: ...


def _key(question: str, product: str | None) -> tuple[str, str]:
    return " ".join(unicodedata.normalize("NFKC", question).lower().split()), product or ""


def draft_questionnaire(
    session: Session,
    drafter: Drafter,
    workspace: str,
    questionnaire: Questionnaire,
    product: str | None = None,
    progress: Progress | None = None,
) -> list[Draft]:
    """Drafts in the questionnaire's order. Only this workspace's entries can ever be cited."""
    done: dict[tuple[str, str], Draft] = {}
    drafts: list[Draft] = []
    total = len(questionnaire.items)
    for number, item in enumerate(questionnaire.items, start=1):
        item_product = item.product or product
        key = _key(item.question, item_product)
        ref = item_ref(item)
        if key in done:
            drafts.append(replace(done[key], ref=ref))
        else:
            draft = drafter.draft(session, workspace, ref, item.question, item.language, item_product)
            done[key] = draft
            drafts.append(draft)
        if progress:
            progress(number, total)
    return drafts
