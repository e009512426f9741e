"""Access tokens platforms hand out (Lark, WeCom, WeChat), cached across runs.

:class:`TokenAuth` is the one token mechanism of an adapter: the platform gives only the
request that fetches a token and the call that uses one.

Cached in ``platformdirs.user_cache_dir("imcli")``, one 0600 JSON file per set of
credentials (keyed by platform, base_url, app id and a hash of the secret, never the
account name), under a file lock held while a token is fetched, so two cron runs
starting together fetch one token between them. A token is reused until shortly before
it expires. A cache that cannot be read or written is skipped with one warning.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import os
import time
import weakref
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from imcli import _fs, _log, _redact
from imcli.errors import PlatformError

T = TypeVar("T")

#: a token is not reused when it expires within this many seconds
EARLY = 300.0
#: the longest wait for another run's lock on a cache entry (less when the budget is less)
LOCK_WAIT = 30.0
#: a cache entry is a few hundred bytes: anything bigger is corrupt and not read
MAX_ENTRY = 64 << 10

#: per event loop (a lock is bound to the loop it first waits in), per cache key
_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def cache_dir() -> Path:
    env = os.environ.get("IMCLI_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("imcli", appauthor=False))


def cache_key(platform: str, base_url: str, app_id: str, secret: str) -> str:
    digest = hashlib.sha256(
        "\0".join((platform, base_url.rstrip("/"), app_id, secret)).encode()
    ).hexdigest()
    return f"{platform}-{digest[:40]}"


Fetch = Callable[[], Awaitable[tuple[str, float]]]  # → (token, lifetime in seconds)


class TokenCache:
    """``await cache.get(fetch)``; after the platform rejects a token, ``get(fetch, stale=t)``."""

    def __init__(self, key: str, *, enabled: bool = True, budget: Any = None) -> None:
        self.key = key
        self.enabled = enabled
        self.budget = budget  # the push's http.Budget: bounds the wait for the lock
        self.path = cache_dir() / f"{key}.json"
        self._memory: tuple[str, float] | None = None

    def _read(self) -> tuple[str, float] | None:
        try:
            raw = _read_small(self.path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            _log.warn(f"warning: token cache {self.path} unreadable ({exc.strerror}); not using it")
            return None
        try:
            if raw is None:  # a FIFO, a device, megabytes: corrupt, not read
                raise ValueError("not a small regular file")
            obj = json.loads(raw.decode("utf-8"))  # UnicodeDecodeError is a ValueError
            token, expires = obj["token"], obj["expires_at"]
            if not (isinstance(token, str) and token.strip()) or not (
                isinstance(expires, (int, float))
                and not isinstance(expires, bool)
                and math.isfinite(expires)
            ):
                raise ValueError("not a token cache entry")
            expires = float(expires)
        except (ValueError, KeyError, TypeError):  # corrupt: discarded
            try:
                self.path.unlink()
            except OSError:
                pass
            return None
        _redact.add_secret(token)
        return token, expires

    def _write(self, token: str, expires_at: float) -> None:
        import tempfile

        try:
            _fs.make_dirs(self.path.parent)
            fd, tmp = tempfile.mkstemp(prefix=".tok-", dir=str(self.path.parent))
            try:
                if hasattr(os, "fchmod"):
                    os.fchmod(fd, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump({"token": token, "expires_at": expires_at}, fh)
                os.replace(tmp, self.path)
            except BaseException:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise
        except OSError as exc:
            _log.warn(f"warning: cannot write token cache in {self.path.parent} ({exc.strerror})")

    @staticmethod
    def _fresh(entry: tuple[str, float] | None, stale: str | None) -> str | None:
        if entry is None:
            return None
        token, expires_at = entry
        if token == stale or expires_at - EARLY <= time.time():
            return None
        return token

    async def get(self, fetch: Fetch, *, stale: str | None = None) -> str:
        """The cached token, else a fresh one. The cache's lock is waited for within the
        time budget (half of what is left, leaving time to fetch a token and send): a
        run that cannot get it in time fetches its own token rather than wait."""
        per_loop = _locks.setdefault(asyncio.get_running_loop(), {})
        lock = per_loop.setdefault(self.key, asyncio.Lock())
        async with lock:
            hit = self._fresh(self._memory, stale)
            if hit:
                return hit
            if not self.enabled:
                return await self._fetch(fetch, write=False)
            wait = None if self.budget is None else max(0.0, self.budget.remaining() / 2)
            flock = self._file_lock(wait)
            if flock is None:  # the cache folder is unusable: warned once, not used
                return await self._fetch(fetch, write=False)
            from filelock import Timeout

            try:
                await _acquire(flock)
            except (Timeout, OSError) as exc:
                why = "locked by another run" if isinstance(exc, Timeout) else exc.strerror
                _log.warn(f"warning: token cache {self.path} unusable ({why}); not using it")
                return await self._fetch(fetch, write=False)
            try:
                hit = self._fresh(self._read(), stale)
                if hit:
                    self._memory = (hit, self._read_expiry(hit))
                    return hit
                return await self._fetch(fetch, write=True)
            finally:
                flock.release()

    def _read_expiry(self, token: str) -> float:
        entry = self._read()
        return entry[1] if entry and entry[0] == token else time.time() + EARLY + 1

    async def _fetch(self, fetch: Fetch, *, write: bool) -> str:
        token, lifetime = await fetch()
        _redact.add_secret(token)
        expires_at = time.time() + float(lifetime)
        self._memory = (token, expires_at)
        if write:
            self._write(token, expires_at)
        return token

    def _file_lock(self, wait: float | None = None) -> Any:
        try:
            _fs.make_dirs(self.path.parent)
        except OSError as exc:
            _log.warn(f"warning: token cache folder {self.path.parent} unusable ({exc.strerror})")
            return None
        timeout = LOCK_WAIT if wait is None else max(0.0, min(LOCK_WAIT, wait))
        return _fs.file_lock(str(self.path) + ".lock", timeout)


def _read_small(path: Path) -> bytes | None:
    """The bytes of a small regular file; None for anything else (a FIFO, a device, a
    file of megabytes), which is neither read nor waited for (O_NONBLOCK: opening a FIFO
    with no writer would block the whole run, deaf to SIGTERM)."""
    import stat

    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_ENTRY:
            return None
        data = os.read(fd, MAX_ENTRY + 1)
        return None if len(data) > MAX_ENTRY else data
    finally:
        os.close(fd)


async def _acquire(flock: Any) -> None:
    """Wait for the file lock on the event loop, polling: a signal cancels the wait at
    once (a worker thread blocked in ``acquire`` would hold the process until it got the
    lock). Raises ``filelock.Timeout`` after ``flock.timeout`` seconds."""
    from filelock import Timeout

    deadline = time.monotonic() + flock.timeout
    while True:
        try:
            flock.acquire(timeout=0)
            return
        except Timeout:
            if time.monotonic() >= deadline:
                raise
        await asyncio.sleep(0.02)


class TokenAuth:
    """One account's access token during one push.

    * fetched once for the whole push (concurrent targets wait for the one fetch), from
      the cross-run :class:`TokenCache` when it holds a fresh one;
    * a failed fetch is remembered: the other targets of the push get the same error
      without asking the platform again;
    * :meth:`call` makes an authorised request; when the platform says the token is no
      longer valid, one new token is fetched (once for every target that saw the old one
      rejected) and the request is made again, once.

    ``key`` (the cache key, see :func:`cache_key`) is asked for on first use; ``fetch``
    asks the platform for a token (``stale``: the token just rejected, or None) and
    returns it with its lifetime in seconds; ``budget`` (the push's time budget) bounds
    the wait for another run's lock on the cache.
    """

    def __init__(
        self,
        key: Callable[[], str],
        fetch: Callable[[str | None], Awaitable[tuple[str, float]]],
        *,
        cache: bool = True,
        budget: Any = None,
    ) -> None:
        self._key = key
        self._fetch = fetch
        self._use_cache = cache
        self._budget = budget
        self._cache: TokenCache | None = None
        self._token: str | None = None
        self._error: PlatformError | None = None
        self._lock = asyncio.Lock()

    def cache(self) -> TokenCache:
        if self._cache is None:
            self._cache = TokenCache(self._key(), enabled=self._use_cache, budget=self._budget)
        return self._cache

    async def token(self, stale: str | None = None) -> str:
        """The token; with ``stale``, a new one unless someone already renewed it."""
        async with self._lock:
            if self._error is not None:
                raise self._error  # failed once: the other targets need not ask again
            if self._token is not None and self._token != stale:
                return self._token

            async def fetch() -> tuple[str, float]:
                return await self._fetch(stale)

            try:
                self._token = await self.cache().get(fetch, stale=stale)
            except PlatformError as exc:
                self._error = exc
                raise
            return self._token

    async def call(
        self,
        request: Callable[[str], Awaitable[T]],
        rejected: Callable[[PlatformError], bool],
    ) -> T:
        """``await request(token)``; renewed once when ``rejected(error)`` says the
        platform refused the token itself (the second refusal is raised as it is)."""
        token = await self.token()
        try:
            return await request(token)
        except PlatformError as exc:
            if not rejected(exc):
                raise
        token = await self.token(stale=token)
        return await request(token)
