"""A local OpenAI-compatible chat server for tests: real HTTP on 127.0.0.1, replies from a script.

Only the model's answers are fake; everything on our side (LangChain's client, parsing,
validation, retries, fallback) runs for real against it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

Reply = Callable[[dict[str, Any]], str | tuple[str, float]]  # content, or (content, seconds to wait first)


class LocalServer:
    """A threaded HTTP server on a free port of 127.0.0.1, serving while inside `with`."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class OpenAIStub(LocalServer):
    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                with stub._lock:
                    stub.requests.append(body)
                    reply = stub.replies.pop(0) if stub.replies else (lambda _b: '{"no_evidence": true}')
                result = reply(body)
                content, delay = result if isinstance(result, tuple) else (result, 0.0)
                if delay:
                    time.sleep(delay)
                payload = {
                    "id": "chatcmpl-test",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body.get("model", "stub"),
                    "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
                    ],
                    "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
                }
                data = json.dumps(payload).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

        super().__init__(Handler)


class ErrorEndpoint(LocalServer):
    """An OpenAI-compatible endpoint that answers every POST with one HTTP error, in the body shape
    OpenAI uses (a refused key, a rate limit, a broken server). Counts what it was sent."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        self.requests: list[tuple[str, str]] = []  # (path, Authorization header)
        self._lock = threading.Lock()
        endpoint = self
        body = json.dumps({"error": {"message": message, "type": "invalid_request_error", "code": code}}).encode()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with endpoint._lock:
                    endpoint.requests.append((self.path, self.headers.get("Authorization", "")))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        super().__init__(Handler)


def prompt_text(body: dict[str, Any]) -> str:
    return "\n".join(str(m.get("content", "")) for m in body["messages"])
