"""What the fake WeCom and WeChat servers share (tests/fakes/wecom.py, tests/fakes/wechat.py).

Both real APIs follow one set of conventions, and so do these fakes: every call carries
``?access_token=``; an answer is ``{errcode, errmsg, ...}``; a POST body is read as JSON
whatever its Content-Type says; temporary media is uploaded in the multipart field
``media`` (wechatpy ``client/api/media.py`` and ``work/client/api/media.py``) and named by
a ``media_id`` the send then refers to. A token the server issued is "valid" until
:meth:`FakeWeixin.expire_all_tokens`; each platform's fake gives its own errcodes and
errmsg texts.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from tests.fakes.base import FakeServer, FilePart, Recorded, Reply

F = TypeVar("F", bound="FakeWeixin")


@dataclass
class WeixinMedia:
    media_id: str
    type: str
    filename: str | None
    size: int
    sha256: str
    data: bytes | None


class FakeWeixin(FakeServer):
    """The token store, the media store and the request plumbing of both fakes."""

    #: bytes of randomness in an access_token
    token_bytes: ClassVar[int] = 48
    #: (errcode, errmsg) for an access_token the server never issued
    unknown_token: ClassVar[tuple[int, str]]

    def __init__(self, *, ip_blocked: bool, check_formats: bool) -> None:
        super().__init__()
        self.ip_blocked = ip_blocked
        self.check_formats = check_formats
        self.token_requests = 0
        self.tokens: dict[str, str] = {}  # token -> "valid" | "expired"
        self.current_token: str | None = None  # what the token endpoint hands out now
        self.media: dict[str, WeixinMedia] = {}
        self._state = threading.Lock()

    def __enter__(self: F) -> F:  # base.FakeServer.__enter__ is typed as FakeServer
        self.start()
        return self

    @property
    def base_url(self) -> str:
        return self.url

    # -- helpers for tests -----------------------------------------------------------------------
    def issue_token(self) -> str:
        """A valid token without an HTTP round trip (not counted in ``token_requests``)."""
        token = secrets.token_urlsafe(self.token_bytes)
        with self._state:
            self.tokens[token] = "valid"
        return token

    def expire_all_tokens(self) -> None:
        """Every token issued so far answers 42001; the next token call issues a new one."""
        with self._state:
            for token in self.tokens:
                self.tokens[token] = "expired"
            self.current_token = None

    def add_media(self, kind: str, data: bytes = b"0123456789", filename: str | None = None) -> str:
        """Registers a media_id as if it had been uploaded."""
        media_id = self._new_media_id()
        with self._state:
            self.media[media_id] = WeixinMedia(
                media_id, kind, filename, len(data), hashlib.sha256(data).hexdigest(), data
            )
        return media_id

    # -- what each platform gives --------------------------------------------------------------
    def _err(self, code: int, msg: str) -> Reply:
        raise NotImplementedError

    def _new_media_id(self) -> str:
        return secrets.token_urlsafe(48)

    # -- plumbing ----------------------------------------------------------------------------------
    def bad_body(self, rec: Recorded, exc: Exception) -> Reply:
        return self._err(47001, "data format error")

    @staticmethod
    def _body(req: Recorded) -> Any:
        """The JSON body; None when empty, ``...`` when it is not JSON."""
        if req.json is not None:
            return req.json
        if not req.body:
            return None
        try:  # read as JSON whatever the Content-Type says
            return json.loads(req.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return ...

    def _check_token(self, req: Recorded) -> Reply | None:
        token = req.query.get("access_token")
        if not token:
            return self._err(41001, "access_token missing")
        with self._state:
            state = self.tokens.get(token)
        if state is None:
            return self._err(*self.unknown_token)
        if state == "expired":
            return self._err(42001, "access_token expired")
        return None

    def _json_body(self, req: Recorded) -> dict[str, Any] | Reply:
        """A call's JSON object body after its token is checked, or the error answer."""
        denied = self._check_token(req)
        if denied is not None:
            return denied
        body = self._body(req)
        if body is None:
            return self._err(44002, "empty post data")
        if body is ... or not isinstance(body, dict):
            return self._err(47001, "data format error")
        return body

    @staticmethod
    def _extension(part: FilePart) -> str:
        """The upload's file name extension (the format both platforms judge it by)."""
        name = part.filename or ""
        return name.rsplit(".", 1)[-1].lower() if "." in name else ""

    def _keep(self, kind: str, part: FilePart) -> str:
        """Store an accepted upload; its new media_id."""
        media_id = self._new_media_id()
        with self._state:
            self.media[media_id] = WeixinMedia(
                media_id, kind, part.filename, part.size, part.sha256, part.data
            )
        return media_id
