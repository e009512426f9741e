"""A fault proxy: a raw-socket HTTP/1.1 server on 127.0.0.1 that sits in front of a
well-behaved fake and misbehaves on purpose for the requests a test marks.

Each request is read whole (request line, headers, body, chunked bodies decoded). The
first :class:`Rule` whose ``match`` fits the request (a byte string found in the request
line or body, or a callable) and that still has ``times`` left decides what happens: its
``fault`` gets the client socket and the request and does its worst. A request no rule
takes is forwarded to the upstream fake (a fresh connection per request) and the reply
is relayed with a ``Content-Length``, on the same keep-alive connection, so the other
targets of a push are really delivered and the upstream fake records them.

Faults (all return whether the client connection stays open):

* :func:`reset` — the status line and half the headers, then an RST (SO_LINGER 0);
* :func:`hang` — accept the request and never answer;
* :func:`stall_body` — status line and headers (a Content-Length), a few body bytes, then nothing;
* :func:`drip_body` — headers, then one body byte every ``interval`` seconds (a reply
  that is always "still coming": only a total deadline ends it);
* :func:`drop` — close the connection (FIN) without a byte of answer;
* :func:`respond` — a canned answer (429 storms, 5xx, malformed JSON, HTML error pages);
* :func:`rotate` — each call the next of several faults (a 503/502/500 streak);
* :func:`delivered_then` — forward (the fake delivers), then another fault's answer;
* :func:`then_refuse` — another fault, then every new connection is refused;
* :func:`huge_body` — a 200 JSON answer of many megabytes, streamed (``written`` counts
  what the client really accepted before it hung up).

A rule added with ``early=N`` judges a request after its headers and the first ``N``
bytes of its body (its ``match`` sees that much of the body) and, when it fits, faults
then, while the client is still sending the rest: a reset in the middle of an upload. An
early rule never fires once a body has been read whole; the connection is closed after it.

``idle_close`` (seconds) makes the proxy behave like a server with a short keep-alive
timeout: a connection that carried a reply and sees no next request within that time is
closed, without a ``Connection: close`` header, while the client holds it in its pool.
"""

from __future__ import annotations

import http.client
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "te", "upgrade"}
)

NGINX_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.24.0</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
NGINX_413 = (
    b"<html>\r\n<head><title>413 Request Entity Too Large</title></head>\r\n<body>\r\n"
    b"<center><h1>413 Request Entity Too Large</h1></center>\r\n"
    b"<hr><center>nginx/1.24.0</center>\r\n</body>\r\n</html>\r\n"
)


@dataclass
class Request:
    method: str
    target: str  # the request-target: path and query
    headers: dict[str, str]  # lower-case names
    body: bytes
    connection: int  # the proxy's number for the client connection (1, 2, ...)
    arrived: float = 0.0
    fault: str | None = None  # the name of the fault that took it, None = forwarded

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    def has(self, marker: bytes | str) -> bool:
        m = marker.encode() if isinstance(marker, str) else marker
        return m in self.target.encode("latin-1") or m in self.body


Fault = Callable[["FaultyProxy", socket.socket, Request], bool]


@dataclass
class Rule:
    match: bytes | Callable[[Request], bool]
    fault: Fault
    times: int | None = None  # None: every matching request
    used: int = 0
    early: int | None = None  # judge and fault after this many body bytes (see module doc)

    def fits_more(self) -> bool:
        return self.times is None or self.used < self.times

    def fits(self, req: Request) -> bool:
        if not self.fits_more():
            return False
        if isinstance(self.match, bytes):
            return req.has(self.match)
        return self.match(req)


