"""A cap on request bodies, enforced while they stream in, before the application sees them.

Pure ASGI middleware, registered outermost: a request whose Content-Length is over the cap is
answered 413 without reading a byte of its body, and a body sent without one (chunked) is
counted as it arrives and cut off at the cap. Either way nothing behind it runs on the excess:
not authentication, not Starlette's multipart parser (which spools uploads past 1 MB to the
temporary folder), not the upload reader.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MB = 1024 * 1024


class _BodyTooLarge(Exception):
    """Raised from `receive` to stop the application reading; answered 413 by the middleware."""


def _megabytes(size: int) -> str:
    return f"{size / MB:.0f} MB" if size % MB == 0 else f"{size / MB:.1f} MB"


class BodySizeLimit:
    """413 for a request body over `max_bytes` (the max_request_mb setting)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        lengths = [v for k, v in scope.get("headers", []) if k.lower() == b"content-length"]
        try:
            declared = max((int(v) for v in lengths), default=None)
        except ValueError:
            await _answer(send, 400, "the Content-Length header is not a number")
            return
        if declared is not None and declared > self.max_bytes:
            await _answer(send, 413, self._message(f"is {_megabytes(declared)}"))
            return

        received = 0
        refused = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    refused = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # whatever the application answers to a body cut short, the answer is 413
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            # The application may let the cut-off surface as any error (FastAPI turns a failed
            # body read into a 400, a task group wraps it): once refused, it is the 413 below.
            if not refused:
                raise
        if refused and not started:
            await _answer(send, 413, self._message(f"is over {_megabytes(self.max_bytes)}"))

    def _message(self, size: str) -> str:
        return f"the request body {size}; the limit is {_megabytes(self.max_bytes)} (max_request_mb)"


class NoNulInUrl:
    """422 for a NUL character in the URL's path or query, naming where it is.

    No name, id or search text holds one, and PostgreSQL refuses it in any query (psycopg raises
    DataError before the query is sent): refused here, before routing, for every route alike.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            problem = nul_in_url(scope.get("path", ""), scope.get("query_string", b""))
            if problem is not None:
                # A body left unread cannot be followed by another request on the connection.
                await _answer(send, 422, problem, close=_has_body(scope))
                return
        await self.app(scope, receive, send)


def _has_body(scope: Scope) -> bool:
    for key, value in scope.get("headers", []):
        name = key.lower()
        if (name == b"content-length" and value.strip() not in (b"", b"0")) or name == b"transfer-encoding":
            return True
    return False


def nul_in_url(path: str, query: bytes) -> str | None:
    """Where the URL holds a NUL character, in words, or None."""
    if "\x00" in path:
        return f"the URL path {path.replace(chr(0), '%00')!r} must not contain NUL (%00) characters"
    if b"\x00" not in query and b"%00" not in query:
        return None
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            return f"query parameter {name.replace(chr(0), '%00')!r}: must not contain NUL (%00) characters"
    return None


async def _answer(send: Send, status: int, detail: str, *, close: bool = True) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:  # the rest of the body is never read: the connection cannot carry another request
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
