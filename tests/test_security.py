"""Accounts and browser security: server-side sessions, tokens, sign-in throttling, the password
policy, who may create workspaces, the last admin, workspace names, security headers and the
Origin check on cookie-authenticated writes."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner
from typer.testing import CliRunner

from service.accounts import (
    AccountError,
    ApiToken,
    LastAdmin,
    LoginThrottle,
    User,
    UserSession,
    check_password,
    create_token,
    create_user,
    get_user,
    set_active,
    set_password,
    set_role,
)
from service.accounts.models import aware
from service.api import create_app
from service.api.app import secret_key
from service.cli.main import app as cli
from service.db import alembic_config, get_engine, session_scope
from service.knowledge_base.models import utcnow
from service.settings import Settings, get_settings

PASSWORD = "a long enough password"
SITE = "http://testserver"  # TestClient's origin
SAME = {"Origin": SITE}


class Env:
    def __init__(self, settings: Settings, client: TestClient, tokens: dict[str, str]) -> None:
        self.settings = settings
        self.client = client
        self.tokens = tokens

    def bearer(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def browser(self, **kwargs: object) -> TestClient:
        """Another browser (a cookie jar of its own) on the same app."""
        return TestClient(self.client.app, **kwargs)

    def db(self):  # noqa: ANN201 - a context manager of Session
        return session_scope(self.settings.resolved_database_url)


def make_env(settings: Settings) -> Iterator[Env]:
    tokens = {}
    with session_scope(settings.resolved_database_url) as session:
        # The first user ever created is the instance admin.
        for email, role in (("boss@acme.test", "admin"), ("rev@acme.test", "reviewer")):
            user = create_user(session, email, PASSWORD)
            set_role(session, user, "acme", role)
            tokens[email.split("@")[0]] = create_token(session, user, "test")
    with TestClient(create_app(settings)) as client:
        yield Env(settings, client, tokens)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    yield from make_env(Settings(home=tmp_path / "home"))


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> None:
    response = client.post("/api/auth/login", json={"email": email, "password": password}, headers=SAME)
    assert response.status_code == 200, response.text


def test_logout_ends_the_session_on_the_server(env: Env) -> None:
    c = env.browser()
    sign_in(c, "rev@acme.test")
    cookie = c.cookies["session"]
    set_cookie = c.post("/api/auth/login", json={"email": "rev@acme.test", "password": PASSWORD}, headers=SAME)
    header = set_cookie.headers["set-cookie"].lower()
    assert "httponly" in header and "samesite=strict" in header and "secure" not in header
    assert c.cookies["session"] != cookie  # a new session id at every sign-in
    cookie = c.cookies["session"]
    assert c.get("/api/me").json()["email"] == "rev@acme.test"
    assert c.post("/api/auth/logout", headers=SAME).status_code == 204

    replay = env.browser(cookies={"session": cookie})  # the old cookie, kept by an attacker
    assert replay.get("/api/me").status_code == 401
    assert replay.get("/", follow_redirects=False).headers["location"] == "/login"


def test_sessions_expire_idle_out_and_record_last_seen(env: Env) -> None:
    c = env.browser()
    sign_in(c, "rev@acme.test")
    with env.db() as session:
        row = session.query(UserSession).one()
        assert aware(row.expires_at) - aware(row.created_at) == timedelta(hours=12)
        row.last_seen_at = utcnow() - timedelta(minutes=5)
    assert c.get("/api/me").status_code == 200
    with env.db() as session:
        row = session.query(UserSession).one()
        assert utcnow() - aware(row.last_seen_at) < timedelta(minutes=1)  # seen just now
        row.last_seen_at = utcnow() - timedelta(minutes=121)  # idle longer than session_idle_minutes
    assert c.get("/api/me").status_code == 401
    sign_in(c, "rev@acme.test")
    with env.db() as session:
        row = session.query(UserSession).order_by(UserSession.id.desc()).first()
        row.expires_at = utcnow() - timedelta(seconds=1)
    assert c.get("/api/me").status_code == 401
    # A cookie from before server-side sessions (it named the user) signs no one in.
    signer = TimestampSigner(secret_key(env.settings))
    legacy = signer.sign(base64.b64encode(json.dumps({"user_id": 1}).encode())).decode()
    assert env.browser(cookies={"session": legacy}).get("/api/me").status_code == 401


def test_password_change_ends_the_other_sessions(env: Env) -> None:
    here, there = env.browser(), env.browser()
    sign_in(here, "rev@acme.test")
    sign_in(there, "rev@acme.test")
    change = {"current_password": "not the password", "new_password": "another long passphrase"}
    wrong = here.post("/api/auth/password", json=change, headers=SAME)
    assert wrong.status_code == 403 and "current password" in wrong.json()["detail"]
    weak = here.post("/api/auth/password", json={"current_password": PASSWORD, "new_password": "short"}, headers=SAME)
    assert weak.status_code == 422 and "at least 12 characters" in weak.json()["detail"]
    assert there.get("/api/me").status_code == 200  # nothing changed yet

    change["current_password"] = PASSWORD
    assert here.post("/api/auth/password", json=change, headers=SAME).status_code == 204
    assert here.get("/api/me").status_code == 200  # the session that changed it stays
    assert there.get("/api/me").status_code == 401
    assert env.client.get("/api/me", headers=env.bearer("rev")).status_code == 200  # tokens keep working
    old = env.client.post("/api/auth/login", json={"email": "rev@acme.test", "password": PASSWORD}, headers=SAME)
    assert old.status_code == 401
    sign_in(env.browser(), "rev@acme.test", "another long passphrase")


def test_reset_and_deactivation_end_sessions_and_deactivation_revokes_tokens(env: Env) -> None:
    c = env.browser()
    sign_in(c, "rev@acme.test")
    with env.db() as session:
        set_password(session, get_user(session, "rev@acme.test"), "a reset passphrase here")
    assert c.get("/api/me").status_code == 401
    assert env.client.get("/api/me", headers=env.bearer("rev")).status_code == 200

    sign_in(c, "rev@acme.test", "a reset passphrase here")
    with env.db() as session:
        set_active(session, get_user(session, "rev@acme.test"), False)
    assert c.get("/api/me").status_code == 401
    assert env.client.get("/api/me", headers=env.bearer("rev")).status_code == 401
    with env.db() as session:
        set_active(session, get_user(session, "rev@acme.test"), True)
    assert env.client.get("/api/me", headers=env.bearer("rev")).status_code == 401  # revoked for good
    sign_in(c, "rev@acme.test", "a reset passphrase here")


def test_tokens_are_named_listed_expiring_and_revocable(env: Env) -> None:
    c = env.client
    made = c.post("/api/auth/tokens", json={"name": "ci", "expires_in_days": 30}, headers=env.bearer("rev"))
    assert made.status_code == 200 and made.json()["token"].startswith("kt_") and made.json()["name"] == "ci"
    token, token_id = made.json()["token"], made.json()["id"]
    listed = c.get("/api/auth/tokens", headers=env.bearer("rev")).json()
    assert [(t["name"], t["expired"]) for t in listed] == [("ci", False), ("test", False)]
    assert listed[0]["expires_at"] and "token" not in listed[0] and token not in str(listed)
    mine = {"Authorization": f"Bearer {token}"}
    assert c.get("/api/me", headers=mine).status_code == 200

    # Someone else's token is not there to revoke; one's own goes at once.
    assert c.delete(f"/api/auth/tokens/{token_id}", headers=env.bearer("boss")).status_code == 404
    assert c.delete(f"/api/auth/tokens/{token_id}", headers=env.bearer("rev")).status_code == 204
    assert c.delete(f"/api/auth/tokens/{token_id}", headers=env.bearer("rev")).status_code == 404
    assert c.get("/api/me", headers=mine).status_code == 401
    assert [t["name"] for t in c.get("/api/auth/tokens", headers=env.bearer("rev")).json()] == ["test"]

    # An expired token stops working and is listed as expired.
    short = c.post("/api/auth/tokens", json={"name": "short", "expires_in_days": 1}, headers=env.bearer("rev")).json()
    with env.db() as session:
        session.get(ApiToken, short["id"]).expires_at = utcnow() - timedelta(seconds=1)
    assert c.get("/api/me", headers={"Authorization": f"Bearer {short['token']}"}).status_code == 401
    listed = {t["name"]: t["expired"] for t in c.get("/api/auth/tokens", headers=env.bearer("rev")).json()}
    assert listed == {"short": True, "test": False}
    never = c.post("/api/auth/tokens", json={}, headers=env.bearer("rev")).json()
    assert never["expires_at"] is None and set(never) >= {"token"}


def failed_login(client: TestClient, email: str) -> int:
    body = {"email": email, "password": "not the password at all"}
    return client.post("/api/auth/login", json=body, headers=SAME).status_code


def test_repeated_failed_sign_ins_for_one_account_get_429(env: Env) -> None:
    c = env.browser()
    assert [failed_login(c, "rev@acme.test") for _ in range(5)] == [401] * 5
    refused = c.post("/api/auth/login", json={"email": "REV@acme.test", "password": PASSWORD}, headers=SAME)
    assert refused.status_code == 429 and "too many" in refused.json()["detail"]
    assert 0 < int(refused.headers["retry-after"]) <= 15 * 60
    sign_in(c, "boss@acme.test")  # another account from the same address is not held up


def test_repeated_failed_sign_ins_from_one_address_get_429(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", login_failures_per_address=4)
    for env in make_env(settings):
        c = env.browser()
        assert [failed_login(c, f"nobody{n}@acme.test") for n in range(4)] == [401] * 4
        refused = c.post("/api/auth/login", json={"email": "rev@acme.test", "password": PASSWORD}, headers=SAME)
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0


def test_throttle_window_and_success() -> None:
    now = [1000.0]
    throttle = LoginThrottle(per_account=2, per_address=3, window_seconds=60, clock=lambda: now[0])
    throttle.failed("a", "1.2.3.4")
    now[0] += 10
    throttle.failed("a", "1.2.3.4")
    assert throttle.retry_after("a", "5.6.7.8") == 50  # until the first failure leaves the window
    assert throttle.retry_after("b", "5.6.7.8") == 0
    throttle.failed("b", "1.2.3.4")
    assert throttle.retry_after("c", "1.2.3.4") == 50  # the address has had 3
    now[0] += 50
    assert throttle.retry_after("a", "1.2.3.4") == 0
    throttle.failed("a", "9.9.9.9")
    throttle.succeeded("a")
    assert throttle.retry_after("a", "8.8.8.8") == 0


def test_password_policy(env: Env) -> None:
    for password, problem in (
        ("eleven char", "at least 12 characters"),
        ("Password1234", "commonly used"),
        ("correct horse battery staple", "commonly used"),
        ("someone@acme.test", "email"),
        ("SomeOne@Acme.test", "email"),
    ):
        with pytest.raises(AccountError, match=problem):
            check_password(password, "someone@acme.test")
    check_password(PASSWORD, "someone@acme.test")
    with env.db() as session:
        with pytest.raises(AccountError, match="commonly used"):
            create_user(session, "new@acme.test", "qwertyuiop123")
        with pytest.raises(AccountError, match="email"):
            create_user(session, "long.name@acme.test", "long.name@acme.test")
        with pytest.raises(AccountError, match="at least 12"):
            set_password(session, get_user(session, "rev@acme.test"), "too short")


def test_only_instance_admins_create_workspaces_and_taken_names_are_no_oracle(tmp_path: Path, env: Env) -> None:
    c = env.client
    taken = c.post("/api/workspaces", json={"name": "acme"}, headers=env.bearer("rev"))
    free = c.post("/api/workspaces", json={"name": "fresh"}, headers=env.bearer("rev"))
    assert taken.status_code == free.status_code == 403 and taken.json() == free.json()
    created = c.post("/api/workspaces", json={"name": "fresh"}, headers=env.bearer("boss"))
    assert created.status_code == 201 and created.json() == {"name": "fresh", "role": "admin"}
    assert c.post("/api/workspaces", json={"name": "acme"}, headers=env.bearer("boss")).status_code == 409
    with env.db() as session:
        assert get_user(session, "boss@acme.test").is_instance_admin
        assert not get_user(session, "rev@acme.test").is_instance_admin
        assert create_user(session, "ops@acme.test", PASSWORD, instance_admin=True).is_instance_admin

    for open_env in make_env(Settings(home=tmp_path / "open", open_workspace_creation=True)):
        mine = open_env.client.post("/api/workspaces", json={"name": "rev-space"}, headers=open_env.bearer("rev"))
        assert mine.status_code == 201


def test_the_last_admin_cannot_be_demoted_or_removed(env: Env) -> None:
    c = env.client
    demote = c.put(
        "/api/workspaces/acme/members", json={"email": "boss@acme.test", "role": "reviewer"}, headers=env.bearer("boss")
    )
    assert demote.status_code == 409 and "last admin of 'acme'" in demote.json()["detail"]
    remove = c.delete("/api/workspaces/acme/members", params={"email": "boss@acme.test"}, headers=env.bearer("boss"))
    assert remove.status_code == 409
    with env.db() as session, pytest.raises(LastAdmin):
        set_role(session, get_user(session, "boss@acme.test"), "acme", "viewer")

    # With a second admin, either may step down; then the remaining one is the last again.
    promote = {"email": "rev@acme.test", "role": "admin"}
    assert c.put("/api/workspaces/acme/members", json=promote, headers=env.bearer("boss")).status_code == 200
    step_down = {"email": "boss@acme.test", "role": "viewer"}
    assert c.put("/api/workspaces/acme/members", json=step_down, headers=env.bearer("boss")).status_code == 200
    members = c.get("/api/workspaces/acme/members", headers=env.bearer("rev")).json()
    assert {m["email"]: m["role"] for m in members} == {"boss@acme.test": "viewer", "rev@acme.test": "admin"}
    out = c.delete("/api/workspaces/acme/members", params={"email": "boss@acme.test"}, headers=env.bearer("rev"))
    assert out.status_code == 204
    assert (
        c.delete(
            "/api/workspaces/acme/members", params={"email": "rev@acme.test"}, headers=env.bearer("rev")
        ).status_code
        == 409
    )
    gone = c.delete("/api/workspaces/acme/members", params={"email": "boss@acme.test"}, headers=env.bearer("rev"))
    assert gone.status_code == 404


def test_bad_workspace_names_are_refused(env: Env) -> None:
    for name in ("Acme", "a b", "a/b", "a\x00b", "x" * 65, "..", ".", "ワーク", ""):
        response = env.client.post("/api/workspaces", json={"name": name}, headers=env.bearer("boss"))
        assert response.status_code == 422, (name, response.text)
    for name in ("a", "x" * 64, "team-1_eu.prod"):
        assert env.client.post("/api/workspaces", json={"name": name}, headers=env.bearer("boss")).status_code == 201
    with env.db() as session, pytest.raises(AccountError, match="not a valid workspace name"):
        set_role(session, get_user(session, "rev@acme.test"), "../etc", "viewer")


def assert_secure_headers(headers: object, hsts: bool = False) -> None:
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "same-origin"
    csp = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
    assert ("strict-transport-security" in headers) is hsts


def test_security_headers_on_pages_api_and_static(env: Env) -> None:
    for path in ("/login", "/", "/static/app.js", "/api/me", "/api/workspaces", "/openapi.json"):
        response = env.client.get(path, follow_redirects=False)
        assert_secure_headers(response.headers)
        assert "'unsafe-inline'" not in response.headers["content-security-policy"], path
    assert env.client.get("/api/me").headers["cache-control"] == "no-store"
    # The API docs load Swagger UI from its CDN; their inline script is allowed by its hash only.
    docs = env.client.get("/docs")
    assert docs.status_code == 200
    assert_secure_headers(docs.headers)
    script_src = docs.headers["content-security-policy"].split("script-src")[1].split(";")[0]
    assert "'sha256-" in script_src and "unsafe-inline" not in script_src
    # Over TLS, browsers are told to stay on it.
    tls = env.browser(base_url="https://testserver")
    assert_secure_headers(tls.get("/login").headers, hsts=True)


def test_secure_cookies_hsts_and_trusted_origins_settings(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", secure_cookies=True, hsts=True, trusted_origins=["https://kotae.test"])
    for env in make_env(settings):
        body = {"email": "rev@acme.test", "password": PASSWORD}
        c = env.browser(base_url="https://testserver")
        login = c.post("/api/auth/login", json=body, headers={"Origin": "https://testserver"})
        assert login.status_code == 200 and "secure" in login.headers["set-cookie"].lower()
        assert_secure_headers(env.client.get("/login").headers, hsts=True)  # TLS ends at a proxy
        # A proxy that rewrites Host: its public origin is trusted by the setting, and only it.
        assert c.post("/api/auth/login", json=body, headers={"Origin": "https://kotae.test"}).status_code == 200
        assert c.post("/api/auth/login", json=body, headers={"Origin": "https://other.test"}).status_code == 403


def test_cookie_writes_from_another_origin_are_refused(env: Env) -> None:
    c = env.browser()
    sign_in(c, "rev@acme.test")
    for headers in (
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://testserver.evil.example"},
        {"Referer": "https://evil.example/page"},
        {"Origin": "https://evil.example", "Referer": SITE + "/"},
    ):
        refused = c.post("/api/auth/tokens", json={"name": "x"}, headers=headers)
        assert refused.status_code == 403 and "cross-site" in refused.json()["detail"], headers
        assert_secure_headers(refused.headers)
    assert c.post("/api/auth/logout", headers={"Origin": "https://evil.example"}).status_code == 403
    assert c.get("/api/me").status_code == 200  # still signed in: the forged logout did nothing
    # Reads are not checked; writes from this site (Origin, or Referer alone) pass.
    assert c.get("/api/auth/tokens", headers={"Origin": "https://evil.example"}).status_code == 200
    assert c.post("/api/auth/tokens", json={"name": "a"}, headers=SAME).status_code == 200
    assert c.post("/api/auth/tokens", json={"name": "b"}, headers={"Referer": SITE + "/q/1"}).status_code == 200
    # Signing in from another site is refused too (no login CSRF).
    other = env.browser()
    forged = other.post(
        "/api/auth/login",
        json={"email": "rev@acme.test", "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
    )
    assert forged.status_code == 403 and "session" not in other.cookies
    # A Bearer token is not sent by browsers on their own: such a request is no forgery.
    bearer = env.client.post(
        "/api/auth/tokens", json={"name": "c"}, headers={**env.bearer("rev"), "Origin": "https://evil.example"}
    )
    assert bearer.status_code == 200


def test_migration_makes_the_first_existing_user_the_instance_admin(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    config = alembic_config(url)
    command.upgrade(config, "0004")
    with get_engine(url).begin() as connection:
        for n in (1, 2):
            connection.execute(
                sa.text(
                    "INSERT INTO users (id, email, name, password_hash, is_active, created_at) "
                    "VALUES (:id, :email, '', 'x', 1, '2026-01-01 00:00:00')"
                ),
                {"id": n, "email": f"u{n}@acme.test"},
            )
    with session_scope(url) as session:  # brings the schema up to date
        admins = {user.email: user.is_instance_admin for user in session.query(User)}
    assert admins == {"u1@acme.test": True, "u2@acme.test": False}


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("KOTAE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_users_commands_end_sessions_and_guard_the_last_admin(runner: CliRunner) -> None:
    env = {"KOTAE_NEW_USER_PASSWORD": PASSWORD}
    assert runner.invoke(cli, ["users", "add", "first@acme.test", "-w", "acme"], env=env).exit_code == 0
    added = runner.invoke(cli, ["users", "add", "ops@acme.test", "-w", "acme", "--instance-admin"], env=env)
    assert added.exit_code == 0 and "instance admin" in added.output
    plain = runner.invoke(cli, ["users", "add", "rev@acme.test", "-w", "acme", "--role", "reviewer"], env=env)
    assert plain.exit_code == 0 and "instance admin" not in plain.output
    weak = runner.invoke(cli, ["users", "add", "x@acme.test"], env={"KOTAE_NEW_USER_PASSWORD": "password1234"})
    assert weak.exit_code == 1 and "commonly used" in weak.output
    bad_name = runner.invoke(cli, ["users", "role", "rev@acme.test", "-w", "No/Such", "--role", "viewer"])
    assert bad_name.exit_code == 1 and "not a valid workspace name" in bad_name.output
    assert runner.invoke(cli, ["users", "role", "ops@acme.test", "-w", "acme", "--role", "viewer"]).exit_code == 0
    last = runner.invoke(cli, ["users", "role", "first@acme.test", "-w", "acme", "--role", "viewer"])
    assert last.exit_code == 1 and "last admin" in last.output

    settings = get_settings()
    with session_scope(settings.resolved_database_url) as session:
        users = {u.email: u.is_instance_admin for u in session.query(User)}
        token = create_token(session, get_user(session, "rev@acme.test"), "cli")
    assert users == {"first@acme.test": True, "ops@acme.test": True, "rev@acme.test": False}
    assert runner.invoke(cli, ["users", "instance-admin", "ops@acme.test", "--revoke"]).exit_code == 0
    with TestClient(create_app(settings)) as client:
        sign_in(client, "rev@acme.test")
        bearer = {"Authorization": f"Bearer {token}"}
        reset = runner.invoke(
            cli, ["users", "reset-password", "rev@acme.test"], env={"KOTAE_NEW_USER_PASSWORD": "a fresh passphrase"}
        )
        assert reset.exit_code == 0
        assert client.get("/api/me").status_code == 401 and client.get("/api/me", headers=bearer).status_code == 200
        sign_in(client, "rev@acme.test", "a fresh passphrase")
        assert runner.invoke(cli, ["users", "deactivate", "rev@acme.test"]).exit_code == 0
        assert client.get("/api/me").status_code == 401 and client.get("/api/me", headers=bearer).status_code == 401
