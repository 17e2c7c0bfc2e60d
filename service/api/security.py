"""Browser security as ASGI middleware: response headers (CSP, nosniff, framing, referrer, HSTS) and
the Origin check that refuses cross-site writes made with the session cookie.

Requests that carry `Authorization: Bearer` are not checked for their origin: a browser never adds
that header on its own, so such a request cannot be forged cross-site.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The review UI: everything from this origin, no inline script or style, never framed.
APP_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# FastAPI's /docs and /redoc load Swagger UI / ReDoc from jsDelivr and start them with an inline
# script; that script is allowed by its hash (computed from the page itself), not wholesale.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' https://cdn.jsdelivr.net {hashes}; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
    "font-src 'self' https://fonts.gstatic.com; worker-src 'self' blob:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HSTS = "max-age=31536000"
INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script>", re.S | re.I)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def _origin_of(url: str) -> str | None:
    """scheme://host[:port] of a URL, lower case, default ports left out (None if it is no URL)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    default = {"http": 80, "https": 443}[parts.scheme]
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port not in (None, default) else "")


def _same_host(origin: str, host_header: str | None) -> bool:
    """The origin names the host the request was sent to (its Host header), in either scheme
    (TLS may end at a proxy in front of the server)."""
    if not host_header:
        return False
    scheme = origin.split("://", 1)[0]
    return _origin_of(f"{scheme}://{host_header}") == origin


async def _refuse(send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]]) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BrowserSecurity:
    """Security headers on every response; cookie-authenticated writes must come from this site.

    A write (POST/PUT/PATCH/DELETE) without a Bearer token whose Origin (or, lacking one, Referer)
    names another site, or `null`, gets 403. One with neither header is let through: browsers send
    Origin on every cross-origin write, so only non-browser clients omit both.
    """

    def __init__(
        self,
        app: ASGIApp,
        trusted_origins: Iterable[str] = (),
        force_hsts: bool = False,
        docs_paths: Iterable[str] = ("/docs", "/redoc", "/docs/oauth2-redirect"),
    ) -> None:
        self.app = app
        self.trusted = {o for o in (_origin_of(t) for t in trusted_origins) if o}
        self.force_hsts = force_hsts
        self.docs_paths = frozenset(docs_paths)

    def headers(self, scope: Scope, csp: str = APP_CSP) -> list[tuple[bytes, bytes]]:
        headers = [
            (b"content-security-policy", csp.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"same-origin"),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]
        if self.force_hsts or scope.get("scheme") == "https":
            headers.append((b"strict-transport-security", HSTS.encode()))
        if scope["path"].startswith("/api/"):
            headers.append((b"cache-control", b"no-store"))
        return headers

    def cross_site(self, scope: Scope) -> str | None:
        """Why this write is refused as cross-site, or None if it is not."""
        if scope["method"] not in UNSAFE_METHODS:
            return None
        if (_header(scope, b"authorization") or "").lower().startswith("bearer "):
            return None
        claimed = _header(scope, b"origin")
        source = "Origin"
        if claimed is None:
            claimed, source = _header(scope, b"referer"), "Referer"
            if claimed is None:
                return None
        origin = _origin_of(claimed)
        if origin is not None and (origin in self.trusted or _same_host(origin, _header(scope, b"host"))):
            return None
        return f"cross-site request refused: its {source} is not this site"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = self.cross_site(scope)
        if refused is not None:
            await _refuse(send, 403, refused, self.headers(scope))
            return
        if scope["path"] in self.docs_paths:
            await self._docs(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = self._add(message, self.headers(scope))
            await send(message)

        await self.app(scope, receive, send_with_headers)

    @staticmethod
    def _add(message: Message, headers: list[tuple[bytes, bytes]]) -> Message:
        present = {key.lower() for key, _ in message.get("headers", ())}
        extra = [(key, value) for key, value in headers if key not in present]
        return {**message, "headers": [*message.get("headers", ()), *extra]}

    async def _docs(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The docs pages are small: hold the body to hash its inline scripts into the CSP."""
        start: Message | None = None
        chunks: list[bytes] = []

        async def hold(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            hashes = " ".join(
                "'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'"
                for script in INLINE_SCRIPT.findall(body)
            )
            assert start is not None
            await send(self._add(start, self.headers(scope, DOCS_CSP.format(hashes=hashes))))
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, hold)
