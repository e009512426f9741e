"""--dry-run as an httpx transport: every request goes through the client's usual path
(the retry loop, the answer's parsing) and reaches this transport instead of the network.
It records the request (method, URL, body; every secret masked) and answers with the
canned reply of a successful call, which the platform's adapter gives.

The request carries the :class:`~imcli.calls.Call` it was built from (a request
extension): the body is recorded as the adapter gave it, media as a description, since
a dry run encodes and opens nothing (a URL source is never downloaded).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

from imcli import _redact
from imcli.calls import CALL, Call
from imcli.httpx_lazy import import_httpx

import_httpx()  # httpx without its command-line module (see import_httpx)

import httpx  # noqa: E402

#: the JSON of a successful answer to ``(method, url)``
Reply = Callable[[str, str], Any]
Logger = Callable[[str], None]


class DryRun(httpx.MockTransport):
    """Answers every request with ``reply(method, url)`` and records it in ``plan`` (and
    one line to ``log``, when given)."""

    dry_run = True  # the client and the adapters read it: nothing is sent

    def __init__(self, plan: list[dict[str, Any]], log: Logger | None = None) -> None:
        super().__init__(self._answer)
        self.plan = plan
        self.log = log
        self.reply: Reply = lambda method, url: {}  # the adapter's, once it is made

    def _answer(self, request: httpx.Request) -> httpx.Response:
        call: Call = request.extensions[CALL]
        self.record(call)
        return httpx.Response(200, json=self.reply(call.method, call.url))

    def record(self, call: Call) -> None:
        full = call.url
        if call.params:
            full += ("&" if "?" in full else "?") + urlencode(call.params)
        body = call.describe
        if body is None:
            body = call.json if call.json is not None else call.data
        entry = {
            "method": call.method,
            "url": _redact.redact(full),
            "body": redact_tree(describe_body(body)),
        }
        self.plan.append(entry)
        if self.log is not None:
            shown = json.dumps(entry["body"], ensure_ascii=False) if body is not None else ""
            self.log(f"{call.method} {entry['url']} {shown}".rstrip())


def describe_body(value: Any) -> Any:
    """A JSON-safe picture of a request body (media as a description)."""
    from imcli.media import MediaSource

    if isinstance(value, MediaSource):
        return f"<{value.describe()}>"
    if isinstance(value, Mapping):
        return {str(k): describe_body(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [describe_body(v) for v in value]
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if hasattr(value, "read"):
        return f"<{getattr(value, 'name', 'stream')}>"
    return value


def redact_tree(value: Any) -> Any:
    """Every known secret masked in the strings (and numbers) of a JSON-safe value."""
    if isinstance(value, str):
        return _redact.redact(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        # a number that came from a ${VAR} is masked too, as a string: valid JSON
        return _redact.MASK if _redact.redact(str(value)) != str(value) else value
    if isinstance(value, dict):
        return {k: redact_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_tree(v) for v in value]
    return value
