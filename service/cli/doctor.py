"""`kotae doctor`: is this installation ready to ingest and draft? One line per check."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Annotated, Literal

import typer
from rich.markup import escape
from sqlalchemy import text
from sqlalchemy.engine import make_url

from service.cli.common import console, print_json
from service.db import init_db, session_scope
from service.embeddings import KotaeEmbeddings, get_embeddings
from service.llm import describe_llm_error, get_chat_model, load_prompt, prompt_folder
from service.settings import Settings, get_settings
from service.vector_store import get_vector_index

# The drafter's prompt and the variables it fills in (service.drafting.llm formats these two).
PROMPT_NAME = "draft"
PROMPT_VARIABLES = {"question": "?", "evidence": "-"}


@dataclass
class Check:
    name: str
    status: Literal["ok", "FAIL", "skip"]
    detail: str
    fix: str = ""


class CheckFailed(Exception):
    """A check that ran but found something wrong (as opposed to one that raised)."""


def check_embeddings(settings: Settings) -> str:
    embeddings = get_embeddings(settings)
    vector = embeddings.embed_query("backup")
    if len(vector) != embeddings.dimension:
        raise CheckFailed(f"{embeddings.model_id} returned {len(vector)} numbers, expected {embeddings.dimension}")
    return f"{embeddings.model_id} embeds ({len(vector)} dimensions)"


def check_database(settings: Settings) -> str:
    url = settings.resolved_database_url
    init_db(url)  # migrates to head, so a successful return means the schema is current
    with session_scope(url) as session:
        session.execute(text("SELECT 1"))
    return f"{make_url(url).render_as_string(hide_password=True)}, schema at head"


def check_vector_store(settings: Settings, embeddings: KotaeEmbeddings) -> str:
    # Opening the client is the test: a Chroma server is asked who we are before anything else.
    get_vector_index(settings, embeddings)
    if settings.vector_store == "chroma_http":
        return f"Chroma server at {settings.chroma_url} answers"
    return f"Chroma on disk at {settings.resolved_chroma_path}"


def check_llm(settings: Settings) -> str:
    reply = get_chat_model(settings).invoke("Reply with the single word OK.")
    where = settings.llm_base_url or "the default endpoint"
    return f"{settings.llm_provider} model {settings.llm_model} at {where} replied ({len(str(reply.content))} chars)"


def check_prompts(settings: Settings) -> str:
    for language in ("ja", "en"):
        load_prompt(settings, PROMPT_NAME, language).format_messages(**PROMPT_VARIABLES)
    return f"{PROMPT_NAME} prompts (ja, en) from {prompt_folder(settings)}"


def run_check(name: str, fix: str, check: Callable[[], str], describe: Callable[[Exception], str] = str) -> Check:
    try:
        return Check(name, "ok", check())
    # Reporting every failure, whatever its kind, is this command's whole job: nothing is hidden, each
    # becomes a FAIL line with its message and the exit code says so.
    except Exception as exc:
        return Check(name, "FAIL", describe(exc) or type(exc).__name__, fix)


def run_checks(settings: Settings) -> list[Check]:
    checks = [
        run_check(
            "embedding model",
            "check KOTAE_EMBEDDING_BACKEND and KOTAE_EMBEDDING_MODEL (a model available on this machine)",
            lambda: check_embeddings(settings),
        ),
        run_check(
            "database",
            "check KOTAE_DATABASE_URL (default: SQLite in KOTAE_HOME) and that the server is up",
            lambda: check_database(settings),
        ),
    ]
    if checks[0].status == "ok":
        embeddings = get_embeddings(settings)  # loaded once already: cached per process
        checks.append(
            run_check(
                "vector store",
                "check KOTAE_VECTOR_STORE and KOTAE_CHROMA_URL / KOTAE_CHROMA_PATH, and that a Chroma server is up",
                lambda: check_vector_store(settings, embeddings),
                lambda exc: f"{settings.vector_store} ({settings.chroma_url or settings.resolved_chroma_path}): {exc}",
            )
        )
    else:
        checks.append(Check("vector store", "skip", "needs the embedding model"))
    if settings.drafter == "llm":
        checks.append(
            run_check(
                "LLM",
                "check KOTAE_LLM_PROVIDER, KOTAE_LLM_BASE_URL, KOTAE_LLM_API_KEY and KOTAE_LLM_MODEL",
                lambda: check_llm(settings),
                lambda exc: describe_llm_error(exc, settings),
            )
        )
    else:
        checks.append(Check("LLM", "skip", "KOTAE_DRAFTER=offline: drafts are composed without a model"))
    checks.append(
        run_check(
            "prompts",
            "KOTAE_PROMPTS_DIR needs draft.{ja,en}.{system,user}.txt using only {question} and {evidence}",
            lambda: check_prompts(settings),
        )
    )
    return checks


STYLE = {"ok": "[green]ok[/green]  ", "FAIL": "[red]FAIL[/red]", "skip": "[dim]skip[/dim]"}


def doctor(as_json: Annotated[bool, typer.Option("--json", help="Print JSON to stdout.")] = False) -> None:
    """Check the embedding model, database, vector store, LLM (when KOTAE_DRAFTER=llm) and prompts.

    Exit 1 when a check fails.
    """
    checks = run_checks(get_settings())
    failed = any(c.status == "FAIL" for c in checks)
    if as_json:
        print_json({"ok": not failed, "checks": [asdict(c) for c in checks]})
    else:
        for c in checks:
            line = f"{STYLE[c.status]} {escape(c.name)}: {escape(c.detail)}"
            console.print(line + (f" [dim]→ {escape(c.fix)}[/dim]" if c.fix else ""), soft_wrap=True)
    if failed:
        raise typer.Exit(1)
