"""Where a request goes: the account's proxy or the environment's, and the loopback
addresses no proxy ever carries."""

from __future__ import annotations

from urllib.parse import urlsplit

from imcli import _redact

LOOPBACK = ("127.0.0.1", "localhost", "[::1]")


def loopback_host(url: str | None) -> tuple[str, ...]:
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


def environment_proxy(scheme: str, host: str) -> tuple[str, str] | None:
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


def redact_proxy(proxy: str) -> None:
    parts = urlsplit(proxy)
    if parts.password:
        _redact.add_secret(parts.password)


def host_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc.rsplit("@", 1)[-1] or url


#: the next step after a proxy that cannot be used, for error messages
FIX_PROXY = "; fix proxy in the profile, then run `imcli accounts test`"


def via(url: str, proxy: str | None, base_url: str | None) -> str:
    """`` through the proxy HOST`` when a proxy carries this request, the account's or
    one from the environment (``HTTPS_PROXY``…): a dead proxy must not read as a dead
    API."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    loopback = {h.strip("[]") for h in (*LOOPBACK, *loopback_host(base_url))}
    if host in loopback:
        return ""
    if proxy:
        return f" through the proxy {host_of(proxy)}"
    env = environment_proxy(parts.scheme, host)
    return f" through the proxy {host_of(env[1])} (from {env[0]})" if env else ""
