"""Loading httpx cheaply: without its command-line module, and with a TLS context that
reads the CA bundle only on the first TLS handshake."""

from __future__ import annotations

import sys
from typing import Any


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
