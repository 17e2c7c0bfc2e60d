"""The reviewer's desk: what the review page needs beside the state machine.

Progress and filters over a questionnaire's items, comments that @-mention members, a due date,
a workspace's timeline (`board`); why a draft is as it is: flags in words, each citation's date and
matched words (`why`); bulk accepts that preview what they would accept and can be undone for a
while (`bulk`). Functions take the caller's session and never commit.
"""

from service.review.desk.board import (
    BANDS,
    OPEN,
    REVIEWED,
    ExportSummary,
    Progress,
    band,
    comment,
    comment_counts,
    export_summary,
    filter_items,
    item_digest,
    items_by_id,
    members_mentioned,
    mentioned_items,
    review_progress,
    sections,
    set_due_date,
    thread,
    workspace_events,
)
from service.review.desk.bulk import (
    UNDO_WINDOW,
    BatchNotFound,
    UndoClosed,
    bulk_accept,
    bulk_candidates,
    undo_bulk,
    undo_until,
)
from service.review.desk.why import Evidence, evidence, flag_words, highlight_spans

__all__ = [
    "BANDS",
    "OPEN",
    "REVIEWED",
    "UNDO_WINDOW",
    "BatchNotFound",
    "Evidence",
    "ExportSummary",
    "Progress",
    "UndoClosed",
    "band",
    "bulk_accept",
    "bulk_candidates",
    "comment",
    "comment_counts",
    "evidence",
    "export_summary",
    "filter_items",
    "flag_words",
    "highlight_spans",
    "item_digest",
    "items_by_id",
    "members_mentioned",
    "mentioned_items",
    "review_progress",
    "sections",
    "set_due_date",
    "thread",
    "undo_bulk",
    "undo_until",
    "workspace_events",
]