@dataclass
class FaultyProxy:
    upstream: str  # the well-behaved fake's base URL
    idle_close: float | None = None
    rules: list[Rule] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    connections: int = 0
    idle_closed: int = 0  # pooled connections the proxy closed on the client
    written: int = 0  # huge_body: bytes the client accepted

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._clients: list[socket.socket] = []
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(128)
        parts = urlsplit(self.upstream)
        self._up = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._thread = threading.Thread(target=self._accept, daemon=True)

    # -- life cycle -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def start(self) -> FaultyProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        try:
            self._sock.close()
        except OSError:
            pass
        with self._lock:
            clients = list(self._clients)
        for c in clients:
            try:
                c.close()
            except OSError:
                pass

    def __enter__(self) -> FaultyProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- scripting --------------------------------------------------------------------------
    def add(
        self,
        match: bytes | str | Callable[[Request], bool],
        fault: Fault,
        times: int | None = None,
        early: int | None = None,
    ) -> Rule:
        m = match.encode() if isinstance(match, str) else match
        rule = Rule(m, fault, times, early=early)
        with self._lock:
            self.rules.append(rule)
        return rule

    def hits(self, marker: bytes | str | None = None) -> list[Request]:
        with self._lock:
            reqs = list(self.requests)
        return [r for r in reqs if marker is None or r.has(marker)]

    def faulted(self) -> list[Request]:
        return [r for r in self.hits() if r.fault is not None]

    # -- plumbing ---------------------------------------------------------------------------
    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                number = self.connections
                self._clients.append(conn)
            threading.Thread(target=self._serve, args=(conn, number), daemon=True).start()

    def _serve(self, conn: socket.socket, number: int) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader = conn.makefile("rb")
        served = 0
        try:
            while not self._stop.is_set():
                if served and self.idle_close is not None:
                    conn.settimeout(self.idle_close)
                    try:
                        first = reader.peek(1)[:1] if hasattr(reader, "peek") else b""
                    except TimeoutError:
                        with self._lock:
                            self.idle_closed += 1
                        return  # an idle keep-alive connection: close it under the client
                    conn.settimeout(None)
                    if not first:
                        return
                req = _read_head(reader, number)
                if req is None:
                    return
                served += 1
                rule = self._early(reader, req)
                if rule is None:
                    req.body += _read_body(reader, req.headers, len(req.body))
                with self._lock:
                    if rule is None:
                        rule = next(
                            (r for r in self.rules if r.early is None and r.fits(req)), None
                        )
                        if rule is not None:
                            rule.used += 1
                            req.fault = getattr(rule.fault, "__name__", "fault")
                    self.requests.append(req)
                keep = rule.fault(self, conn, req) if rule else self._forward(conn, req)
                if rule is not None and rule.early is not None:
                    return  # the rest of the body is unread: the connection is spoiled
                if not keep or req.headers.get("connection", "").lower() == "close":
                    return
        except OSError:
            return
        finally:
            try:
                reader.close()
                conn.close()
            except OSError:
                pass

    def _early(self, reader: Any, req: Request) -> Rule | None:
        """An early rule that fits the request's first bytes (read into ``req.body``)."""
        with self._lock:
            live = [r for r in self.rules if r.early is not None and r.fits_more()]
        if not live:
            return None
        want = max(r.early or 0 for r in live)
        if "chunked" in req.headers.get("transfer-encoding", "").lower():
            want = 0  # a chunked body is judged on its head only
        want = min(want, int(req.headers.get("content-length", "0") or 0))
        if want:
            req.body = reader.read(want)
        with self._lock:
            rule = next((r for r in live if r.fits(req)), None)
            if rule is not None:
                rule.used += 1
                req.fault = getattr(rule.fault, "__name__", "fault")
        return rule

    def _forward(self, conn: socket.socket, req: Request) -> bool:
        up = http.client.HTTPConnection(*self._up, timeout=30)
        try:
            headers = {k: v for k, v in req.headers.items() if k not in HOP_BY_HOP}
            headers["Content-Length"] = str(len(req.body))
            up.request(req.method, req.target, body=req.body, headers=headers)
            resp = up.getresponse()
            body = resp.read()
            head = [f"HTTP/1.1 {resp.status} {resp.reason}"]
            head += [f"{k}: {v}" for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP]
            head.append(f"Content-Length: {len(body)}")
            conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
            return True
        finally:
            up.close()


def _read_head(reader: Any, number: int) -> Request | None:
    """The request line and headers (``body`` left empty)."""
    line = reader.readline(65537)
    while line in (b"\r\n", b"\n"):
        line = reader.readline(65537)
    if not line:
        return None
    method, target, _ = line.decode("latin-1").split(" ", 2)
    headers: dict[str, str] = {}
    while True:
        h = reader.readline(65537)
        if h in (b"\r\n", b"\n", b""):
            break
        name, _, value = h.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    from tests.fakes import base  # its clock: the one imcli waits with (see base.clock)

    return Request(method, target, headers, b"", number, arrived=base.clock())


def _read_body(reader: Any, headers: dict[str, str], already: int) -> bytes:
    """The (rest of the) body, chunked bodies decoded; ``already`` bytes were read."""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int(reader.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while reader.readline() not in (b"\r\n", b"\n", b""):
                    pass
                break
            chunks.append(reader.read(size))
            reader.readline()
        return b"".join(chunks)
    return bytes(reader.read(max(0, int(headers.get("content-length", "0") or 0) - already)))


def _head(status: int, reason: str, headers: dict[str, str], length: int | None) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}"] + [f"{k}: {v}" for k, v in headers.items()]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


# -- the faults ---------------------------------------------------------------------------------


