"""A threaded HTTP server on 127.0.0.1 that records what it receives.

Each platform's fake (tests/fakes/<platform>.py) subclasses :class:`FakeServer` and
implements :meth:`FakeServer.handle`, answering like the real API does. Bodies are parsed
as the real servers do: JSON, urlencoded forms and multipart/form-data (streamed: file
parts are hashed and counted, and kept only when small, so an 800 MiB upload costs the
server no memory). Chunked request bodies are decoded.

A fake whose API takes raw binary bodies (Slack's upload URL) sets :attr:`FakeServer.raw_paths`:
a non-multipart body sent to a matching path is streamed into ``rec.files["<raw>"]`` (size
and sha256, the bytes kept only when small) and never parsed as a form or JSON.

Tests script failures with :meth:`FakeServer.queue` (the next request whose path matches
gets that reply instead) and read :attr:`FakeServer.requests` to assert what arrived.

Concurrency is measured by what the server saw, not by arrival times (which a loaded
machine spreads out): :attr:`FakeServer.max_in_flight` is the most requests it held at
once (received, not yet answered), and :meth:`FakeServer.hold` keeps every answer back
until that many are in flight, so that a client that sends them concurrently reaches the
number however slowly it runs, and one that sends them one at a time never does.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

#: the clock arrivals are stamped with (``Recorded.arrived``): the tests' ``clock`` fixture
#: points it at the clock imcli waits with, so that a wait imcli skipped shows between arrivals
clock: Callable[[], float] = time.monotonic

KEEP_LIMIT = 4 * 1024 * 1024  # file parts larger than this are hashed, not kept
RAW_PART = "<raw>"  # the key of a raw body in Recorded.files (see FakeServer.raw_paths)


@dataclass
class FilePart:
    field_name: str
    filename: str | None
    content_type: str | None
    size: int = 0
    sha256: str = ""
    data: bytes | None = None  # None when the part was larger than KEEP_LIMIT


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes | None = None  # raw body, when it was not multipart (or small)
    json: Any = None
    form: dict[str, str] = field(default_factory=dict)  # urlencoded or multipart text fields
    files: dict[str, FilePart] = field(default_factory=dict)
    content_type: str = ""
    arrived: float = 0.0

    def field(self, name: str) -> Any:
        """A parameter from whichever of JSON, form or query carried it."""
        if isinstance(self.json, dict) and name in self.json:
            return self.json[name]
        if name in self.form:
            return self.form[name]
        return self.query.get(name)


@dataclass
class Reply:
    status: int = 200
    json: Any = None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering
    drop: bool = False  # close the connection without answering


class _Chunked:
    """Reads a chunked request body as a stream of bytes."""

    def __init__(self, rfile: Any) -> None:
        self.rfile = rfile

    def __iter__(self) -> Iterator[bytes]:
        while True:
            line = self.rfile.readline()
            size = int(line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return
            remaining = size
            while remaining:
                chunk = self.rfile.read(min(remaining, 1 << 16))
                if not chunk:
                    return
                remaining -= len(chunk)
                yield chunk
            self.rfile.readline()


def _fixed(rfile: Any, length: int) -> Iterator[bytes]:
    remaining = length
    while remaining > 0:
        chunk = rfile.read(min(remaining, 1 << 16))
        if not chunk:
            return
        remaining -= len(chunk)
        yield chunk


def _parse_multipart(content_type: str, chunks: Iterator[bytes], rec: Recorded) -> None:
    from python_multipart.multipart import MultipartParser, parse_options_header

    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise ValueError("multipart body without boundary")

    state: dict[str, Any] = {}

    def on_part_begin() -> None:
        state.clear()
        state["headers"] = {}
        state["hash"] = hashlib.sha256()
        state["size"] = 0
        state["buf"] = bytearray()
        state["hname"] = b""
        state["hvalue"] = b""

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["hname"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["hvalue"] += data[start:end]

    def on_header_end() -> None:
        state["headers"][state["hname"].decode().lower()] = state["hvalue"].decode()
        state["hname"] = b""
        state["hvalue"] = b""

    def on_part_data(data: bytes, start: int, end: int) -> None:
        piece = data[start:end]
        state["hash"].update(piece)
        state["size"] += len(piece)
        if state["size"] <= KEEP_LIMIT:
            state["buf"] += piece

    def on_part_end() -> None:
        disp = state["headers"].get("content-disposition", "")
        _, dparams = parse_options_header(disp.encode())  # a str would be encoded as latin-1
        name = dparams.get(b"name", b"").decode()
        filename = dparams.get(b"filename")
        if filename is None and b"filename*" in dparams:
            filename = dparams[b"filename*"]
        if filename is not None:
            rec.files[name] = FilePart(
                field_name=name,
                filename=filename.decode("utf-8", "replace"),
                content_type=state["headers"].get("content-type"),
                size=state["size"],
                sha256=state["hash"].hexdigest(),
                data=bytes(state["buf"]) if state["size"] <= KEEP_LIMIT else None,
            )
        else:
            rec.form[name] = bytes(state["buf"]).decode("utf-8")

    parser = MultipartParser(
        boundary,
        callbacks={
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    for chunk in chunks:
        parser.write(chunk)
    parser.finalize()


def _read_raw(content_type: str, chunks: Iterator[bytes], rec: Recorded) -> None:
    """A raw binary body, streamed: hashed and counted, kept only when small."""
    digest = hashlib.sha256()
    size = 0
    buf = bytearray()
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
        if size <= KEEP_LIMIT:
            buf += chunk
    data = bytes(buf) if size <= KEEP_LIMIT else None
    rec.files[RAW_PART] = FilePart(
        field_name=RAW_PART,
        filename=None,
        content_type=content_type or None,
        size=size,
        sha256=digest.hexdigest(),
        data=data,
    )
    rec.body = data


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512  # the listen() backlog: fan-out opens many connections at once

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return  # a client that hung up (an interrupted or timed-out test): not news
        super().handle_error(request, client_address)


class FakeServer:
    """Subclass and implement :meth:`handle`. Use as a context manager or start()/stop()."""

    #: a regex: non-multipart bodies sent to matching paths are raw uploads (see module doc)
    raw_paths: str | None = None

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._queued: list[tuple[re.Pattern[str], Reply]] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.latency = 0.0  # seconds added to every answer
        self.tls: tuple[str, str] | None = None  # (certfile, keyfile): serve HTTPS
        self.host = "127.0.0.1"  # another loopback address (127.0.0.2) where a test needs one
        self.before: Callable[[Recorded], Reply | None] | None = None
        self._port = 0  # 0 until the first start: any free port
        self.flying: list[Recorded] = []  # requests received and not answered yet
        self.max_in_flight = 0  # the most at once, since the start or the last reset
        self._flight = threading.Condition(self._lock)
        self._hold: tuple[int, re.Pattern[str], float] | None = None  # see hold()

    # -- life cycle --------------------------------------------------------------
    def start(self) -> FakeServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are separate writes

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                server._dispatch(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve  # noqa: N815

        # a server stopped and started again listens on the same port: between the two it
        # refuses connections (an outage), then the clients find it again (recovery)
        self._httpd = _Server((self.host, self._port), Handler)
        self._port = self._httpd.server_address[1]
        if self.tls is not None:  # serve HTTPS with this (certfile, keyfile)
            import ssl

            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*self.tls)
            self._httpd.socket = ctx.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        if self.tls is not None:
            return f"https://localhost:{self.port}"
        return f"http://{self.host}:{self.port}"

    # -- scripting -----------------------------------------------------------------
    def queue(self, path_regex: str, reply: Reply, times: int = 1) -> None:
        """The next ``times`` requests whose path matches get ``reply``."""
        with self._lock:
            for _ in range(times):
                self._queued.append((re.compile(path_regex), reply))

    def calls(self, path_regex: str = "") -> list[Recorded]:
        pattern = re.compile(path_regex)
        with self._lock:
            return [r for r in self.requests if pattern.search(r.path)]

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._queued.clear()
            self.max_in_flight = len(self.flying)

    def hold(self, count: int, path_regex: str = "", timeout: float = 10.0) -> None:
        """Answer no request whose path matches until ``count`` of them are in flight at
        once; then, or after ``timeout`` real seconds (a client that never gets there),
        answer as usual."""
        with self._lock:
            self._hold = (count, re.compile(path_regex), time.monotonic() + timeout)

    def _wait_for_hold(self, rec: Recorded) -> None:
        """Called with the lock held, by a request that has just arrived."""
        while self._hold is not None:
            count, pattern, deadline = self._hold
            if not pattern.search(rec.path):
                return
            left = deadline - time.monotonic()
            held = sum(1 for r in self.flying if pattern.search(r.path))
            if held >= count or left <= 0:
                self._hold = None  # the gate stays open for the rest of the run
                self._flight.notify_all()
                return
            self._flight.wait(left)

    # -- to implement ----------------------------------------------------------------
    def handle(self, req: Recorded) -> Reply:
        raise NotImplementedError

    # -- plumbing ----------------------------------------------------------------------
    def _dispatch(self, h: BaseHTTPRequestHandler) -> None:
        split = urlsplit(h.path)
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        headers = {k.lower(): v for k, v in h.headers.items()}
        ctype = headers.get("content-type", "")
        rec = Recorded(
            method=h.command,
            path=split.path,
            query=query,
            headers=headers,
            content_type=ctype,
            arrived=clock(),
        )
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks: Iterator[bytes] = iter(_Chunked(h.rfile))
        else:
            chunks = _fixed(h.rfile, int(headers.get("content-length", "0") or 0))
        reply: Reply | None = None
        try:
            if ctype.startswith("multipart/form-data"):
                _parse_multipart(ctype, chunks, rec)
            elif self.raw_paths is not None and re.search(self.raw_paths, rec.path):
                _read_raw(ctype, chunks, rec)
            else:
                raw = b"".join(chunks)
                rec.body = raw
                if raw and "json" in ctype:
                    rec.json = json.loads(raw.decode("utf-8"))
                elif raw and ctype.startswith("application/x-www-form-urlencoded"):
                    rec.form = {
                        k: v[-1] for k, v in parse_qs(raw.decode(), keep_blank_values=True).items()
                    }
        except (ValueError, UnicodeDecodeError) as exc:
            reply = self.bad_body(rec, exc)
        with self._lock:
            self.requests.append(rec)
            self.flying.append(rec)
            self.max_in_flight = max(self.max_in_flight, len(self.flying))
            self._wait_for_hold(rec)
            if reply is None:
                for i, (pattern, _reply) in enumerate(self._queued):
                    if pattern.search(rec.path):
                        reply = self._queued.pop(i)[1]
                        break
        try:
            if reply is None and self.before is not None:
                reply = self.before(rec)
            if reply is None:
                try:
                    reply = self.handle(rec)
                except Exception as exc:  # a bug in a fake must be loud, not a hang
                    reply = Reply(500, json={"fake_server_error": repr(exc)})
            self._answer(h, reply)
        finally:
            with self._lock:
                self.flying.remove(rec)

    def _answer(self, h: BaseHTTPRequestHandler, reply: Reply) -> None:
        delay = reply.delay + self.latency
        if delay:
            time.sleep(delay)
        if reply.drop:
            h.close_connection = True
            try:
                h.connection.shutdown(2)
            except OSError:
                pass
            return
        body = reply.body
        headers_out = dict(reply.headers)
        if body is None:
            body = json.dumps(reply.json if reply.json is not None else {}).encode()
            headers_out.setdefault("Content-Type", "application/json; charset=utf-8")
        h.send_response(reply.status)
        for k, v in headers_out.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def bad_body(self, rec: Recorded, exc: Exception) -> Reply:
        """How this API answers a body it cannot parse (override per platform)."""
        return Reply(400, json={"error": f"cannot parse body: {exc}"})
