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
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import IO, TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from imcli import _redact
from imcli.calls import CALL as CALL  # re-exported: the transports read it
from imcli.calls import Call as Call
from imcli.calls import changed_while_uploaded, size_changed, unread
from imcli.calls import file_chunks as file_chunks  # re-exported for the adapters
from imcli.errors import AccountOffline, PlatformError, RetryableError
from imcli.httplog import body_line, request_line
from imcli.httpx_lazy import import_httpx as import_httpx
from imcli.httpx_lazy import lazy_ssl_context
from imcli.proxies import FIX_PROXY, LOOPBACK, host_of, loopback_host, redact_proxy, via
from imcli.ratelimit import Clock, RateLimiter, Slot
from imcli.replies import MAX_REPLY, NotJSON, ReplyTooLarge
from imcli.replies import json_reply as json_reply  # re-exported for the adapters
from imcli.replies import retry_after_header as retry_after_header
from imcli.replies import snippet as snippet
from imcli.retry import Budget as Budget  # the budget every caller gives the client
from imcli.retry import Failed, RequestKind, Retry, retryable_outcome
from imcli.retry import decide as decide  # the retry rule, documented here too

if TYPE_CHECKING:
    import httpx

    from imcli.models import Target

T = TypeVar("T")


#: outcomes of a try whose request surely never reached the platform
NEVER_LEFT = frozenset({"connect_failed", "cut_short"})


def _landed(flight: list[Any] | None, *targets: Any) -> None:
    """The send's try is over (answered or surely failed): no longer in flight."""
    for target in targets:
        if flight is not None and target in flight:
            flight.remove(target)


#: the sends of the running task whose request is out and whose answer is not read yet
#: (the fan-out sets one list per target; an interrupt then knows what was in flight)
IN_FLIGHT: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar(
    "imcli_in_flight", default=None
)


