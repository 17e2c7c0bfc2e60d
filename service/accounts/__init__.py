"""Users, passwords, API tokens and roles per workspace.

Public surface: the functions of `service.accounts.service` and the models `User`, `Membership`,
`ApiToken`, `ROLES`.
"""

from service.accounts.models import ROLES, ApiToken, Membership, User
from service.accounts.service import (
    AccountError,
    UserNotFound,
    authenticate,
    create_token,
    create_user,
    email_of,
    get_user,
    has_role,
    list_users,
    members,
    role_in,
    set_active,
    set_password,
    set_role,
    user_by_email,
    user_for_token,
    workspaces_of,
)

__all__ = [
    "ROLES",
    "AccountError",
    "ApiToken",
    "Membership",
    "User",
    "UserNotFound",
    "authenticate",
    "create_token",
    "create_user",
    "email_of",
    "get_user",
    "has_role",
    "list_users",
    "members",
    "role_in",
    "set_active",
    "set_password",
    "set_role",
    "user_by_email",
    "user_for_token",
    "workspaces_of",
]
