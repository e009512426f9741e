"""The one HTTP layer every platform calls: retries, rate limits, the time budget,
proxies, --verbose logging, --dry-run recording and redaction.

Every request runs the same loop: wait for a send's rate-limit slot within the budget,
make one try, classify what happened to it (an :data:`~imcli.retry.Outcome`), and let
:class:`~imcli.retry.Retry` (the rule is :func:`~imcli.retry.decide`) say how long to
wait before the next try or which error to report.

Adapters pass a ``parse`` callable that turns a response into data or raises
:class:`RetryableError` (come back later), :class:`AccountOffline` (credentials
rejected) or :class:`PlatformError` (a definite error).
"""

from __future__ import annotations

import asyncio
import contextvars
import json as jsonlib
import math
import re
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from imcli import _redact
from imcli.errors import (
    AccountOffline,
    PlatformError,
    RetryableError,
)
from imcli.ratelimit import Clock, RateLimiter
from imcli.retry import Budget as Budget  # the budget every caller gives the client
from imcli.retry import Failed, RequestKind, Retry, retryable_outcome
from imcli.retry import decide as decide  # the retry rule, documented here too

if TYPE_CHECKING:
    import httpx

    from imcli.media import MediaSource
    from imcli.models import Target

T = TypeVar("T")

_LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
MAX_REPLY = 4 << 20  # bytes of an API answer read at most: a bigger one is refused, not buffered


class ReplyTooLarge(Exception):
    """An API answer longer than MAX_REPLY (read no further)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"{MAX_REPLY >> 20} MiB")
        self.status = status


def import_httpx() -> Any:
    """Import httpx without its command-line module.

    ``httpx/__init__.py`` imports ``httpx._main`` (and with it click, rich and
    pygments) only to offer the ``httpx`` console command, which imcli never uses;
    that costs tens of milliseconds on every push. A stand-in module is placed for
    the duration of the import; its ``main`` loads the real module on first call, so
    anyone who does use ``httpx.main`` in the same process still gets it.
    """
    if "httpx" in sys.modules:
        return sys.modules["httpx"]
    import types

    stub = types.ModuleType("httpx._main")

    def main(*args: Any, **kwargs: Any) -> Any:
        import importlib

        if sys.modules.get("httpx._main") is stub:
            del sys.modules["httpx._main"]
        return importlib.import_module("httpx._main").main(*args, **kwargs)

    stub.main = main  # type: ignore[attr-defined]
    placed = "httpx._main" not in sys.modules
    if placed:
        sys.modules["httpx._main"] = stub
    try:
        import httpx
    finally:
        if placed and sys.modules.get("httpx._main") is stub:
            del sys.modules["httpx._main"]
    if "sniffio" not in sys.modules:
        # httpcore tries `import sniffio` (optional) for every lock it makes; a failed
        # import is not cached and scans sys.path each time (~0.1 ms, ten per request).
        try:
            import sniffio  # noqa: F401
        except ImportError:
            sys.modules["sniffio"] = None  # type: ignore[assignment]
    return httpx


_lazy_ssl_class: type | None = None


def lazy_ssl_context() -> Any:
    """An ``ssl.SSLContext`` that builds the real one (httpx's default: certifi's CA
    bundle, or ``SSL_CERT_FILE``/``SSL_CERT_DIR``) on its first TLS handshake.

    httpx creates and loads its context when the client is made, and parsing the CA
    bundle costs ~20 ms on every run, although a push to ``http://`` (a local OneBot or
    Bot API server) never needs it. TLS handshakes go through ``wrap_bio`` (anyio) or
    ``wrap_socket``; both are handed to the real context, with the ALPN protocols httpcore
    asked for.
    """
    global _lazy_ssl_class
    import ssl

    if _lazy_ssl_class is None:

        class LazySSLContext(ssl.SSLContext):
            _real: ssl.SSLContext | None = None
            _alpn: list[str] | None = None

            def __new__(cls) -> LazySSLContext:
                return super().__new__(cls, ssl.PROTOCOL_TLS_CLIENT)

            def __init__(self) -> None:
                pass

            def real(self) -> ssl.SSLContext:
                if self._real is None:
                    ctx = import_httpx().create_ssl_context()
                    if self._alpn:
                        ctx.set_alpn_protocols(self._alpn)
                    self._real = ctx
                return self._real

            def set_alpn_protocols(self, protocols: Any) -> None:
                self._alpn = list(protocols)
                if self._real is not None:
                    self._real.set_alpn_protocols(self._alpn)

            def wrap_socket(self, *args: Any, **kwargs: Any) -> Any:
                return self.real().wrap_socket(*args, **kwargs)

            def wrap_bio(self, *args: Any, **kwargs: Any) -> Any:
                return self.real().wrap_bio(*args, **kwargs)

        _lazy_ssl_class = LazySSLContext
    return _lazy_ssl_class()


def _landed(flight: list[Any] | None, target: Any) -> None:
    """The send's try is over (answered or surely failed): no longer in flight."""
    if flight is not None and target in flight:
        flight.remove(target)