Logger = Callable[[str], None]


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
        for host in (*LOOPBACK, *loopback_host(self.base_url)):
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
                f"{self.platform}: proxy {_redact.redact(self.proxy or '')!r}: {exc}{FIX_PROXY}"
            ) from None

    def check_proxy(self) -> None:
        """Refuse (exit 3) a proxy URL httpx cannot use, before any request."""
        if not self.proxy:
            return
        redact_proxy(self.proxy)
        scheme = urlsplit(self.proxy).scheme.lower()
        if scheme not in ("http", "https", "socks5", "socks5h"):
            from imcli.errors import ConfigError

            raise ConfigError(
                f"{self.platform}: proxy {_redact.redact(self.proxy)!r}: use an "
                "http://, https:// or socks5:// URL" + FIX_PROXY
            )

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- requests ------------------------------------------------------------------------
    async def take_turn(self, target: Target) -> None:
        """``target``'s rate-limit slot, within the budget as every send's own wait is: for
        a request that carries several targets (WeCom's one send to many users), where the
        limit of each counts; the request itself then waits for its first target's. (Its
        answer is not followed here: the slot counts as arrived when it is taken.)"""
        _, slot = await self._turn(Retry("send", self.budget), target)
        slot.done()

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
        flight = IN_FLIGHT.get() if retry.send else None
        held: list[Any] = []  # the target, counted in flight once a try may have arrived
        try:
            got = await self._until_answered(call, parse, retry, target, flight, held)
        except asyncio.CancelledError:
            raise  # interrupted: a send that may have arrived stays in flight (uncertain)
        except BaseException:
            _landed(flight, *held)
            raise
        _landed(flight, *held)
        return got

    async def _until_answered(
        self,
        call: Call,
        parse: Callable[[httpx.Response], T],
        retry: Retry,
        target: Target | None,
        flight: list[Any] | None,
        held: list[Any],
    ) -> T:
        """Try ``call`` until it is answered or :class:`Retry` gives up. Once a try may
        have been delivered, ``target`` is counted in ``flight`` (``held``) until the
        request ends: an interrupt while waiting for the next try leaves its fate unknown."""
        while True:
            remaining, slot = await self._turn(retry, target)
            got: T | Failed | None = None
            try:
                got = await self._try(call, parse, remaining, retry.send, target)
            finally:
                # the send arrived by now, if at all: the rate-limit windows count it
                # from here (a place is held from the slot until the answer is read);
                # a request that surely never left frees its place at once
                slot.done(sent=not (isinstance(got, Failed) and got.outcome in NEVER_LEFT))
            if not isinstance(got, Failed):
                return got
            wait = retry.wait_after(got)  # or the error to report
            if retry.maybe and flight is not None and not held:
                flight.append(target)
                held.append(target)
            if retry.resend and target is not None:
                self.resent.add(target)
            await self.clock.sleep(wait)

    async def _turn(self, retry: Retry, target: Target | None) -> tuple[float, Slot]:
        """Wait for a send's rate-limit slot; the seconds the budget leaves for the try,
        and the slot (:meth:`Slot.done` once the try is over)."""
        slot = Slot()  # a call that sends no message holds no place
        if retry.send and self.budget.remaining() > 0:
            # waiting for a rate-limit slot spends the same budget as everything else
            try:
                slot = await self._within(self.limiter.hold(target), self.budget.remaining())
            except asyncio.TimeoutError:
                raise retry.out_of_time(waiting=True) from None
        remaining = self.budget.remaining()
        if remaining <= 0:
            slot.done(sent=False)
            raise retry.out_of_time()
        return remaining, slot

    async def _within(self, aw: Awaitable[T], seconds: float) -> T:
        """``aw`` within ``seconds`` (asyncio.TimeoutError after); a budget without an
        end (a dry run) bounds nothing."""
        if math.isinf(seconds):
            return await aw
        return await self.clock.wait_for(aw, max(0.0, seconds))

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
            self.verbose(body_line("request", call.json if call.json is not None else call.data))
            self.verbose(body_line("response", resp.content))
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
            text = f"the answer from {host_of(url)} (HTTP {exc.status}) is larger than {exc}"
            return Failed("too_large", PlatformError(text, status=exc.status))
        if isinstance(exc, (hx.UnsupportedProtocol, hx.InvalidURL)):
            from imcli.errors import ConfigError

            raise ConfigError(
                f"{self.platform}: cannot use the URL {_redact.redact(url)}: {_exc_text(exc)} "
                "(fix base_url in the profile, then run `imcli accounts test`)"
            ) from None
        if not isinstance(exc, (hx.TransportError, hx.DecodingError)):
            if size_changed(exc):  # h11 raises its own error from the body it is sending
                raise changed_while_uploaded(opened) from None
            raise exc
        self._log(method, url, None, started, type(exc).__name__)
        if isinstance(exc, (hx.ConnectError, hx.ConnectTimeout, hx.PoolTimeout)):
            return self._unconnected(exc, url)
        if size_changed(exc):
            raise changed_while_uploaded(opened) from None
        cut_short = send and unread(opened)  # then the request surely did not arrive
        return _lost(exc, isinstance(exc, hx.TimeoutException), send, cut_short, host_of(url))

    def _unconnected(self, exc: Exception, url: str) -> Failed:
        """No connection: worth another try, unless the server's certificate is not
        trusted (then one clear line)."""
        where = f"{host_of(url)}{via(url, self.proxy, self.base_url)}"
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

        from imcli._async import wait_for  # never loses the cancellation of an interrupt

        if math.isinf(remaining):  # a budget without an end (a dry run)
            return await read()
        try:
            return await wait_for(read(), remaining)
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
        if self.verbose is not None:
            ms = (time.monotonic() - started) * 1000
            self.verbose(request_line(method, url, status, error, ms))


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


def _exc_text(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return _redact.redact(text)


def _user_agent() -> str:
    from imcli._version import __version__

    return f"imcli/{__version__}"
