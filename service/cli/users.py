"""`kotae users`: accounts and their roles, for the first admin and for whoever runs the server."""

from __future__ import annotations

from typing import Annotated, Literal

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy.orm import Session

from service.accounts import (
    AccountError,
    User,
    UserNotFound,
    create_token,
    create_user,
    get_user,
    list_users,
    set_active,
    set_instance_admin,
    set_password,
    set_role,
    user_by_email,
)
from service.cli.common import JsonFlag, WorkspaceOpt, console, db_session, fail, print_json, workspace_name

users_app = typer.Typer(
    help=(
        "Manage users. `add` creates a new user with a role; `role` gives an existing user a role in a "
        "workspace (or changes it); `deactivate`, `activate`, `reset-password`, `instance-admin` and `list` "
        "do what they say. Passwords need 12 characters or more, not a common one, not the email."
    ),
    no_args_is_help=True,
)

EmailArg = Annotated[str, typer.Argument(help="The user's email (their login).")]
# service.accounts.ROLES, spelled out so that --help lists the choices (tests/test_cli.py checks they match).
Role = Literal["viewer", "reviewer", "admin"]
PasswordOpt = Annotated[
    str | None,
    typer.Option(envvar="KOTAE_NEW_USER_PASSWORD", help="Default: KOTAE_NEW_USER_PASSWORD, else asked for, hidden."),
]


def find_user(session: Session, email: str) -> User:
    try:
        return get_user(session, email)
    except UserNotFound as exc:
        fail(f"{exc}: `kotae users list` shows who exists")


def ask_password(password: str | None) -> str:
    return password if password is not None else typer.prompt("Password", hide_input=True, confirmation_prompt=True)


@users_app.command("add")
def users_add(
    email: EmailArg,
    workspace: WorkspaceOpt = None,
    role: Annotated[Role, typer.Option(help="Role in the workspace.")] = "admin",
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    password: PasswordOpt = None,
    token: Annotated[bool, typer.Option("--token", help="Also print a new API token for the user.")] = False,
    instance_admin: Annotated[
        bool, typer.Option("--instance-admin", help="May create workspaces (the first user ever created is one).")
    ] = False,
) -> None:
    """Create a new user (the first admin, typically) with a role in a workspace.

    For a user who exists already, use `kotae users role` instead.
    """
    ws = workspace_name(workspace)
    with db_session() as session:
        if user_by_email(session, email) is not None:
            fail(f"a user with email {email.strip().lower()} exists already: `kotae users role` gives them a role", 1)
    password = ask_password(password)  # asked with no transaction open
    with db_session() as session:
        try:
            user = create_user(session, email, password, name, instance_admin=instance_admin)
            set_role(session, user, ws, role)
            new_token = create_token(session, user, "cli") if token else None
        except AccountError as exc:
            fail(str(exc), 1)
    console.print(escape(f"User {user.email} created, {role} of workspace '{ws}'."))
    if user.is_instance_admin:
        console.print("They are an instance admin: they can create workspaces.")
    if new_token:
        console.print(f"API token (shown once): {new_token}")


@users_app.command("role")
def users_role(
    email: EmailArg,
    role: Annotated[Role, typer.Option(help="Role in the workspace.")],
    workspace: WorkspaceOpt = None,
) -> None:
    """Give an existing user a role in a workspace, or change the role they have there.

    A workspace's last admin cannot be demoted: make someone else admin first.
    """
    ws = workspace_name(workspace)
    with db_session() as session:
        user = find_user(session, email)
        try:
            set_role(session, user, ws, role)
        except AccountError as exc:
            fail(str(exc), 1)
    console.print(escape(f"{user.email} is now {role} of workspace '{ws}'."))


@users_app.command("deactivate")
def users_deactivate(email: EmailArg) -> None:
    """Stop a user signing in: their sessions end and their API tokens are revoked; their work and roles stay."""
    with db_session() as session:
        user = find_user(session, email)
        set_active(session, user, False)
    console.print(escape(f"{user.email} is deactivated."))


@users_app.command("activate")
def users_activate(email: EmailArg) -> None:
    """Let a deactivated user sign in again (the tokens revoked at deactivation stay revoked)."""
    with db_session() as session:
        user = find_user(session, email)
        set_active(session, user, True)
    console.print(escape(f"{user.email} is active."))


@users_app.command("reset-password")
def users_reset_password(email: EmailArg, password: PasswordOpt = None) -> None:
    """Set a new password for a user; their signed-in sessions end (API tokens keep working)."""
    with db_session() as session:
        find_user(session, email)
    password = ask_password(password)  # asked once the user is known to exist, with no transaction open
    with db_session() as session:
        user = find_user(session, email)
        try:
            set_password(session, user, password)
        except AccountError as exc:
            fail(str(exc), 1)
    console.print(escape(f"Password of {user.email} changed."))


@users_app.command("instance-admin")
def users_instance_admin(
    email: EmailArg,
    revoke: Annotated[bool, typer.Option("--revoke", help="Take the right away instead.")] = False,
) -> None:
    """Let a user create workspaces (an instance admin), or with --revoke no longer."""
    with db_session() as session:
        user = find_user(session, email)
        set_instance_admin(session, user, not revoke)
    console.print(escape(f"{user.email} is {'no longer ' if revoke else ''}an instance admin."))


@users_app.command("list")
def users_list(as_json: JsonFlag = False) -> None:
    """Every user, whether they can sign in, and their role in each workspace."""
    with db_session() as session:
        users = [
            {
                "email": user.email,
                "name": user.name,
                "active": user.is_active,
                "roles": roles,
                "created_at": user.created_at.isoformat(),
            }
            for user, roles in list_users(session)
        ]
    if as_json:
        print_json(users)
        return
    table = Table(title=f"{len(users)} users")
    for column in ("email", "name", "active", "roles"):
        table.add_column(column)
    for u in users:
        roles = ", ".join(f"{ws}: {role}" for ws, role in u["roles"].items()) or "-"
        table.add_row(escape(u["email"]), escape(u["name"]), "yes" if u["active"] else "[red]no[/red]", escape(roles))
    console.print(table)
