from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from filelock import FileLock

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
# rich fixes a console's width when the console is built, i.e. when the first CLI test of a
# process imports the CLI: every test sees the same wide table, whichever test ran first.
os.environ.setdefault("COLUMNS", "200")

from service.db import session_scope  # noqa: E402
from service.knowledge_base import KnowledgeBase  # noqa: E402
from service.settings import Settings, get_settings  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT.parent / "shared" / "seeds"
SAMPLES = ROOT / "knowledge_base"
POSTGRES_ADMIN = os.environ.get("KOTAE_TEST_POSTGRES", "host=127.0.0.1 port=5432 dbname=test user=postgres")


def seed(prefix: str) -> Path:
    """A seed sheet by its number ('000'...'004'); the seeds live in ../shared, never in the repo."""
    if not SEEDS.is_dir():
        pytest.fail(f"the seed sheets are missing: expected them in {SEEDS}")
    matches = sorted(SEEDS.glob(f"{prefix}_*"))
    assert matches, f"no seed {prefix} in {SEEDS}"
    return matches[0]


def all_seeds() -> list[Path]:
    return [seed(f"{i:03d}") for i in range(5)]


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    """Every test reads KOTAE_* afresh: the CLI and app cache their settings per process, and a
    test that set KOTAE_HOME would otherwise see whichever home an earlier test on the same
    worker cached (which test runs before which depends on how xdist shares the files out)."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


def ingest_all(kb: KnowledgeBase, workspace: str, paths: list[Path]) -> None:
    url = kb.settings.resolved_database_url
    for path in paths:
        with session_scope(url) as session:
            kb.ingest_file(session, workspace, path)
    with session_scope(url) as session:
        kb.sync(session, workspace)


def _ingest_seeds_and_samples(home: Path) -> None:
    kb = KnowledgeBase(Settings(home=home))
    ingest_all(kb, "seeds", all_seeds())
    ingest_all(kb, "samples", sorted(p for p in SAMPLES.iterdir() if p.suffix != ".py"))


@pytest.fixture(scope="session")
def seeded_kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    """The five seeds and the sample knowledge base, ingested once for the retrieval tests.

    Under pytest-xdist the first worker that needs it ingests it into a shared directory (a file
    lock keeps the others waiting) and every worker, that one included, opens its own copy of the
    stored database and vector store: embedding it once instead of once per worker.
    """
    home = tmp_path_factory.mktemp("seeded")
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        _ingest_seeds_and_samples(home)
        return KnowledgeBase(Settings(home=home))
    shared = tmp_path_factory.getbasetemp().parent / "seeded-once"
    with FileLock(f"{shared}.lock"):
        if not (shared / ".complete").exists():
            shutil.rmtree(shared, ignore_errors=True)  # a worker that died half-way left it
            _ingest_seeds_and_samples(shared)
            (shared / ".complete").touch()
    shutil.copytree(shared, home, dirs_exist_ok=True)
    return KnowledgeBase(Settings(home=home))


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    psycopg = pytest.importorskip("psycopg")
    name = f"kotae_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN, autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable ({exc}); it runs on this machine and in CI")
    admin.execute(f'CREATE DATABASE "{name}"')
    params = dict(p.split("=", 1) for p in POSTGRES_ADMIN.split())
    url = f"postgresql+psycopg://{params.get('user', 'postgres')}@{params['host']}:{params['port']}/{name}"
    try:
        yield url
    finally:
        from service.db import get_engine

        get_engine(url).dispose()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
