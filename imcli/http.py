"""The one HTTP layer every platform calls: retries, rate limits, the time budget,
proxies, --verbose logging, --dry-run recording and redaction.

Retry rules: :func:`decide` is the whole rule, a pure function of the kind of request
and what happened to it (the table in its docstring). In short:

* a request that sends no message (token, identity, upload) is retried after any
  transient error: connection failure, timeout, 429, 5xx, a busy code;
* a send request is retried only when it surely did not arrive (the connection failed
  before the request was written, its body was cut short, or the platform answered 429,
  503 or a busy code); a send whose fate is unknown (no answer, a broken connection, a
  500/502/504 from a gateway that may have passed it on, a garbled 2xx) is reported as
  "may have been delivered" and never resent -- unless the platform drops duplicates
  itself (an idempotent send, e.g. Lark's per-send ``uuid``) or the user chose
  ``resend_uncertain`` (then the resend is marked);
* a definite error is never retried.

Adapters pass a ``parse`` callable that turns a response into data or raises
:class:`RetryableError` (come back later), :class:`AccountOffline` (credentials
rejected) or :class:`PlatformError` (a definite error).
"""

from __future__ import annotations

import asyncio
import contextvars
import json as jsonlib
import random
import re
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import IO, TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import urlsplit

from imcli import _redact
from imcli.errors import (
    AccountOffline,
    MaybeDeliveredError,
    PlatformError,
    RetryableError,
)
from imcli.ratelimit import Clock, RateLimiter, default_clock

if TYPE_CHECKING:
    import httpx

    from imcli.media import MediaSource
    from imcli.models import Target

T = TypeVar("T")

CONNECT_ATTEMPTS = 3
BACKOFF_BASE = 0.25
BACKOFF_CAP = 8.0
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


class Budget:
    """The whole command's time budget (``--timeout``), shared by every request."""

    def __init__(self, seconds: float, *, clock: Clock | None = None) -> None:
        self.clock = clock or default_clock()
        self.seconds = seconds
        self.deadline = self.clock.now() + seconds

    def remaining(self) -> float:
        return self.deadline - self.clock.now()


def backoff(attempt: int) -> float:
    return min(BACKOFF_CAP, BACKOFF_BASE * 2.0**attempt) * (0.5 + random.random() / 2)


#: what a request is: ``call`` sends no message (token, identity, upload); ``send`` sends
#: one; ``idempotent`` sends one the platform itself never delivers twice (Lark ``uuid``)
RequestKind = Literal["call", "send", "idempotent"]
#: what happened to one try of a request
Outcome = Literal[
    "connect_failed",  # no connection: the request was never written
    "cut_short",  # the connection broke while the body was still being written
    "no_answer",  # written whole, no answer within the time left
    "broken",  # written whole, the connection broke before the answer
    "later",  # 429, 503, the platform's rate-limit or busy code: surely not acted on
    "gateway",  # 500, 502, 504 (any 5xx but 503): a gateway may have passed it on
    "garbled",  # a 2xx answer that is not JSON (cut short, a proxy's page)
    "too_large",  # an answer larger than MAX_REPLY, not read
    "definite",  # the platform's own refusal
]
#: what to do about it: ask again; report the error; report "may have been delivered";
#: ask again although the first may have arrived (the user chose duplicates over losses)
Decision = Literal["retry", "fail", "uncertain", "resend"]

#: outcomes after which a message may be at the platform
UNKNOWN_FATE: frozenset[str] = frozenset({"no_answer", "broken", "gateway", "garbled", "too_large"})


def decide(kind: RequestKind, outcome: Outcome, *, resend_uncertain: bool = False) -> Decision:
    """The retry rule, as a pure function.

    ============== ========== ========================== =================================
    outcome        call       send                       idempotent send
    ============== ========== ========================== =================================
    connect_failed retry      retry                      retry
    cut_short      retry      retry                      retry
    later          retry      retry                      retry
    no_answer      retry      uncertain (resend [1])     retry
    broken         retry      uncertain (resend [1])     retry
    gateway        retry      uncertain (resend [1])     retry
    garbled        retry      uncertain (resend [1])     retry
    too_large      fail       uncertain (resend [1])     uncertain
    definite       fail       fail                       fail
    ============== ========== ========================== =================================

    [1] with ``resend_uncertain``: "resend" (retried, and the target marked ``resent``).
    """
    if outcome == "definite":
        return "fail"
    if outcome in ("connect_failed", "cut_short", "later"):
        return "retry"
    if kind == "call":
        return "fail" if outcome == "too_large" else "retry"
    if kind == "idempotent" and outcome != "too_large":
        return "retry"
    return "resend" if resend_uncertain and kind == "send" else "uncertain"


