"""Drafting answers to a customer's questionnaire, with citations to the exact prior entries.

Public surface: `read_questionnaire`, `Questionnaire`, `draft_questionnaire`, `get_drafter`,
`Draft`, `Citation`, `DRAFTED`, `NO_EVIDENCE`.
"""

from __future__ import annotations

from service.drafting.model import DRAFTED, NO_EVIDENCE, Citation, Draft
from service.drafting.offline import OfflineDrafter
from service.drafting.questionnaire import Questionnaire, read_questionnaire
from service.drafting.service import Drafter, draft_questionnaire
from service.knowledge_base import KnowledgeBase

__all__ = [
    "DRAFTED",
    "NO_EVIDENCE",
    "Citation",
    "Draft",
    "Drafter",
    "Questionnaire",
    "draft_questionnaire",
    "get_drafter",
    "read_questionnaire",
]


def get_drafter(kb: KnowledgeBase) -> Drafter:
    """The drafter chosen in settings (one place)."""
    match kb.settings.drafter:
        case "offline":
            return OfflineDrafter(kb)
        case "llm":
            from service.drafting.llm import LLMDrafter

            return LLMDrafter(kb)
        case other:
            raise ValueError(f"unknown drafter {other!r}")
