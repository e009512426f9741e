"""What the webhook platforms share (wecom-robot, lark-robot, dingtalk-robot,
discord-webhook, slack-webhook). Not a platform itself: no ``SPEC`` here.

A webhook robot only posts to the one chat it was created in, so the account is the
destination: its ``url`` (or the ``key``/``token`` inside that URL) says where, and a
push takes no ``-g/-u``; its one implicit target is shown as ``webhook``.

- The URL carries the credential (in its path or query), so ``url``, ``key``, ``token``
  and ``secret`` are secret fields, and the token taken out of a URL is registered with
  the redactor too: it is masked in ``-v``, ``--dry-run``, errors and ``accounts list``.
- ``base_url`` replaces the URL's ``scheme://host`` (every request of the account goes
  under it, as on the other platforms); the path and the token stay.
- Sends follow the shared retry rules: 429, 503 and the platform's busy codes are asked
  again; a send answered 500, 502 or 504 (a gateway that may have passed it on) "may
  have been delivered" and is not resent (unless ``resend_uncertain`` is set).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from imcli import _redact
from imcli.errors import ConfigError, PlatformError, RetryableError
from imcli.models import WEBHOOK_TARGET
from imcli.platforms.base import Adapter

if TYPE_CHECKING:
    import httpx

    from imcli.models import Message, Target


def status_check(resp: httpx.Response) -> None:
    """429 and every 5xx are "come back later" answers; the shared HTTP layer then
    decides: 429 and 503 are retried (``Retry-After`` obeyed), while a send answered
    500, 502 or 504 may have been delivered (not resent, not counted), and a request
    that sends no message is asked again."""
    from imcli.http import retry_after_header

    code = resp.status_code
    if code == 429 or code >= 500:
        raise RetryableError(
            f"HTTP {code}: {resp.reason_phrase or 'later'}",
            retry_after=retry_after_header(resp),
            status=code,
        )


def register(*values: object) -> None:
    """Secrets found inside a webhook URL (its token, its key)."""
    for value in values:
        _redact.add_secret(value)


class WebhookAdapter(Adapter):
    """A webhook account: one destination, sends in order, no identity call."""

    concurrency = 1
    #: option keys that would replace what imcli sets (the signature, the embeds, …)
    reserved: ClassVar[frozenset[str]] = frozenset()
    #: what a webhook URL of this platform looks like (for error messages)
    url_shape: ClassVar[str] = ""

    def __init__(self, account: Any, http: Any) -> None:
        super().__init__(account, http)
        self._url: str | None = None

    # -- the destination ------------------------------------------------------------
    def field(self, name: str) -> str:
        value = self.account.get(name)
        return str(value).strip() if value not in (None, "") else ""

    def bad_account(self, problem: str) -> ConfigError:
        """A ConfigError for this account that never shows the URL (it is the secret)."""
        return ConfigError(
            f"account {self.account.name!r} ({self.spec.name}): {problem}; "
            f"a {self.spec.name} webhook looks like {self.url_shape}" + self.account.fix_hint()
        )

    def given_url(self) -> tuple[str, str, dict[str, str]] | None:
        """The account's ``url`` as (origin, path, query), or None when it has none."""
        raw = self.field("url")
        if not raw:
            return None
        try:
            parts = urlsplit(raw)
        except ValueError:
            raise self.bad_account("url is not a URL") from None
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            raise self.bad_account("url must be an http(s) URL")
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        return f"{parts.scheme.lower()}://{parts.netloc}", parts.path, query

    def origin(self, given: tuple[str, str, dict[str, str]] | None) -> str:
        """Where requests go: ``base_url`` when set, else the URL's own scheme and host,
        else the platform's default."""
        base = self.field("base_url")
        if base:
            return base.rstrip("/")
        if given is not None:
            return given[0]
        return (self.spec.default_base_url or "").rstrip("/")

    def destination(self) -> str:
        """The URL to post to (without the query parameters the adapter adds)."""
        raise NotImplementedError

    def url(self) -> str:
        if self._url is None:
            self._url = self.destination()
        return self._url

    # -- the adapter interface --------------------------------------------------------
    def validate(self, message: Message, targets: list[Target]) -> None:
        self.url()  # a malformed account is refused before anything is sent
        for key in message.extra:
            if key in self.reserved:
                raise self.refuse(
                    f"option {key!r} would replace what imcli sets; use the command's own "
                    "arguments for that"
                )
        self.check_message(message)

    def check_message(self, message: Message) -> None:
        """Refuse (UsageError) media this platform cannot take, before any request."""

    async def check(self) -> str:
        self.url()
        return (
            "webhook fields look valid (not called: a webhook has no identity call, and a "
            "test would post to the chat)"
        )

    async def probe(
        self,
        parse: Callable[[httpx.Response], Any],
        refused: frozenset[Any] = frozenset(),
        **kw: Any,
    ) -> str:
        """``accounts test`` without posting: an empty message is refused by a live
        webhook for its content, and by a dead one (or a bad signature) for that.
        ``refused``: the codes that mean the webhook itself refused it."""
        from imcli.errors import AccountOffline

        try:
            await self.post(parse, send=False, **kw)
        except (AccountOffline, RetryableError):
            raise
        except PlatformError as exc:
            if exc.code is None or exc.code in refused:
                raise
            return f"webhook ok (an empty message was refused: {exc.message}; nothing posted)"
        return "webhook ok (it accepted an empty message)"

    async def post(
        self,
        parse: Callable[[httpx.Response], Any],
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        data: dict[str, Any] | None = None,
        files: Callable[[], Any] | None = None,
        describe: Any = None,
        url: str | None = None,
        send: bool = True,
    ) -> Any:
        """One request to the webhook (a message send unless ``send=False``)."""
        return await self.http.request(
            "POST",
            url or self.url(),
            params=params,
            json=json,
            data=data,
            files=files,
            parse=parse,
            send=send,
            target=WEBHOOK_TARGET,
            describe=describe,
        )


