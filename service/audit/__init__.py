"""The audit trail: every change a person (or a job) makes, with the state before and after.

Public surface: `record(session, workspace_id, action, user, ...)`, `for_questionnaire`,
`AuditEvent`. Callers own the transaction: an audited change and its audit row commit together.
"""

from service.audit.models import AuditEvent
from service.audit.service import for_questionnaire, record

__all__ = ["AuditEvent", "for_questionnaire", "record"]