#: the sends of the running task whose request is out and whose answer is not read yet
#: (the fan-out sets one list per target; an interrupt then knows what was in flight)
IN_FLIGHT: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar(
    "imcli_in_flight", default=None
)


Logger = Callable[[str], None]

#: the request extension that carries the :class:`Call` a request was built from
CALL = "imcli.call"


@dataclass
class Call:
    """One API call as an adapter asked for it; each try builds its request from it."""

    method: str
    url: str
    params: Mapping[str, Any] | None
    json: Any
    data: Mapping[str, Any] | None
    files: Callable[[], Mapping[str, Any]] | None
    content: Callable[[], AsyncIterator[bytes]] | None
    headers: Mapping[str, str] | None
    describe: Any  # how --dry-run shows the body (media as descriptions)

    @property
    def streams(self) -> bool:
        """Whether the body is streamed (an upload)."""
        return self.files is not None or self.content is not None

    def body(self, *, encoded: bool = True) -> tuple[dict[str, Any], list[IO[bytes]]]:
        """httpx's arguments for one try (its files opened anew), and the files opened.
        Not ``encoded`` (a dry run): no body at all, nothing opened; the transport
        records the call itself."""
        kwargs: dict[str, Any] = {"params": self.params, "headers": self.headers}
        kwargs["extensions"] = {CALL: self}
        opened: list[IO[bytes]] = []
        if encoded:
            kwargs["json"] = self.json
            kwargs["data"] = self.data
            if self.files is not None:
                made = self.files()
                kwargs["files"] = made
                opened.extend(_open_handles(made))
            if self.content is not None:
                kwargs["content"] = self.content()
        return {k: v for k, v in kwargs.items() if v is not None}, opened