# -- text ------------------------------------------------------------------------------


def first_line(text: str, limit: int = 64) -> str:
    """The first non-empty line, without markdown heading marks, cut to ``limit``."""
    for line in text.splitlines():
        line = re.sub(r"^\s{0,3}(#{1,6}\s+|>\s*|[-*+]\s+)", "", line).strip()
        if line:
            return line[:limit]
    return ""


def errcode(data: Any) -> tuple[int | None, str]:
    """``{errcode, errmsg}`` (WeCom, DingTalk) or ``{code, msg}`` (Lark) of an answer."""
    if not isinstance(data, dict):
        return None, ""
    for code_key, msg_key in (
        ("errcode", "errmsg"),
        ("code", "msg"),
        ("StatusCode", "StatusMessage"),
    ):
        if code_key in data:
            code = data.get(code_key)
            try:
                number = int(code) if code is not None else 0
            except (TypeError, ValueError):
                number = -1
            return number, str(data.get(msg_key) or "")
    return None, ""


def errcode_parser(
    *,
    send: bool,
    busy: frozenset[int],
    offline: frozenset[int],
    hints: dict[int, str] | None = None,
) -> Callable[[httpx.Response], dict[str, Any]]:
    """A parser of ``{errcode, errmsg}``/``{code, msg}`` answers: 0 is success, a busy
    code is "later" (retried: nothing was delivered), an ``offline`` code means the
    webhook itself is rejected (the next account takes over), any other is definite."""
    from imcli.errors import AccountOffline
    from imcli.http import json_reply

    def parse(resp: httpx.Response) -> dict[str, Any]:
        status_check(resp)
        data = json_reply(resp)
        code, msg = errcode(data)
        if code == 0 and resp.status_code < 400:
            return data  # type: ignore[no-any-return]
        if code is None:
            raise PlatformError(
                f"unexpected answer (HTTP {resp.status_code})", status=resp.status_code
            )
        # "…, hint: [id], from ip: …" (WeCom) and "…, more: [url]" (DingTalk) add nothing
        msg = re.split(r",\s*(?:hint|more)\s*:", msg, maxsplit=1)[0]
        text = f"{' '.join(msg.split()) or 'error'} ({code})"
        hint = (hints or {}).get(code)
        if hint:
            text += f": {hint}"
        if code in busy:
            raise RetryableError(text, code=code, status=resp.status_code)
        if code in offline:
            raise AccountOffline(text, reason="credentials", code=code, status=resp.status_code)
        raise PlatformError(text, code=code, status=resp.status_code)

    return parse
