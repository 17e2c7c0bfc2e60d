"""Drafting a whole questionnaire: one draft per question, identical questions drafted once."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from sqlalchemy.orm import Session

from service.drafting.model import Draft
from service.drafting.questionnaire import Questionnaire, item_ref
from service.drafting.request import Request

Progress = Callable[[int, int], None]


class Drafter(Protocol):
    name: str

    def draft_batch(
        self, session: Session, workspace: str, requests: list[Request], progress: Progress | None = None
    ) -> list[Draft]: ...


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
    keys: list[tuple[str, str]] = []
    unique: dict[tuple[str, str], Request] = {}
    for item in questionnaire.items:
        item_product = item.product or product
        key = _key(item.question, item_product)
        keys.append(key)
        unique.setdefault(key, Request(item_ref(item), item.question, item.language, item_product))
    drafted = drafter.draft_batch(session, workspace, list(unique.values()), progress)
    by_key = dict(zip(unique, drafted, strict=True))
    return [replace(by_key[key], ref=item_ref(item)) for key, item in zip(keys, questionnaire.items, strict=True)]