class HttpClient:
    """One per account: one httpx.AsyncClient (keep-alive, the account's proxy)."""

    def __init__(
        self,
        *,
        platform: str,
        budget: Budget,
        proxy: str | None = None,
        limiter: RateLimiter | None = None,
        verbose: Logger | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        base_url: str | None = None,
        resend_uncertain: bool = False,
        log_bodies: bool = False,
        clock: Clock | None = None,
    ) -> None:
        self.platform = platform
        self.clock = clock or budget.clock  # every wait: rate limits, backoff, the budget
        self.log_bodies = log_bodies  # -vv: request and response bodies too
        self.resend_uncertain = resend_uncertain
        self.resent: set[Target] = set()  # targets a send that may have arrived was repeated for
        self.base_url = base_url
        self.budget = budget
        self.proxy = proxy
        self.limiter = limiter or RateLimiter((), 0, clock=self.clock)
        self.verbose = verbose
        self.transport = transport  # carries every request when given (no proxy then)
        #: a transport that sends nothing (--dry-run): adapters download, convert and
        #: upload nothing either
        self.dry_run: bool = getattr(transport, "dry_run", False)
        if self.dry_run:
            # nothing is sent, so nothing waits: no rate limit, a budget that does not run
            # out; and --verbose has no request lines (the dry run prints its own)
            self.limiter = RateLimiter((), 0, clock=self.clock)
            self.budget = Budget(math.inf, clock=budget.clock)
            self.verbose = None
        self._client: httpx.AsyncClient | None = None

    # -- the httpx client ----------------------------------------------------------
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = self._make_client()
        return self._client

    def _make_client(self) -> httpx.AsyncClient:
        httpx = import_httpx()
        common: dict[str, Any] = {
            "timeout": httpx.Timeout(30.0),
            "follow_redirects": False,
            "headers": {"User-Agent": _user_agent()},
        }
        if self.transport is not None:  # neither the proxy nor the environment's
            return httpx.AsyncClient(transport=self.transport, trust_env=False, **common)  # type: ignore[no-any-return]
        mounts: dict[str, Any] = {}
        for host in (*_LOOPBACK, *_loopback_host(self.base_url)):
            mounts[f"all://{host}"] = None  # loopback is never proxied
        if self.proxy:
            self.check_proxy()
            common["proxy"] = self.proxy
        try:
            return httpx.AsyncClient(  # type: ignore[no-any-return]
                limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
                trust_env=True,
                verify=lazy_ssl_context(),
                mounts=mounts,
                **common,
            )
        except (ValueError, ImportError) as exc:
            from imcli.errors import ConfigError

            raise ConfigError(
                f"{self.platform}: proxy {_redact.redact(self.proxy or '')!r}: {exc}{_FIX_PROXY}"
            ) from None

    def _via(self, url: str) -> str:
        """`` through the proxy HOST`` when a proxy carries this request, the account's or
        one from the environment (``HTTPS_PROXY``…): a dead proxy must not read as a dead
        API."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        loopback = {h.strip("[]") for h in (*_LOOPBACK, *_loopback_host(self.base_url))}
        if host in loopback:
            return ""
        if self.proxy:
            return f" through the proxy {_host(self.proxy)}"
        env = _environment_proxy(parts.scheme, host)
        return f" through the proxy {_host(env[1])} (from {env[0]})" if env else ""

    def check_proxy(self) -> None:
        """Refuse (exit 3) a proxy URL httpx cannot use, before any request."""
        if not self.proxy:
            return
        _redact_proxy(self.proxy)
        scheme = urlsplit(self.proxy).scheme.lower()
        if scheme not in ("http", "https", "socks5", "socks5h"):
            from imcli.errors import ConfigError

            raise ConfigError(
                f"{self.platform}: proxy {_redact.redact(self.proxy)!r}: use an "
                "http://, https:// or socks5:// URL" + _FIX_PROXY
            )

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- requests ------------------------------------------------------------------------
    async def request(
        self,
        method: str,
        url: str,
        *,
        parse: Callable[[httpx.Response], T],
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        files: Callable[[], Mapping[str, Any]] | None = None,
        content: Callable[[], AsyncIterator[bytes]] | None = None,
        headers: Mapping[str, str] | None = None,
        send: bool = False,
        idempotent: bool = False,
        target: Target | None = None,
        describe: Any = None,
    ) -> T:
        """Make one API call under the retry rules (:func:`decide`); ``send`` marks a
        message send, ``idempotent`` a send the platform itself never delivers twice.

        ``files``/``content`` are callables so that each attempt opens its own streams.
        """
        call = Call(method, url, params, json, data, files, content, headers, describe)
        kind: RequestKind = ("idempotent" if idempotent else "send") if send else "call"
        retry = Retry(kind, self.budget, resend_uncertain=self.resend_uncertain)
        while True:
            remaining = await self._turn(retry, target)
            got = await self._try(call, parse, remaining, retry.send, target)
            if not isinstance(got, Failed):
                return got
            wait = retry.wait_after(got)  # or the error to report
            if retry.resend and target is not None:
                self.resent.add(target)
            await self.clock.sleep(wait)

    async def _turn(self, retry: Retry, target: Target | None) -> float:
        """Wait for a send's rate-limit slot; the seconds the budget leaves for the try."""
        if retry.send and self.budget.remaining() > 0:
            # waiting for a rate-limit slot spends the same budget as everything else
            try:
                await self._within(self.limiter.acquire(target), self.budget.remaining())
            except asyncio.TimeoutError:
                raise retry.out_of_time(waiting=True) from None
        remaining = self.budget.remaining()
        if remaining <= 0:
            raise retry.out_of_time()
        return remaining

    async def _within(self, aw: Awaitable[None], seconds: float) -> None:
        """``aw`` within ``seconds`` (asyncio.TimeoutError after); a budget without an
        end (a dry run) bounds nothing."""
        if math.isinf(seconds):
            await aw
        else:
            await self.clock.wait_for(aw, max(0.0, seconds))

    async def _try(
        self,
        call: Call,
        parse: Callable[[httpx.Response], T],
        remaining: float,
        send: bool,
        target: Target | None,
    ) -> T | Failed:
        """One try of ``call``: its answer parsed, or what went wrong. A send is in flight
        from the moment its request is out until its answer is read: an interrupt then
        leaves its fate unknown ("may have been delivered")."""
        body, opened = call.body(encoded=not self.dry_run)
        if not send and not call.streams:
            # a token or identity call gets half of what is left at most: a server
            # that never answers it leaves time to ask again
            remaining = max(remaining / 2, min(remaining, 1.0))
        flight = IN_FLIGHT.get() if send else None
        if flight is not None:
            flight.append(target)
        try:
            got = await self._exchange(call, body, opened, parse, remaining, send)
        except asyncio.CancelledError:
            raise  # interrupted in flight: the fan-out reports it as uncertain
        except BaseException:
            _landed(flight, target)
            raise
        finally:
            for fh in opened:
                fh.close()
        _landed(flight, target)
        return got

    async def _exchange(
        self,
        call: Call,
        body: dict[str, Any],
        opened: list[IO[bytes]],
        parse: Callable[[httpx.Response], T],
        remaining: float,
        send: bool,
    ) -> T | Failed:
        """Send the request, read and parse the answer; a failure as its outcome."""
        started = time.monotonic()
        try:
            resp = await self._attempt(call.method, call.url, remaining, body)
        except Exception as exc:
            return self._failed(exc, call, started, send, opened)
        self._log(call.method, call.url, resp.status_code, started, None)
        if self.log_bodies and self.verbose is not None:
            self.verbose(_body_line("request", call.json if call.json is not None else call.data))
            self.verbose(_body_line("response", resp.content))
        try:
            return parse(resp)
        except RetryableError as exc:
            return Failed(retryable_outcome(exc), exc)
        except NotJSON as exc:
            if resp.status_code >= 300:
                raise  # a definite error page (413, 404, ...)
            return Failed("garbled", exc)

    def _failed(
        self, exc: Exception, call: Call, started: float, send: bool, opened: list[IO[bytes]]
    ) -> Failed:
        """What a try that raised ``exc`` tells of the request's fate; raises what asking
        again cannot mend (an untrusted certificate, a URL httpx cannot use, a file that
        changed while it was sent, anything unforeseen)."""
        hx = import_httpx()
        method, url = call.method, call.url
        if isinstance(exc, ReplyTooLarge):
            self._log(method, url, exc.status, started, "too large")
            text = f"the answer from {_host(url)} (HTTP {exc.status}) is larger than {exc}"
            return Failed("too_large", PlatformError(text, status=exc.status))
        if isinstance(exc, (hx.UnsupportedProtocol, hx.InvalidURL)):
            from imcli.errors import ConfigError

            raise ConfigError(
                f"{self.platform}: cannot use the URL {_redact.redact(url)}: {_exc_text(exc)} "
                "(fix base_url in the profile, then run `imcli accounts test`)"
            ) from None
        if not isinstance(exc, (hx.TransportError, hx.DecodingError)):
            if _size_changed(exc):  # h11 raises its own error from the body it is sending
                raise _changed_while_uploaded(opened) from None
            raise exc
        self._log(method, url, None, started, type(exc).__name__)
        if isinstance(exc, (hx.ConnectError, hx.ConnectTimeout, hx.PoolTimeout)):
            return self._unconnected(exc, url)
        if _size_changed(exc):
            raise _changed_while_uploaded(opened) from None
        cut_short = send and _unread(opened)  # then the request surely did not arrive
        return _lost(exc, isinstance(exc, hx.TimeoutException), send, cut_short, _host(url))

    def _unconnected(self, exc: Exception, url: str) -> Failed:
        """No connection: worth another try, unless the server's certificate is not
        trusted (then one clear line)."""
        where = f"{_host(url)}{self._via(url)}"
        untrusted = _untrusted_certificate(exc)
        if untrusted is not None:
            raise AccountOffline(
                f"the TLS certificate of {where} is not trusted ({untrusted}); if the "
                "server is yours, point SSL_CERT_FILE at its CA certificate",
                reason="unreachable",
            ) from None
        return Failed(
            "connect_failed", PlatformError(f"cannot connect to {where}: {_exc_text(exc)}")
        )

    async def _attempt(
        self, method: str, url: str, remaining: float, kwargs: dict[str, Any]
    ) -> httpx.Response:
        """One try: connect, upload, headers and the whole answer (at most MAX_REPLY
        bytes) within ``remaining`` seconds. httpx's own timeouts are per read, so an
        answer that trickles in a byte at a time would outlive the budget without this."""
        hx = import_httpx()
        client = self.client()
        timeout = hx.Timeout(remaining, pool=min(remaining, 10.0))
        request = client.build_request(method, url, timeout=timeout, **kwargs)

        async def read() -> httpx.Response:
            resp = await client.send(request, stream=True)
            body = bytearray()
            try:
                async for chunk in resp.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_REPLY:
                        raise ReplyTooLarge(resp.status_code)
            finally:
                await resp.aclose()
            skip = ("content-encoding", "content-length", "transfer-encoding")
            return hx.Response(  # type: ignore[no-any-return]
                resp.status_code,
                headers=[(k, v) for k, v in resp.headers.multi_items() if k.lower() not in skip],
                content=bytes(body),
                request=request,
                extensions=resp.extensions,
            )

        if math.isinf(remaining):  # a budget without an end (a dry run)
            return await read()
        try:
            return await asyncio.wait_for(read(), remaining)
        except asyncio.TimeoutError:
            raise hx.ReadTimeout("no answer within the time budget", request=request) from None

    @asynccontextmanager
    async def stream_get(self, url: str) -> AsyncIterator[httpx.Response]:
        """GET a URL as a stream (media downloads), within the budget."""
        httpx = import_httpx()
        remaining = max(0.1, self.budget.remaining())
        started = time.monotonic()
        try:
            async with self.client().stream(
                "GET", url, timeout=httpx.Timeout(remaining), follow_redirects=True
            ) as resp:
                self._log("GET", url, resp.status_code, started, None)
                yield resp
        except httpx.HTTPError as exc:
            self._log("GET", url, None, started, type(exc).__name__)
            raise PlatformError(f"cannot download {url}: {_exc_text(exc)}") from None

    # -- logging ---------------------------------------------------------------------------
    def _log(
        self, method: str, url: str, status: int | None, started: float, error: str | None
    ) -> None:
        if self.verbose is None:
            return
        ms = (time.monotonic() - started) * 1000
        outcome = str(status) if status is not None else (error or "error")
        self.verbose(f"{method} {_redact.redact(url)} → {outcome} ({ms:.0f} ms)")


