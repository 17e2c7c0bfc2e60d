"""Drafting answers to a customer's questionnaire, with citations to the exact prior entries.

Public surface: `draft_requests` and `draft_questionnaire` (the one pipeline), `get_drafter`,
`Request`, `Draft`, `Citation`, `DRAFTED`, `NO_EVIDENCE`, `question_key`. `read_questionnaire`
and `Questionnaire` (the parsed file) are kept here for scripts; they live in service.questionnaires.
"""

from __future__ import annotations

from service.drafting.model import DRAFTED, NO_EVIDENCE, Citation, Draft
from service.drafting.offline import OfflineDrafter
from service.drafting.pipeline import Drafter, draft_questionnaire, draft_requests, question_key, requests_for
from service.drafting.request import Request
from service.knowledge_base import KnowledgeBase
from service.questionnaires import QuestionnaireFile as Questionnaire
from service.questionnaires import read_questionnaire

__all__ = [
    "DRAFTED",
    "NO_EVIDENCE",
    "Citation",
    "Draft",
    "Drafter",
    "Questionnaire",
    "Request",
    "draft_questionnaire",
    "draft_requests",
    "get_drafter",
    "question_key",
    "read_questionnaire",
    "requests_for",
]


def get_drafter(kb: KnowledgeBase) -> Drafter:
    """The drafter chosen in settings (one place); confidence calibrated per workspace unless turned off."""
    per_workspace = kb.settings.calibration == "auto"
    match kb.settings.drafter:
        case "offline":
            return OfflineDrafter(kb, per_workspace=per_workspace)
        case "llm":
            from service.drafting.llm import LLMDrafter

            return LLMDrafter(kb, per_workspace=per_workspace)
        case other:
            raise ValueError(f"unknown drafter {other!r}")
