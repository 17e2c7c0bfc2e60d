"""Users, passwords, API tokens, browser sessions, roles per workspace.

Public surface: the functions of `service.accounts.service`, `.tokens` and `.sessions`, the models
`User`, `Membership`, `ApiToken`, `UserSession`, `ROLES`, the errors, and `LoginThrottle`.
"""

from service.accounts.errors import (
    AccountError,
    LastAdmin,
    NotAllowed,
    TokenNotFound,
    UserNotFound,
    WorkspaceExists,
    WrongPassword,
)
from service.accounts.models import ROLES, ApiToken, Membership, User, UserSession
from service.accounts.passwords import check_password
from service.accounts.service import (
    adopt_workspace,
    authenticate,
    change_password,
    create_token,
    create_user,
    create_workspace,
    email_of,
    get_user,
    has_role,
    list_users,
    members,
    remove_member,
    role_in,
    set_active,
    set_instance_admin,
    set_password,
    set_role,
    user_by_email,
    user_for_token,
    validate_workspace_name,
    workspaces_of,
)
from service.accounts.sessions import end_session, end_sessions, find_session, session_user, start_session
from service.accounts.throttle import LoginThrottle
from service.accounts.tokens import issue_token, list_tokens, revoke_token, revoke_tokens, token_row

__all__ = [
    "ROLES",
    "AccountError",
    "ApiToken",
    "LastAdmin",
    "LoginThrottle",
    "Membership",
    "NotAllowed",
    "TokenNotFound",
    "User",
    "UserNotFound",
    "UserSession",
    "WorkspaceExists",
    "WrongPassword",
    "adopt_workspace",
    "authenticate",
    "change_password",
    "check_password",
    "create_token",
    "create_user",
    "create_workspace",
    "email_of",
    "end_session",
    "end_sessions",
    "find_session",
    "get_user",
    "has_role",
    "issue_token",
    "list_tokens",
    "list_users",
    "members",
    "remove_member",
    "revoke_token",
    "revoke_tokens",
    "role_in",
    "session_user",
    "set_active",
    "set_instance_admin",
    "set_password",
    "set_role",
    "start_session",
    "token_row",
    "user_by_email",
    "user_for_token",
    "validate_workspace_name",
    "workspaces_of",
]