#: -vv: a body is shown at most this long (cut after masking)
BODY_LOG_LIMIT = 2000
_SECRET_KEY_PARTS = ("token", "secret", "password", "ticket")


def _body_line(what: str, body: Any) -> str:
    """One ``-vv`` line: a request or response body, secrets masked, then cut short.

    Values under keys that name a credential (``access_token``, ``app_secret``, …) are
    masked even before imcli knows them (a token endpoint's answer), then every known
    secret is redacted; only then is the text cut."""
    if body is None or body == b"":
        return f"  {what} body: (empty)"
    if isinstance(body, (bytes, bytearray)):
        text = bytes(body).decode("utf-8", "replace")
        try:
            body = jsonlib.loads(text)
        except ValueError:
            body = text
    if not isinstance(body, str):
        body = jsonlib.dumps(_mask_secret_keys(body), ensure_ascii=False)
    shown = " ".join(_redact.redact(body).split())
    if len(shown) > BODY_LOG_LIMIT:
        shown = shown[:BODY_LOG_LIMIT] + f"… ({len(shown)} characters)"
    return f"  {what} body: {shown}"


def _mask_secret_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _redact.MASK
            if isinstance(k, str)
            and any(p in k.lower() for p in _SECRET_KEY_PARTS)
            and isinstance(v, str)
            else _mask_secret_keys(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_mask_secret_keys(v) for v in value]
    return value


