"""`kotae settings`: every KOTAE_* setting with its type, default and description, read from
`service.settings.Settings` itself, so docs/settings.md is generated rather than written."""

from __future__ import annotations

import types
from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import typer
from pydantic import SecretStr
from pydantic.fields import FieldInfo
from rich.markup import escape
from rich.table import Table

from service.cli.common import console, fail, print_json
from service.settings import Settings

UNSET = "unset"
START, END = "<!-- settings:start -->", "<!-- settings:end -->"


@dataclass(frozen=True)
class SettingDoc:
    name: str  # the field of Settings
    env: str  # the environment variable that sets it
    type: str  # as a person writes the value, e.g. `int` or `offline | llm`
    default: Any  # JSON-ready: None when unset
    description: str  # the Field's description; empty when it has none


def type_name(annotation: Any) -> str:
    """A readable type: `str`, `path`, `offline | llm`, `list of (e5 | use)`; `None` is left out (see default)."""
    origin = get_origin(annotation)
    if origin is Literal:
        return " | ".join(str(a.value if isinstance(a, Enum) else a) for a in get_args(annotation))
    if origin in (Union, types.UnionType):
        parts = [type_name(a) for a in get_args(annotation) if a is not type(None)]
        return " | ".join(parts)
    if origin in (list, tuple, set, frozenset):
        (inner, *_) = get_args(annotation) or (Any,)
        inner_name = type_name(inner)
        return f"list of ({inner_name})" if " | " in inner_name else f"list of {inner_name}"
    if isinstance(annotation, type):
        if issubclass(annotation, Path):
            return "path"
        if issubclass(annotation, SecretStr):
            return "secret"
    return getattr(annotation, "__name__", str(annotation))


def default_value(field: FieldInfo) -> Any:
    """The default as JSON would carry it (paths and secrets as text, unset as None)."""
    value = field.get_default(call_default_factory=True)
    if isinstance(value, SecretStr):
        return "(secret)"
    if isinstance(value, Path | Enum):
        return str(value.value if isinstance(value, Enum) else value)
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    return value


def env_name(name: str, field: FieldInfo) -> str:
    alias = field.validation_alias or field.alias
    if isinstance(alias, str):
        return alias.upper()
    return f"{Settings.model_config.get('env_prefix', '')}{name}".upper()


def describe(settings_class: type[Settings] = Settings) -> list[SettingDoc]:
    """Every setting of the class, in the order the class declares them."""
    return [
        SettingDoc(
            name=name,
            env=env_name(name, field),
            type=type_name(field.annotation),
            default=default_value(field),
            description=" ".join((field.description or "").split()),
        )
        for name, field in settings_class.model_fields.items()
    ]


def default_text(value: Any) -> str:
    """The default as one writes it in the environment: `false`, `60.0`, `["e5", "use"]`, `unset`."""
    if value is None:
        return UNSET
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(f'"{v}"' if isinstance(v, str) else str(v) for v in value) + "]"
    return str(value)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(docs: list[SettingDoc]) -> str:
    """The Markdown table of docs/settings.md (between its settings markers), without a trailing newline."""
    lines = ["| variable | type | default | description |", "|---|---|---|---|"]
    for doc in docs:
        lines.append(
            f"| `{doc.env}` | {_cell(doc.type)} | `{_cell(default_text(doc.default))}` | {_cell(doc.description)} |"
        )
    return "\n".join(lines)


def table_in(text: str) -> str | None:
    """The table between the settings markers of a Markdown file, or None when a marker is missing."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        return None
    return text[start + len(START) : end].strip()


def with_table(text: str, table: str) -> str:
    """The Markdown file's text with the table between its settings markers replaced."""
    if table_in(text) is None:
        raise ValueError(f"the file has no {START} ... {END} markers")
    head, rest = text.split(START, 1)
    return f"{head}{START}\n{table}\n{END}{rest.split(END, 1)[1]}"


def settings(
    markdown: Annotated[bool, typer.Option("--markdown", help="Print a Markdown table (docs/settings.md).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON to stdout instead of a table.")] = False,
    update: Annotated[
        Path | None,
        typer.Option(help="Rewrite the Markdown table between the settings markers of this file (docs/settings.md)."),
    ] = None,
) -> None:
    """Every KOTAE_* setting: environment variable, type, default and what it does."""
    if sum((markdown, as_json, update is not None)) > 1:
        fail("choose one of --markdown, --json and --update")
    docs = describe()
    if update is not None:
        try:
            update.write_text(with_table(update.read_text(encoding="utf-8"), markdown_table(docs)), encoding="utf-8")
        except (OSError, ValueError) as exc:
            fail(f"{update}: {exc}", code=1)
        console.print(f"{len(docs)} settings written to {update}")
        return
    if as_json:
        print_json([asdict(doc) for doc in docs])
        return
    if markdown:
        typer.echo(markdown_table(docs))
        return
    table = Table("variable", "type", "default", "description")
    for doc in docs:
        table.add_row(doc.env, escape(doc.type), escape(default_text(doc.default)), escape(doc.description))
    console.print(table)
