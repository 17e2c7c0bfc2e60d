"""The README and docs/ stay true: the settings table is generated, the folder map matches the
tree, the set-up commands exist, links resolve, and named settings, flags and commands are real."""

from __future__ import annotations

import re
from pathlib import Path

import click
import typer
from typer.testing import CliRunner

from service.cli.main import app
from service.cli.settings import table_in
from service.drafting import flags
from service.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
REGENERATE = ".venv/bin/kotae settings --update docs/settings.md"
# KOTAE_* names in the docs that are not settings of the app (read by commands and tests).
NOT_SETTINGS = {"KOTAE_NEW_USER_PASSWORD", "KOTAE_TEST_POSTGRES", "KOTAE_TEST_REDIS"}


def readme() -> str:
    return README.read_text(encoding="utf-8")


def section(text: str, heading: str) -> str:
    """The text of a `## heading` section, up to the next `## `."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"README has no '## {heading}' section"
    return match.group(1)


def code_blocks(text: str) -> list[str]:
    return re.findall(r"^```[a-z]*\n(.*?)^```", text, re.M | re.S)


def folder_map() -> list[tuple[str, Path]]:
    """(name as written, path) for every line of the README's folder map (the block opening `service/`)."""
    (block,) = [b for b in code_blocks(readme()) if b.startswith("service/\n")]
    rows = []
    for line in block.splitlines()[1:]:
        name = line.split()[0]
        rows.append((name, ROOT / "service" / name if line.startswith("  ") else ROOT / name))
    return rows


def test_settings_doc_matches_the_settings_class() -> None:
    result = CliRunner().invoke(app, ["settings", "--markdown"])
    assert result.exit_code == 0, result.output
    documented = table_in((DOCS / "settings.md").read_text(encoding="utf-8"))
    assert documented is not None, "docs/settings.md lost its <!-- settings:start/end --> markers"
    assert documented == result.output.strip(), f"docs/settings.md is stale: run `{REGENERATE}`"


def test_readme_is_short() -> None:
    lines = len(readme().splitlines())
    assert lines <= 200, f"README.md has {lines} lines; move detail to docs/"


def test_the_two_setup_commands_exist_in_the_makefile() -> None:
    (first, *_) = code_blocks(section(readme(), "Set up"))
    commands = [line.split("#")[0].strip() for line in first.splitlines() if line.strip()]
    assert commands == ["make demo", "make test"]
    targets = set(re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(), re.M))
    assert {"demo", "test"} <= targets


def test_folder_map_names_every_package_and_only_real_paths() -> None:
    rows = folder_map()
    missing = [name for name, path in rows if not path.exists()]
    assert not missing, f"the README's folder map names paths that do not exist: {missing}"
    named = {path.relative_to(ROOT / "service").as_posix().rstrip("/") for _, path in rows if "service" in path.parts}
    present = {
        p.name
        for p in (ROOT / "service").iterdir()
        if (p.is_dir() and not p.name.startswith(("_", "."))) or (p.suffix == ".py" and p.name != "__init__.py")
    }
    assert present <= named, f"add these to the README's folder map: {sorted(present - named)}"


def test_relative_links_resolve() -> None:
    broken = []
    for doc in [README, *sorted(DOCS.glob("*.md"))]:
        for target in re.findall(r"\]\(([^)\s]+)\)", doc.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            if not (doc.parent / target.split("#")[0]).exists():
                broken.append(f"{doc.relative_to(ROOT)} -> {target}")
    assert not broken, broken


def test_named_settings_exist() -> None:
    prefix = Settings.model_config["env_prefix"]
    real = {f"{prefix}{name}".upper() for name in Settings.model_fields}
    unknown = set()
    for doc in [README, *sorted(DOCS.glob("*.md"))]:
        for name in re.findall(r"KOTAE_[A-Z0-9_]*", doc.read_text(encoding="utf-8")):
            is_prefix = name.endswith("_")
            if name in NOT_SETTINGS or (is_prefix and any(r.startswith(name) for r in real)):
                continue
            if name not in real:
                unknown.add(f"{doc.name}: {name}")
    assert not unknown, f"no such setting: {sorted(unknown)}"


def test_every_flag_is_explained() -> None:
    text = (DOCS / "drafting.md").read_text(encoding="utf-8")
    assert [f for f in flags.ALL if f"`{f}`" not in text] == [], "docs/drafting.md: explain these flags"


def test_the_command_line_section_names_real_commands_and_options() -> None:
    root = typer.main.get_command(app)  # typer's own click: groups are told by their `commands`
    (block,) = code_blocks(section(readme(), "The command line"))
    for line in block.splitlines():
        syntax = re.split(r"\s{2,}", line.strip())[0]
        words = syntax.split()
        assert words[0] == "kotae", line
        group = root.get_command(click.Context(root), words[1])  # the CLI loads its commands lazily
        assert group is not None, f"no command `kotae {words[1]}`"
        is_group = hasattr(group, "commands")
        rest = " ".join(words[2:]) if is_group else " ".join(words[1:])
        for segment in rest.split(" | "):
            command = group
            if is_group:
                name = segment.split()[0]
                assert name in group.commands, f"no command `kotae {words[1]} {name}`"
                command = group.commands[name]
            known = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}
            for option in re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", segment):
                assert option in known, f"`{option}` is not an option of `{line.strip()}`"