def _lost(exc: Exception, timeout: bool, send: bool, cut_short: bool, host: str) -> Failed:
    """A try whose connection timed out or broke after it was made."""
    if cut_short:  # the request surely did not arrive
        if timeout:
            why = "the time budget ran out during the upload; not delivered"
        else:
            why = f"connection lost during the upload ({_exc_text(exc)}); not delivered"
        return Failed("cut_short", PlatformError(why))
    if timeout:
        why = "no answer within the time budget"
        if not send:
            why = f"no answer from {host} within the time budget"
        return Failed("no_answer", PlatformError(why))
    if send:
        return Failed("broken", PlatformError(f"connection lost ({_exc_text(exc)})"))
    return Failed("broken", PlatformError(f"connection to {host} lost ({_exc_text(exc)})"))


def _open_handles(files: Mapping[str, Any]) -> list[IO[bytes]]:
    out = []
    for v in files.values():
        obj = v[1] if isinstance(v, tuple) and len(v) > 1 else v
        if hasattr(obj, "close"):
            out.append(obj)
    return out


def _size_changed(exc: BaseException) -> bool:
    """The body did not match its declared Content-Length: a file grew or shrank while
    it was being sent (h11's, and httpx's, LocalProtocolError)."""
    return type(exc).__name__ == "LocalProtocolError" and "Content-Length" in str(exc)


