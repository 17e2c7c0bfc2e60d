"""`kotae`: the Typer app and where each command group is registered (one module per group).

Commands load lazily: `kotae --help` imports none of the command modules (they pull in
SQLAlchemy, Chroma, the parsers, the models) and reads each command's one-line help from its
module's source instead, so it answers in a fraction of a second; `kotae kb stats` imports only
`service.cli.kb` and what it needs. The docstrings and `typer.Typer(help=...)` stay the one
source of each help text.
"""

from __future__ import annotations

import ast
import importlib
from functools import cache
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

# Command name -> (module, attribute): a function (a command) or a typer.Typer (a group), in the
# order `kotae --help` lists them.
COMMANDS: dict[str, tuple[str, str]] = {
    "ingest": ("service.cli.ingest", "ingest"),
    "draft": ("service.cli.draft", "draft"),
    "doctor": ("service.cli.doctor", "doctor"),
    "worker": ("service.cli.serve", "worker"),
    "serve": ("service.cli.serve", "serve"),
    "settings": ("service.cli.settings", "settings"),
    "kb": ("service.cli.kb", "kb_app"),
    "eval": ("service.cli.eval", "eval_app"),
    "library": ("service.cli.library", "library_app"),
    "users": ("service.cli.users", "users_app"),
}


@cache
def summary(module: str, attribute: str) -> str:
    """A command's help as its module states it (docstring, or `help=` of its Typer), read without importing."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return ""
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == attribute:
            return (ast.get_docstring(node) or "").split("\n\n")[0].replace("\n", " ")
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == attribute for t in node.targets)
            and isinstance(node.value, ast.Call)
        ):
            for keyword in node.value.keywords:
                if keyword.arg == "help":
                    return str(ast.literal_eval(keyword.value))
    return ""


def load_command(name: str) -> Any:
    """Import one command's module and build its click command."""
    module, attribute = COMMANDS[name]
    target: Any = getattr(importlib.import_module(module), attribute)
    if isinstance(target, typer.Typer):
        command = typer.main.get_command(target)
    else:
        single = typer.Typer()
        single.command(name=name)(target)
        command = typer.main.get_command(single)  # one command and no callback: the command itself
    command.name = name
    return command


class LazyGroup(TyperGroup):
    """Lists every command but imports one only when it runs (or when its own help is asked)."""

    _listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in COMMANDS:
            return None
        if self._listing:  # `kotae --help`: a name and a line of help are all that is shown
            help_text = summary(*COMMANDS[cmd_name])
            return TyperCommand(cmd_name, help=help_text, short_help=help_text)
        return load_command(cmd_name)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    cls=LazyGroup,
    help="Kotae drafts answers to security questionnaires from your past answers.",
    no_args_is_help=True,
)


@app.callback()
def main() -> None:
    """Kotae drafts answers to security questionnaires from your past answers."""


if __name__ == "__main__":
    app()
