"""What the fake WeCom and WeChat servers share (tests/fakes/wecom.py, tests/fakes/wechat.py).

Both real APIs follow one set of conventions, and so do these fakes: every call carries
``?access_token=``; an answer is ``{errcode, errmsg, ...}``; a POST body is read as JSON
whatever its Content-Type says; temporary media is uploaded in the multipart field
``media`` (wechatpy ``client/api/media.py`` and ``work/client/api/media.py``) and named by
a ``media_id`` the send then refers to. A token the server issued is "valid" until
:meth:`FakeWeixin.expire_all_tokens`; each platform's fake gives its own errcodes and
errmsg texts, and its upload rules (sizes, formats, the errors they give) as class data
that one upload check reads.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from tests.fakes.base import FakeServer, FilePart, Recorded, Reply
from tests.fakes.content import media_format

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
    #: media/upload: the largest upload of each type (bytes); a type not here is refused
    media_limits: ClassVar[dict[str, int]]
    #: media/upload: the extensions (and content formats) each type takes; None: any
    media_formats: ClassVar[dict[str, frozenset[str] | None]]
    #: media/upload: (errcode, errmsg) of a too large upload, by type
    oversize: ClassVar[dict[str, tuple[int, str]]]
    #: media/upload: (errcode, errmsg) of an unknown ``type``, and of a file of a format
    #: its type does not take (the two platforms swap 40004 and 40005)
    unknown_media_type: ClassVar[tuple[int, str]]
    wrong_media_format: ClassVar[tuple[int, str]]
    #: media/upload: smaller (but not empty) uploads are "invalid file size" (40006)
    min_media_size: ClassVar[int] = 1

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

    def _accept_upload(self, req: Recorded) -> tuple[str, str] | Reply:
        """A media/upload checked as the platform checks it, then kept: (type, media_id),
        or the error answer."""
        denied = self._check_token(req)
        if denied is not None:
            return denied
        kind = req.query.get("type", "")
        if kind not in self.media_limits:
            return self._err(*self.unknown_media_type)
        part: FilePart | None = req.files.get("media")
        if part is None:
            return self._err(41005, "media data missing")
        if part.size == 0:
            return self._err(44001, "empty media data")
        if part.size < self.min_media_size:
            return self._err(40006, "invalid file size")
        if part.size > self.media_limits[kind]:
            return self._err(*self.oversize.get(kind, (40006, "invalid file size")))
        formats = self.media_formats[kind]
        if self.check_formats and formats is not None:
            if self._extension(part) not in formats:
                return self._err(*self.wrong_media_format)
            # The content, too: an MP3 or Ogg renamed .amr, a MOV renamed .mp4, a WebP renamed
            # .jpg does not play (stricter than the server, which may take the bytes and
            # leave the client to fail on them)
            found = media_format(part.data)
            if found is not None and found not in formats:
                return self._err(*self.wrong_media_format)
        return kind, self._keep(kind, part)

    def _keep(self, kind: str, part: FilePart) -> str:
        """Store an accepted upload; its new media_id."""
        media_id = self._new_media_id()
        with self._state:
            self.media[media_id] = WeixinMedia(
                media_id, kind, part.filename, part.size, part.sha256, part.data
            )
        return media_id
