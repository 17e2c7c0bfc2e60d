"""The errors of accounts, each with the HTTP status the API answers it with."""

from __future__ import annotations


class AccountError(ValueError):
    """Refused input (a weak password, a bad workspace name, ...): 422 over HTTP, exit 1 in the CLI."""

    status_code = 422


class NotAllowed(AccountError):
    """The caller may not do this at all (e.g. create a workspace without being an instance admin)."""

    status_code = 403


class WrongPassword(AccountError):
    """The current password given to change it is not the user's."""

    status_code = 403


class LastAdmin(AccountError):
    """The change would leave a workspace without an admin."""

    status_code = 409


class WorkspaceExists(AccountError):
    status_code = 409


class UserNotFound(LookupError):
    pass


class TokenNotFound(LookupError):
    pass
