"""Review: reviewers accept, edit, reject or escalate drafts; comments and assignment.

Public surface: `accept`, `edit`, `reject`, `needs_expert`, `assign`, `bulk_accept`,
`add_comment`, `comments`, `snapshot`; errors `ReviewError`, `InvalidTransition`, `StaleVersion`.
"""

from service.review import desk
from service.review.comments import add_comment, comments
from service.review.desk import BatchNotFound, UndoClosed
from service.review.models import BulkBatch, ItemComment
from service.review.transitions import (
    InvalidTransition,
    ReviewError,
    StaleVersion,
    accept,
    assign,
    bulk_accept,
    edit,
    needs_expert,
    reject,
    snapshot,
)

__all__ = [
    "BatchNotFound",
    "BulkBatch",
    "UndoClosed",
    "desk",
    "InvalidTransition",
    "ItemComment",
    "ReviewError",
    "StaleVersion",
    "accept",
    "add_comment",
    "assign",
    "bulk_accept",
    "comments",
    "edit",
    "needs_expert",
    "reject",
    "snapshot",
]