def _landed(flight: list[Any] | None, target: Any) -> None:
    """The send's try is over (answered or surely failed): no longer in flight."""
    if flight is not None and target in flight:
        flight.remove(target)


def _retryable_outcome(exc: RetryableError) -> Outcome:
    """A "come back later" answer: a 5xx other than 503 came from something that may
    have acted on the request; 429, 503 and busy codes say it was not."""
    status = exc.status or 0
    return "gateway" if status >= 500 and status != 503 else "later"


#: the sends of the running task whose request is out and whose answer is not read yet
#: (the fan-out sets one list per target; an interrupt then knows what was in flight)
IN_FLIGHT: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar(
    "imcli_in_flight", default=None
)


Logger = Callable[[str], None]


def _describe_body(value: Any) -> Any:
    """A JSON-safe picture of a request body for --dry-run (media as a description)."""
    from imcli.media import MediaSource

    if isinstance(value, MediaSource):
        return f"<{value.describe()}>"
    if isinstance(value, Mapping):
        return {str(k): _describe_body(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_describe_body(v) for v in value]
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if hasattr(value, "read"):
        return f"<{getattr(value, 'name', 'stream')}>"
    return value


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
        dry_run: bool = False,
        dry_reply: Callable[[str, str], Any] | None = None,
        plan: list[dict[str, Any]] | None = None,
        dry_log: Logger | None = None,
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
        self.dry_run = dry_run
        self.dry_reply = dry_reply
        self.plan = plan if plan is not None else []
        self.dry_log = dry_log
        self._client: httpx.AsyncClient | None = None

    # -- the httpx client ----------------------------------------------------------
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            httpx = import_httpx()
            mounts: dict[str, Any] = {}
            for host in (*_LOOPBACK, *_loopback_host(self.base_url)):
                mounts[f"all://{host}"] = None  # loopback is never proxied
            kwargs: dict[str, Any] = {}
            if self.proxy:
                self.check_proxy()
                kwargs["proxy"] = self.proxy
            try:
                self._client = httpx.AsyncClient(
                    timeout=httpx.Timeout(30.0),
                    limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
                    trust_env=True,
                    follow_redirects=False,
                    verify=lazy_ssl_context(),
                    mounts=mounts,
                    headers={"User-Agent": _user_agent()},
                    **kwargs,
                )
            except (ValueError, ImportError) as exc:
                from imcli.errors import ConfigError

                raise ConfigError(
                    f"{self.platform}: proxy {_redact.redact(self.proxy or '')!r}: {exc}{_FIX_PROXY}"
                ) from None
        return self._client

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
        if self.dry_run:
            return self._dry(method, url, parse, params, json, data, describe, headers)
        httpx = import_httpx()
        kind: RequestKind = ("idempotent" if idempotent else "send") if send else "call"
        attempt = 0
        connect_failures = 0
        maybe = False  # an earlier try of this send may have been delivered
        last: PlatformError | None = None  # the failure a retry is under way for
        flight = IN_FLIGHT.get() if send else None
        while True:
            if send and self.budget.remaining() > 0:
                # waiting for a rate-limit slot spends the same budget as everything else
                try:
                    await self.clock.wait_for(
                        self.limiter.acquire(target), max(0.0, self.budget.remaining())
                    )
                except asyncio.TimeoutError:
                    if last is not None:  # the real cause, not the wait that ended the retry
                        raise _transient(
                            _gave_up(last, attempt, budget=True, maybe=maybe)
                        ) from None
                    raise _transient(
                        PlatformError(
                            "the --timeout budget ran out while waiting for the rate limit; "
                            "not sent"
                        )
                    ) from None
            remaining = self.budget.remaining()
            if remaining <= 0:
                if last is not None:
                    raise _transient(_gave_up(last, attempt, budget=True, maybe=maybe))
                raise _transient(
                    PlatformError("the --timeout budget ran out before this request could be made")
                )
            opened: list[IO[bytes]] = []
            kwargs: dict[str, Any] = {"params": params, "headers": headers}
            if json is not None:
                kwargs["json"] = json
            if data is not None:
                kwargs["data"] = data
            if files is not None:
                made = files()
                kwargs["files"] = made
                opened.extend(_open_handles(made))
            if content is not None:
                kwargs["content"] = content()
            if not send and files is None and content is None:
                # a token or identity call gets half of what is left at most: a server
                # that never answers it leaves time to ask again
                remaining = max(remaining / 2, min(remaining, 1.0))
            started = time.monotonic()
            outcome: Outcome
            err: PlatformError
            if flight is not None:
                # from here until an answer is read, an interrupt leaves this send's fate
                # unknown ("may have been delivered")
                flight.append(target)
            try:
                try:
                    resp = await self._attempt(
                        method, url, remaining, {k: v for k, v in kwargs.items() if v is not None}
                    )
                except ReplyTooLarge as exc:
                    self._log(method, url, exc.status, started, "too large")
                    text = f"the answer from {_host(url)} (HTTP {exc.status}) is larger than {exc}"
                    outcome, err = "too_large", PlatformError(text, status=exc.status)
                except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                    self._log(method, url, None, started, type(exc).__name__)
                    _landed(flight, target)
                    untrusted = _untrusted_certificate(exc)
                    if untrusted is not None:  # asking again cannot help: one clear line
                        raise AccountOffline(
                            f"the TLS certificate of {_host(url)}{self._via(url)} is not "
                            f"trusted ({untrusted}); if the server is yours, point "
                            "SSL_CERT_FILE at its CA certificate",
                            reason="unreachable",
                        ) from None
                    connect_failures += 1
                    wait = backoff(attempt)
                    attempt += 1
                    if connect_failures >= CONNECT_ATTEMPTS or wait >= self.budget.remaining():
                        tries = "1 try" if attempt == 1 else f"{attempt} tries"
                        raise AccountOffline(
                            f"cannot connect to {_host(url)}{self._via(url)}: {_exc_text(exc)} "
                            f"(gave up after {tries})",
                            reason="unreachable",
                        ) from None
                    await self.clock.sleep(wait)
                    continue
                except httpx.TimeoutException as exc:
                    self._log(method, url, None, started, type(exc).__name__)
                    if send and _unread(opened):  # the request surely did not arrive
                        outcome = "cut_short"
                        err = PlatformError(
                            "the time budget ran out during the upload; not delivered"
                        )
                    elif send:
                        outcome = "no_answer"
                        err = PlatformError("no answer within the time budget")
                    else:
                        outcome = "no_answer"
                        err = PlatformError(f"no answer from {_host(url)} within the time budget")
                except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
                    from imcli.errors import ConfigError

                    raise ConfigError(
                        f"{self.platform}: cannot use the URL {_redact.redact(url)}: {_exc_text(exc)} "
                        "(fix base_url in the profile, then run `imcli accounts test`)"
                    ) from None
                except (httpx.TransportError, httpx.DecodingError) as exc:
                    self._log(method, url, None, started, type(exc).__name__)
                    if _size_changed(exc):
                        raise _changed_while_uploaded(opened) from None
                    if send and _unread(opened):  # the request surely did not arrive
                        outcome = "cut_short"
                        err = PlatformError(
                            f"connection lost during the upload ({_exc_text(exc)}); not delivered"
                        )
                    elif send:
                        outcome = "broken"
                        err = PlatformError(f"connection lost ({_exc_text(exc)})")
                    else:
                        outcome = "broken"
                        err = PlatformError(f"connection to {_host(url)} lost ({_exc_text(exc)})")
                except Exception as exc:
                    # h11 raises its own LocalProtocolError from the body it is sending
                    if _size_changed(exc):
                        raise _changed_while_uploaded(opened) from None
                    raise
                else:
                    self._log(method, url, resp.status_code, started, None)
                    if self.log_bodies and self.verbose is not None:
                        self.verbose(_body_line("request", json if json is not None else data))
                        self.verbose(_body_line("response", resp.content))
                    try:
                        result = parse(resp)
                    except RetryableError as exc:
                        outcome, err = _retryable_outcome(exc), exc
                    except NotJSON as exc:
                        if resp.status_code >= 300:
                            raise  # a definite error page (413, 404, ...)
                        outcome, err = "garbled", exc
                    else:
                        _landed(flight, target)
                        return result
                finally:
                    for fh in opened:
                        fh.close()
            except asyncio.CancelledError:
                raise  # interrupted in flight: the fan-out reports it as uncertain
            except BaseException:
                _landed(flight, target)
                raise
            _landed(flight, target)
            decision = decide(kind, outcome, resend_uncertain=self.resend_uncertain)
            if decision == "fail":
                raise _gave_up(err, attempt + 1, budget=False, maybe=maybe)
            if decision == "uncertain":
                raise MaybeDeliveredError(
                    f"{err.message}; the message may have been delivered", status=err.status
                )
            if send and outcome in UNKNOWN_FATE:
                maybe = True  # an earlier try may be at the platform (a retry of it is safe
                # only for an idempotent send, or chosen with resend_uncertain)
            # retry within the budget
            retry_after = getattr(err, "retry_after", None)
            wait = retry_after if retry_after is not None else backoff(attempt)
            attempt += 1
            limit = getattr(err, "retries", None)
            out_of_time = wait >= self.budget.remaining()
            if out_of_time or attempt > (8 if limit is None else limit):
                raise _transient(_gave_up(err, attempt, budget=out_of_time, maybe=maybe))
            if decision == "resend" and target is not None:
                self.resent.add(target)
            last = err
            await self.clock.sleep(wait)

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

    # -- dry run & logging ---------------------------------------------------------------
    def _dry(
        self,
        method: str,
        url: str,
        parse: Callable[[httpx.Response], T],
        params: Mapping[str, Any] | None,
        json: Any,
        data: Mapping[str, Any] | None,
        describe: Any,
        headers: Mapping[str, str] | None,
    ) -> T:
        httpx = import_httpx()
        full = url
        if params:
            from urllib.parse import urlencode

            full = url + ("&" if "?" in url else "?") + urlencode(params)
        body = describe if describe is not None else (json if json is not None else data)
        entry = {
            "method": method,
            "url": _redact.redact(full),
            "body": _redact_tree(_describe_body(body)),
        }
        self.plan.append(entry)
        if self.dry_log is not None:
            shown = jsonlib.dumps(entry["body"], ensure_ascii=False) if body is not None else ""
            self.dry_log(f"{method} {entry['url']} {shown}".rstrip())
        reply = self.dry_reply(method, url) if self.dry_reply else {}
        request = httpx.Request(method, url)
        return parse(httpx.Response(200, json=reply, request=request))

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


def _redact_tree(value: Any) -> Any:
    if isinstance(value, str):
        return _redact.redact(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        # a number that came from a ${VAR} is masked too, as a string: valid JSON
        return _redact.MASK if _redact.redact(str(value)) != str(value) else value
    if isinstance(value, dict):
        return {k: _redact_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_tree(v) for v in value]
    return value


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


def _gave_up(err: PlatformError, tries: int, *, budget: bool, maybe: bool = False) -> PlatformError:
    """``err`` saying why imcli stopped asking again (for a "come back later" answer);
    "may have been delivered" when an earlier try's fate is unknown."""
    if isinstance(err, RetryableError):
        if budget:
            why = "not retried: the time budget (--timeout) ends sooner"
            if tries > 1:
                why = f"gave up after {tries} tries: the time budget ends sooner"
        else:
            why = f"gave up after {tries} tries"
        err.reword(f"{err.message} ({why})")
    if maybe and not isinstance(err, MaybeDeliveredError):
        return MaybeDeliveredError(
            f"{err.message}; an earlier try may have been delivered", status=err.status
        )
    return err


def _transient(err: PlatformError) -> PlatformError:
    """``err`` marked as worth trying later: a request the rule said to retry that ran out
    of tries or time surely did not deliver (unless an earlier try may have)."""
    if not isinstance(err, MaybeDeliveredError):
        err.transient = True
    return err


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
