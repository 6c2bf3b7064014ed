"""What the web app refuses before Gradio sees a request (an ASGI middleware; README, "Security").

- A `Host` header naming none of the allowed hosts: a page on another site that rebinds its own DNS name to
  127.0.0.1 would otherwise reach a local app from the visitor's browser (DNS rebinding).
- `/gradio_api/file=` with a URL scheme, and `/gradio_api/proxy=`: Gradio would fetch that URL from the
  server (resolving the name, on a public DNS-over-HTTPS resolver too) for anyone who asks.
- A file object (Gradio's FileData) in a request body whose `path` is a URL, or whose `url` points at
  another server: preprocessing would download it from the server.

Refusals are plain-text 400/403/413 responses that say what was refused; nothing is fetched or resolved.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_SCHEME = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.\-]*:|[/\\]{2})")  # "https:", "file:", "//host"
# Request bodies that are not file uploads are small (a question, a few settings); this bounds what the
# guard holds in memory to read one.
MAX_BODY_BYTES = 16 * 1024 * 1024


def host_name(header: str) -> str:
    """The host of a Host header, lower case, without its port ("[::1]:7860" -> "::1")."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class RequestGuard:
    """ASGI middleware: checks the Host header, Gradio's URL-fetching routes and file objects in bodies."""

    def __init__(self, app: ASGIApp, allowed_hosts: Sequence[str]) -> None:
        self.app = app
        self.any_host = "*" in allowed_hosts
        self.allowed = {host_name(h) for h in allowed_hosts if h != "*"}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = headers.get("host", "")
        if not self.any_host and host_name(host) not in self.allowed:
            await _refuse(
                scope,
                receive,
                send,
                400,
                "Refused: this app does not serve that host name (QA_ALLOWED_HOSTS).",
            )
            return
        path: str = scope.get("path", "")
        if "/proxy=" in path or ("/file=" in path and _SCHEME.match(path.split("/file=", 1)[1])):
            await _refuse(scope, receive, send, 403, "Refused: this app serves its own files only, not URLs.")
            return
        content_type = headers.get("content-type", "")
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        if content_type.startswith("multipart/"):  # uploads: Gradio streams them to its own folder
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:
            await _refuse(scope, receive, send, 413, "Refused: the request body is too large.")
            return
        if _foreign_files(body, {host_name(host), *self.allowed}):
            await _refuse(
                scope, receive, send, 400, "Refused: file references must point at this server's own files."
            )
            return
        await self.app(scope, _replay(body, receive), send)


async def _read_body(receive: Receive) -> bytes | None:
    """The whole body, or None past MAX_BODY_BYTES."""
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        parts.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(parts)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the app the body read already, then whatever the client sends next."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def _foreign_files(body: bytes, own_hosts: set[str]) -> bool:
    """Whether a JSON body holds a file object pointing outside this server."""
    try:
        data = json.loads(body)
    except RecursionError:  # nested past what the decoder takes: no request of ours looks like that
        return True
    except ValueError:  # not JSON: the route will refuse it itself
        return False
    return any(_foreign(obj, own_hosts) for obj in _dicts(data))


def _foreign(obj: dict[str, Any], own_hosts: set[str]) -> bool:
    path, url = obj.get("path"), obj.get("url")
    if isinstance(path, str) and _SCHEME.match(path):
        return True
    if isinstance(url, str) and _SCHEME.match(url) and ("path" in obj or "meta" in obj):
        return (urlsplit(url).hostname or "") not in own_hosts
    return False


def _dicts(data: Any) -> Iterable[dict[str, Any]]:
    """Every JSON object inside `data`, iteratively (a deeply nested body must not exhaust the stack)."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, message: str) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008, "reason": message})
        return
    await PlainTextResponse(message, status_code=status)(scope, receive, send)