def _changed_while_uploaded(opened: list[IO[bytes]]) -> PlatformError:
    """What was sent is not the file; asking again would race its writer again."""
    return PlatformError(
        f"{_file_names(opened) or 'the file'} changed while it was uploaded (its size is not "
        "what it was when the upload began); not sent"
    )


def _file_names(handles: list[IO[bytes]]) -> str:
    import os

    names = [os.path.basename(str(getattr(fh, "name", ""))) for fh in handles]
    return ", ".join(n for n in names if n)


def _unread(handles: list[IO[bytes]]) -> bool:
    """Whether a file of a multipart body still has bytes httpx never read (then the
    request was cut short on its way out: the server cannot have acted on it)."""
    for fh in handles:
        try:
            if fh.read(1):
                return True
        except (OSError, ValueError):
            continue
    return False


def _loopback_host(url: str | None) -> tuple[str, ...]:
    """The API's own host when it is another loopback address (127.0.0.2, ::1 written
    otherwise, …): those are not proxied either."""
    if not url:
        return ()
    import ipaddress

    host = urlsplit(url).hostname or ""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return ()
    if not ip.is_loopback:
        return ()
    return (f"[{host}]",) if ip.version == 6 else (host,)


def _environment_proxy(scheme: str, host: str) -> tuple[str, str] | None:
    """The proxy the environment gives for ``scheme://host`` (as httpx reads it), with
    the name of its variable; None when there is none or NO_PROXY exempts the host."""
    import os
    import urllib.request

    if urllib.request.proxy_bypass_environment(host):  # type: ignore[attr-defined]
        return None
    for name in (f"{scheme}_proxy", "all_proxy"):
        for variant in (name, name.upper()):
            value = os.environ.get(variant)
            if value:
                return variant, value
    return None


def _untrusted_certificate(exc: BaseException) -> str | None:
    """The reason, when a connection failed because the server's TLS certificate is not
    trusted (not worth a retry)."""
    import ssl

    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, ssl.SSLCertVerificationError):
            return cur.verify_message or "certificate verify failed"
        cur = cur.__cause__ or cur.__context__
    if "CERTIFICATE_VERIFY_FAILED" in str(exc):
        return "certificate verify failed"
    return None


def _redact_proxy(proxy: str) -> None:
    parts = urlsplit(proxy)
    if parts.password:
        _redact.add_secret(parts.password)


def _host(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc.rsplit("@", 1)[-1] or url


#: the next step after a proxy that cannot be used, for error messages
_FIX_PROXY = "; fix proxy in the profile, then run `imcli accounts test`"


def _exc_text(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return _redact.redact(text)


def _user_agent() -> str:
    from imcli._version import __version__

    return f"imcli/{__version__}"


async def file_chunks(src: MediaSource, chunk: int = 1 << 16) -> AsyncIterator[bytes]:
    """Stream a media source's bytes (for raw-body uploads)."""
    with src.open() as fh:
        while True:
            block = fh.read(chunk)
            if not block:
                return
            yield block


class NotJSON(PlatformError):
    """An answer that is not JSON (a proxy's HTML page, a truncated body)."""


def snippet(resp: httpx.Response) -> tuple[str, bool]:
    """The start of a non-JSON answer on one line, and whether it is an HTML page (then
    its title, e.g. a proxy's "502 Bad Gateway", stands for it)."""

    # masked before anything is cut: a secret across the cut must not leave half of it
    text = _redact.redact(resp.text)[:2000]
    match = re.search(r"<title[^>]*>(.*?)</title>", text, re.I | re.S)
    title = " ".join(match.group(1).split()) if match else ""
    if title:
        code = str(resp.status_code)
        title = title[len(code) :].strip() if title.startswith(code + " ") else title
        return title[:200], True
    return " ".join(text.split())[:200], False


def json_reply(resp: httpx.Response) -> Any:
    """The JSON body of a response, or a PlatformError naming the status."""
    try:
        return resp.json()
    except ValueError:
        start, html = snippet(resp)
        start = start or resp.reason_phrase
        if resp.status_code == 429 or resp.status_code >= 500:
            raise RetryableError(
                f"HTTP {resp.status_code}: {start}" + (" (an HTML page)" if html else ""),
                retry_after=retry_after_header(resp),
                status=resp.status_code,
            ) from None
        what = "an HTML page, not a JSON answer" if html else "not a JSON answer"
        raise NotJSON(
            f"HTTP {resp.status_code}: {start} ({what})", status=resp.status_code
        ) from None


def retry_after_header(resp: httpx.Response, name: str = "retry-after") -> float | None:
    value = resp.headers.get(name)
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