def reset(proxy: FaultyProxy, conn: socket.socket, req: Request) -> bool:
    """Half an answer, then a TCP reset."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/js")
    time.sleep(0.05)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()
    return False


def hang(proxy: FaultyProxy, conn: socket.socket, req: Request) -> bool:
    """Accept the request and never answer (until the proxy stops)."""
    proxy._stop.wait()
    return False


def stall_body(proxy: FaultyProxy, conn: socket.socket, req: Request) -> bool:
    """Headers promising 4096 bytes, then 10 of them, then nothing."""
    conn.sendall(_head(200, "OK", {"Content-Type": "application/json"}, 4096) + b'{"ok": tru')
    proxy._stop.wait()
    return False


def drip_body(interval: float = 0.1) -> Fault:
    def drip_body(proxy: FaultyProxy, conn: socket.socket, req: Request) -> bool:
        """Headers, then one byte of a long body every ``interval`` seconds."""
        conn.sendall(_head(200, "OK", {"Content-Type": "application/json"}, 100_000) + b"{")
        while not proxy._stop.wait(interval):
            conn.sendall(b" ")
        return False

    return drip_body


def drop(proxy: FaultyProxy, conn: socket.socket, req: Request) -> bool:
    """Close the connection without answering."""
    conn.shutdown(socket.SHUT_RDWR)
    return False


def respond(
    status: int,
    body: bytes | str = b"",
    headers: dict[str, str] | None = None,
    reason: str | None = None,
    name: str | None = None,
) -> Fault:
    """A canned answer, on a connection that stays open."""
    data = body.encode() if isinstance(body, str) else body
    phrase = reason or http.client.responses.get(status, "Unknown")

    def respond(proxy: FaultyProxy, conn: socket.socket, req: Request) -> bool:
        conn.sendall(_head(status, phrase, dict(headers or {}), len(data)) + data)
        return True

    respond.__name__ = name or f"respond_{status}"
    return respond


def rotate(*faults: Fault, name: str = "rotate") -> Fault:
    """Each call, the next fault of the list (round robin)."""
    state = {"i": 0}
    lock = threading.Lock()

    def rotate(proxy: FaultyProxy, conn: socket.socket, req: Request) -> bool:
        with lock:
            fault = faults[state["i"] % len(faults)]
            state["i"] += 1
        return fault(proxy, conn, req)

    rotate.__name__ = name
    return rotate


def huge_body(size: int = 48 << 20) -> Fault:
    """A 200 JSON answer of ``size`` bytes (``{"pad": "xxx…"}``), streamed in 64 KiB
    blocks; ``proxy.written`` counts the bytes the client took before it hung up."""

    def huge_body(proxy: FaultyProxy, conn: socket.socket, req: Request) -> bool:
        block = b"x" * (1 << 16)
        prefix, suffix = b'{"pad": "', b'"}'
        conn.sendall(_head(200, "OK", {"Content-Type": "application/json"}, size) + prefix)
        sent, end = len(prefix), size - len(suffix)
        try:
            while sent < end and not proxy._stop.is_set():
                piece = block[: min(len(block), end - sent)]
                conn.sendall(piece)
                sent += len(piece)
                with proxy._lock:
                    proxy.written = sent
            conn.sendall(suffix)
        except OSError:
            return False
        return False

    return huge_body


def delivered_then(fault: Fault) -> Fault:
    """Forward the request to the upstream fake (which acts on it: the message is
    delivered), throw its answer away, then do ``fault`` -- a gateway that passed the
    request on and answered 502/504 itself, or a connection lost after the send."""

    def delivered_then(proxy: FaultyProxy, conn: socket.socket, req: Request) -> bool:
        up = http.client.HTTPConnection(*proxy._up, timeout=30)
        try:
            headers = {k: v for k, v in req.headers.items() if k not in HOP_BY_HOP}
            headers["Content-Length"] = str(len(req.body))
            up.request(req.method, req.target, body=req.body, headers=headers)
            up.getresponse().read()
        finally:
            up.close()
        return fault(proxy, conn, req)

    delivered_then.__name__ = f"delivered_then_{getattr(fault, '__name__', 'fault')}"
    return delivered_then


def then_refuse(fault: Fault) -> Fault:
    """``fault``, then the proxy stops listening and closes this connection: every
    connection after it is refused (a host gone after a gateway's answer)."""

    def then_refuse(proxy: FaultyProxy, conn: socket.socket, req: Request) -> bool:
        fault(proxy, conn, req)
        try:
            proxy._sock.shutdown(socket.SHUT_RDWR)  # Linux: connect() is refused from now
        except OSError:
            pass
        return False

    then_refuse.__name__ = f"{getattr(fault, '__name__', 'fault')}_then_refuse"
    return then_refuse


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (connection refused)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()
    return port
