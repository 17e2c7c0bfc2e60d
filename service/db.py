"""The database: one engine per URL (SQLite by default, PostgreSQL or any SQLAlchemy URL)."""

from __future__ import annotations

import ast
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache, lru_cache
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker


class Base(DeclarativeBase):
    pass


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL stays corruption-safe and saves an fsync per commit.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str):  # noqa: ANN201 - alembic.config.Config
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


log = logging.getLogger(__name__)


@cache
def code_heads() -> frozenset[str]:
    """The head revisions of the migrations shipped with the code, read from the files themselves.

    Alembic's own script directory costs ~1 s of imports (it loads every model through env.py);
    reading `revision` / `down_revision` from each file's syntax tree costs milliseconds, so a
    command on an up-to-date database never imports Alembic. Several heads (parallel branches
    not merged yet) are all heads: the database must be at every one of them.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        values: dict[str, object] = {}
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            target, value = None, None
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                target, value = node.targets[0].id, node.value
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
                target, value = node.target.id, node.value
            if target in ("revision", "down_revision") and value is not None:
                values[target] = ast.literal_eval(value)
        revision = values.get("revision")
        if not isinstance(revision, str):
            continue  # not a migration (a helper module)
        revisions.add(revision)
        down = values.get("down_revision")
        if isinstance(down, str):
            parents.add(down)
        elif isinstance(down, (tuple, list)):
            parents.update(str(d) for d in down)
    return frozenset(revisions - parents)


def database_revisions(engine: Engine) -> frozenset[str] | None:
    """The revisions recorded in the database (alembic_version), or None when it has no such table yet."""
    try:
        with engine.connect() as connection:
            return frozenset(
                str(r) for r in connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
            )
    except DBAPIError:
        return None  # a new database: the upgrade creates everything


@lru_cache(maxsize=8)
def init_db(url: str) -> Engine:
    """Bring the schema up to date (Alembic migrations), creating the SQLite folder if needed.

    Once per process and URL; the upgrade itself runs only when the database's revisions differ
    from the code's heads (a fresh database, or code newer than the schema).
    """
    engine = get_engine(url)
    database = engine.url.database
    if engine.url.get_backend_name() == "sqlite" and database and database != ":memory:":
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    found = database_revisions(engine)
    if found == code_heads():
        return engine
    log.info("database schema at %s, code at %s: migrating", sorted(found or []), sorted(code_heads()))
    from alembic import command

    config = alembic_config(url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        # "heads": branches added side by side (merged later) all apply.
        command.upgrade(config, "heads")
    return engine


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A unit of work owned by the caller (a CLI command, a request, a job): commit or roll back."""
    factory = sessionmaker(bind=init_db(url), expire_on_commit=False)
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
