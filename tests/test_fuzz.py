"""Fuzzing every API route from the OpenAPI schema (schemathesis, on Hypothesis): whatever a client
sends, the answer is never a 5xx, and no input gets past validation only to be refused by the
database (counted in app.state.server_errors).

The real app, signed in as a workspace admin with a Bearer token, over a small seeded workspace: a
knowledge-base source, a questionnaire with drafted items, a comment. Each route is fuzzed with
valid data (positive) and invalid data (negative), both with random path parameters and with the
seeded ones (so requests reach the code behind the 404s). Hypothesis runs derandomized: the same
cases every run, a fixed budget per route.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from sqlalchemy import select, update

from service.accounts import ApiToken
from service.accounts.service import create_token, create_user, set_role
from service.api import create_app
from service.db import session_scope
from service.knowledge_base import KnowledgeBase, get_workspace
from service.questionnaires import DRAFTED, Item, create_questionnaire
from service.review import desk
from service.settings import Settings
from tests.conftest import SAMPLES
from tests.test_pg_errors import postgres_reachable

PASSWORD = "a long enough password"
# Examples per route: (mode, with the seeded path parameters?) -> budget. Most go where the code behind
# the 404s is reached; random path parameters mostly probe the parameters' own validation.
BUDGET = {
    (GenerationMode.POSITIVE, True): 8,
    (GenerationMode.NEGATIVE, True): 4,
    (GenerationMode.POSITIVE, False): 2,
    (GenerationMode.NEGATIVE, False): 2,
}
QUESTIONS = "No.,質問,回答\n1,データは暗号化していますか。,\n2,バックアップは取得していますか。,\n".encode()
# Routes that start long background work (a leave-one-sheet-out evaluation) are fuzzed with random
# path parameters only: with the seeded workspace each accepted request would start a real run.
HEAVY = {"POST /api/workspaces/{workspace}/holdout"}
# Revoking a token by a random id could revoke the one the fuzzing signs in with: this route gets the
# spare token's id, or invalid ids (negative mode), never a random valid one.
SPARE_TOKEN_ONLY = {"DELETE /api/auth/tokens/{token_id}"}


@dataclass
class Seeded:
    app: FastAPI
    headers: dict[str, str]
    path_parameters: dict[str, Any]


@pytest.fixture
def seeded(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Seeded]:
    # PostgreSQL when it runs (here and in CI): it refuses what SQLite lets through (NUL characters,
    # over-long values, out-of-range integers), so it finds more. SQLite otherwise.
    database_url = request.getfixturevalue("postgres_url") if postgres_reachable() else None
    config = Settings(home=tmp_path / "home", database_url=database_url)
    url = config.resolved_database_url
    with session_scope(url) as session:
        user = create_user(session, "boss@acme.test", PASSWORD)
        set_role(session, user, "acme", "admin")
        token = create_token(session, user, "fuzz")
        create_token(session, user, "spare")  # the one a fuzzed DELETE /auth/tokens/{id} may revoke
        spare_id = session.scalars(select(ApiToken.id).where(ApiToken.name == "spare")).one()
        KnowledgeBase(config).ingest_file(session, "acme", SAMPLES / "hoshizora_caiq_lite_2024.csv")
        q = create_questionnaire(session, get_workspace(session, "acme"), "q.csv", QUESTIONS, user)
        session.execute(
            update(Item).where(Item.questionnaire_id == q.id).values(status=DRAFTED, answer="はい", confidence=0.9)
        )
        item_id = session.scalars(select(Item.id).where(Item.questionnaire_id == q.id)).first()
        desk.comment(session, session.get(Item, item_id), user, "確認します @boss@acme.test")
    app = create_app(config)
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(app) as client:  # runs the lifespan: the app as served
        # One search first: it loads the embedding model, which the fuzzed searches then reuse.
        assert client.get("/api/workspaces/acme/kb/entries?q=backup", headers=headers).status_code == 200
        yield Seeded(
            app,
            headers,
            {
                "workspace": "acme",
                "questionnaire_id": q.id,
                "item_id": item_id,
                "token_id": spare_id,
                "name": "hoshizora_caiq_lite_2024.csv",
            },
        )


def fuzz_operation(
    seeded: Seeded, operation: Any, mode: GenerationMode, path_parameters: dict[str, Any] | None, examples: int
) -> tuple[int, list[str]]:
    """Requests sent, and the 5xx answers among them, for one route in one mode."""
    sent, failures = 0, []
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)

    @given(case=strategy)
    @settings(
        max_examples=examples,
        derandomize=True,  # a fixed seed: the same cases every run
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],  # failures are collected, not shrunk
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: schemathesis.Case) -> None:
        nonlocal sent
        sent += 1
        # The first search loads the embedding model: generous on a busy machine.
        response = case.call(headers=seeded.headers, timeout=120)
        if response.status_code >= 500:
            failures.append(
                f"{operation.label} ({mode.value}) -> {response.status_code}: {response.text[:200]}\n"
                f"    {case.as_curl_command()[:600]}"
            )

    # Unsatisfiable: nothing invalid can be sent to this route (no parameters, no body).
    with contextlib.suppress(Unsatisfiable):
        fuzz()
    return sent, failures


def test_no_route_answers_5xx(seeded: Seeded) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", seeded.app)
    failures: list[str] = []
    sent = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        names = {p.name for p in operation.iter_parameters() if p.location == "path"}
        known = {k: v for k, v in seeded.path_parameters.items() if k in names}
        for (mode, seeded_path), examples in BUDGET.items():
            if seeded_path and not (known and operation.label not in HEAVY):
                continue
            if not seeded_path and known and mode == GenerationMode.POSITIVE and operation.label in SPARE_TOKEN_ONLY:
                continue
            # A route without path parameters gets the budget of the seeded ones (its only requests).
            if not seeded_path and not names:
                examples = BUDGET[(mode, True)]
            count, found = fuzz_operation(seeded, operation, mode, known if seeded_path else None, examples)
            sent += count
            failures += found

    assert sent > 300  # the budget was spent (nothing filtered every case away)
    assert not failures, f"{len(failures)} 5xx answers:\n" + "\n".join(failures[:30])
    # Refusals the database had to make are validation gaps, even when answered as a 4xx.
    assert not seeded.app.state.server_errors, dict(seeded.app.state.server_errors)
