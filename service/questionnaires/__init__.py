"""Questionnaires: a customer's file read into questions, stored for drafting and review.

Public surface: `read_questionnaire`, `QuestionnaireFile`, `item_ref` (parsing);
`create_questionnaire`, `questionnaires_of`, `list_items`, `status_counts`, `progress`,
`fallback_count`, `stored_file` (stored questionnaires); the models `Questionnaire`, `Item` and
the item statuses.
"""

from service.questionnaires.intake import (
    create_questionnaire,
    fallback_count,
    list_items,
    progress,
    questionnaires_of,
    status_counts,
    stored_file,
)
from service.questionnaires.models import (
    ACCEPTED,
    APPROVED,
    DRAFTED,
    EDITED,
    FAILED,
    NEEDS_EXPERT,
    NO_EVIDENCE,
    PENDING,
    REJECTED,
    Item,
    Questionnaire,
)
from service.questionnaires.parse import QuestionnaireFile, item_ref, read_questionnaire

__all__ = [
    "ACCEPTED",
    "APPROVED",
    "DRAFTED",
    "EDITED",
    "FAILED",
    "NEEDS_EXPERT",
    "NO_EVIDENCE",
    "PENDING",
    "REJECTED",
    "Item",
    "Questionnaire",
    "QuestionnaireFile",
    "create_questionnaire",
    "fallback_count",
    "item_ref",
    "list_items",
    "progress",
    "questionnaires_of",
    "read_questionnaire",
    "status_counts",
    "stored_file",
]
