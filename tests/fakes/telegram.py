"""A fake Telegram Bot API server that answers like api.telegram.org.

Modelled on the Bot API documentation (core.telegram.org/bots/api) and on the server's
own sources: tdlib/telegram-bot-api (``Client.cpp``: argument handling, the
``fail_query_with_error`` wording, ``get_input_file``/``attach://``, sendMediaGroup
parsing) and TDLib's ``parse_html`` (``td/telegram/MessageEntity.cpp``), whose error
texts are reproduced here byte for byte, byte offsets included.

What it does, in the order the real server does it:

1. ``/bot<token>/<method>``: a malformed token gets 401 "Unauthorized: invalid token
   specified", a well-formed unknown one 401 "Unauthorized"; an unknown method 404
   "Not Found". Method names are case-insensitive.
2. Upload size (nginx in front of api.telegram.org): a file part over 50 MiB gets
   HTTP 413 "Request Entity Too Large"; with ``local_server=True`` the limit is
   2000 MiB (400 "Bad Request: file is too big" beyond it).
3. Parameters from the JSON body, an urlencoded or multipart form, or the query string.
   Text and captions are parsed (``parse_mode=HTML`` exactly as TDLib does; Markdown
   modes are passed through unchecked), trimmed, and measured in UTF-16 code units.
4. ``chat_id``: empty, unknown (``unknown_chats``, or not in ``chats`` when that is given)
   and blocked (``blocked_chats``) chats fail like the real ones.
5. Media: a multipart part, ``attach://<part>``, an http(s) URL (judged by
   ``url_fetcher``: by default intranet hosts fail, as Telegram cannot reach them) or a
   file_id; photos over 10 MiB and empty files are refused with Telegram's texts.
6. Flood limits, when switched on: 30 sends/s per bot (``enforce_rate``), 1/s per chat
   (``enforce_chat_rate``), 20/min per group or channel (``enforce_group_rate``), answered
   with 429 and ``parameters.retry_after``; :attr:`FakeTelegram.too_many` counts them.

Scripted failures come from the inherited :meth:`FakeServer.queue`, e.g.
``server.queue(r"/sendMessage$", FakeTelegram.error(429, "Too Many Requests: retry after 3",
retry_after=3))``.
"""

from __future__ import annotations

import hashlib
import ipaddress
import itertools
import json
import math
import mimetypes
import re
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import unquote, urlsplit, urlunsplit

from .base import FakeServer, FilePart, Recorded, Reply

DEFAULT_TOKEN = "123456:TEST-fake-telegram-token"

MAX_TEXT_LENGTH = 4096  # UTF-16 code units, after entity parsing
MAX_CAPTION_LENGTH = 1024
MAX_RAW_TEXT_BYTES = 1 << 15  # the server refuses longer raw text before parsing
MAX_PHOTO_UPLOAD = 10 * 1024 * 1024
MB = 1024 * 1024
MAX_UPLOAD = 50 * 1024 * 1024
MAX_LOCAL_UPLOAD = 2000 * 1024 * 1024
MIN_ALBUM, MAX_ALBUM = 2, 10

BOT_RATE = (30, 1.0)  # sends, seconds
CHAT_RATE = (1, 1.0)
GROUP_RATE = (20, 60.0)

# method (lower case) -> (canonical name, media field or None)
_SEND_MEDIA: dict[str, tuple[str, str]] = {
    "sendphoto": ("sendPhoto", "photo"),
    "sendvoice": ("sendVoice", "voice"),
    "sendvideo": ("sendVideo", "video"),
    "senddocument": ("sendDocument", "document"),
    "sendaudio": ("sendAudio", "audio"),
}
_METHODS = {"getme", "sendmessage", "sendmediagroup", *_SEND_MEDIA}

_PATH = re.compile(r"^/bot([^/]*)/([^/]*)$")
_CHAT_INT = re.compile(r"^-?\d{1,20}$")
_CHAT_USERNAME = re.compile(r"^@[A-Za-z][A-Za-z0-9_]{3,31}$")
_FILE_ID = re.compile(r"^[A-Za-z0-9_-]{16,}$")
_SPACE = " \t\r\n\f\v"

UrlFetcher = Callable[[str], "str | None"]
"""Decides whether "Telegram" could download a URL: None for yes, else the error description."""


# -- helpers anyone may use ----------------------------------------------------------------


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's limits and entity offsets."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def is_intranet_host(host: str) -> bool:
    host = host.strip("[]").lower()
    if host in ("localhost", "") or host.endswith((".localhost", ".local", ".internal", ".lan")):
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return "." not in host  # a bare intranet name like "ci-runner"
    return not ip.is_global


def default_url_fetcher(url: str) -> str | None:
    """Telegram's servers cannot reach loopback or private addresses; anything else works."""
    host = urlsplit(url).hostname or ""
    if is_intranet_host(host):
        return "Bad Request: failed to get HTTP URL content"
    return None


def every_url_ok(url: str) -> str | None:
    return None


def no_url_ok(url: str) -> str | None:
    return "Bad Request: failed to get HTTP URL content"


# -- HTML parse mode, ported from TDLib's parse_html ---------------------------------------


class EntityParseError(ValueError):
    """The text TDLib puts after "Bad Request: can't parse entities: "."""


@dataclass
class ParsedText:
    text: str
    entities: list[dict[str, Any]] = field(default_factory=list)


_HTML_TAGS = frozenset(
    {"a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins"}
    | {"tg-spoiler", "tg-emoji", "span", "pre", "code", "blockquote"}
)
_SIMPLE_ENTITY = {
    "i": "italic",
    "em": "italic",
    "b": "bold",
    "strong": "bold",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "u": "underline",
    "ins": "underline",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _is_space(c: str) -> bool:
    return c != "" and c in _SPACE


def _decode_html_entity(text: str, pos: int) -> tuple[str, int] | None:
    """Decodes the entity at text[pos] == '&' the way TDLib does; None leaves '&' literal."""

    def at(i: int) -> str:
        return text[i] if i < len(text) else ""

    end = pos + 1
    if at(pos + 1) == "#":
        end += 1
        code = 0
        if at(pos + 2) == "x":
            end += 1
            while at(end) and at(end) in "0123456789abcdefABCDEF":
                code = code * 16 + int(at(end), 16)
                end += 1
        else:
            while at(end) and at(end) in "0123456789":
                code = code * 10 + int(at(end))
                end += 1
        if code == 0 or code >= 0x10FFFF or end - pos >= 10:
            return None
        char = chr(code)
    else:
        while at(end).isascii() and at(end).isalpha():
            end += 1
        named = _NAMED_ENTITIES.get(text[pos + 1 : end])
        if named is None:
            return None  # unsupported named entities (&laquo; ...) stay as they are
        char = named
    if at(end) == ";":
        end += 1
    return char, end


def _checked_link(url: str) -> str | None:
    """A simplified LinkManager::get_checked_link: the URL Telegram keeps, or None."""
    url = url.strip()
    if not url or any(c in url for c in _SPACE):
        return None
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://", url)
    if match is None:
        if "." not in url.split("/")[0]:
            return None
        url = "http://" + url
        scheme = "http"
    else:
        scheme = match.group(1).lower()
    if scheme not in ("http", "https", "tg", "ton", "tonsite"):
        return None
    parts = urlsplit(url)
    if scheme in ("http", "https"):
        if not parts.hostname:
            return None
        if not parts.path:
            url = urlunsplit(parts._replace(path="/"))
    return url


def _link_entity(url: str) -> dict[str, Any] | None:
    mention = re.fullmatch(r"tg://user\?id=(\d{1,15})", url.strip())
    if mention:
        user = {"id": int(mention.group(1)), "is_bot": False, "first_name": "User"}
        return {"type": "text_mention", "user": user}
    checked = _checked_link(url)
    return {"type": "text_link", "url": checked} if checked else None


def parse_html(text: str) -> ParsedText:
    """Parses Telegram's HTML parse mode; raises EntityParseError with TDLib's message.

    Offsets in error messages are byte offsets into the UTF-8 source, as Telegram reports.
    Bare '&' and unknown named entities are kept literally (that is what Telegram does);
    a bare '<' is an error.
    """

    def at(i: int) -> str:
        return text[i] if i < len(text) else ""

    def byte_offset(i: int) -> int:
        return len(text[:i].encode("utf-8", "surrogatepass"))

    out: list[str] = []
    offset = 0  # UTF-16 offset in the result
    entities: list[dict[str, Any]] = []
    stack: list[tuple[str, str, int, int]] = []  # tag, argument, utf16 offset, len(out)
    i = 0
    while i < len(text):
        c = text[i]
        if c == "&":
            decoded = _decode_html_entity(text, i)
            if decoded is not None:
                char, i = decoded
                out.append(char)
                offset += utf16_len(char)
                continue
        if c != "<":
            out.append(c)
            offset += utf16_len(c)
            i += 1
            continue

        begin = i
        i += 1
        if at(i) != "/":
            while at(i) and not _is_space(at(i)) and at(i) != ">":
                i += 1
            if not at(i):
                raise EntityParseError(f"Unclosed start tag at byte offset {byte_offset(begin)}")
            tag = text[begin + 1 : i].lower()
            if tag not in _HTML_TAGS:
                raise EntityParseError(
                    f'Unsupported start tag "{tag}" at byte offset {byte_offset(begin)}'
                )
            argument = ""
            while at(i) != ">":
                while _is_space(at(i)):
                    i += 1
                if at(i) == ">":
                    break
                if not at(i):
                    raise EntityParseError(
                        f'Unclosed start tag "{tag}" at byte offset {byte_offset(begin)}'
                    )
                name_begin = i
                while at(i) and not _is_space(at(i)) and at(i) not in "=>":
                    i += 1
                name = text[name_begin:i]
                if not name:
                    raise EntityParseError(
                        f'Empty attribute name in the tag "{tag}" at byte offset {byte_offset(begin)}'
                    )
                while _is_space(at(i)):
                    i += 1
                if at(i) != "=":
                    if tag == "blockquote" and name.lower() == "expandable" and at(i):
                        argument = "expandable"
                        continue
                    if not at(i):
                        raise EntityParseError(
                            f'Unclosed start tag "{tag}" at byte offset {byte_offset(begin)}'
                        )
                    raise EntityParseError(
                        "Expected equal sign in declaration of an attribute of the tag "
                        f'"{tag}" at byte offset {byte_offset(begin)}'
                    )
                i += 1
                while _is_space(at(i)):
                    i += 1
                if not at(i):
                    raise EntityParseError(
                        f'Unclosed start tag "{tag}" at byte offset {byte_offset(begin)}'
                    )
                if at(i) not in "\"'":
                    # a name token: letters, digits, periods, hyphens; case-insensitive
                    token_begin = i
                    while at(i) and at(i).isascii() and (at(i).isalnum() or at(i) in ".-"):
                        i += 1
                    value = text[token_begin:i].lower()
                    if not _is_space(at(i)) and at(i) != ">":
                        raise EntityParseError(
                            f"Unexpected end of name token at byte offset {byte_offset(token_begin)}"
                        )
                else:
                    quote = at(i)
                    i += 1
                    chars: list[str] = []
                    while at(i) and at(i) != quote:
                        if at(i) == "&":
                            decoded = _decode_html_entity(text, i)
                            if decoded is not None:
                                chars.append(decoded[0])
                                i = decoded[1]
                                continue
                        chars.append(at(i))
                        i += 1
                    if at(i) == quote:
                        i += 1
                    value = "".join(chars)
                if not at(i):
                    raise EntityParseError(
                        f"Unclosed start tag at byte offset {byte_offset(begin)}"
                    )
                lname = name.lower()
                if tag == "a" and lname == "href":
                    argument = value
                elif tag == "code" and lname == "class" and value.startswith("language-"):
                    argument = value[len("language-") :]
                elif tag == "span" and lname == "class" and value.startswith("tg-"):
                    argument = value[len("tg-") :]
                elif tag == "tg-emoji" and lname == "emoji-id":
                    argument = value
            if tag == "span" and argument != "spoiler":
                raise EntityParseError(
                    f'Tag "span" must have class "tg-spoiler" at byte offset {byte_offset(begin)}'
                )
            stack.append((tag, argument, offset, len(out)))
            i += 1  # past '>'
            continue

        # an end tag
        if not stack:
            raise EntityParseError(f"Unexpected end tag at byte offset {byte_offset(begin)}")
        while at(i) and not _is_space(at(i)) and at(i) != ">":
            i += 1
        end_name = text[begin + 2 : i].lower()
        while _is_space(at(i)):
            i += 1
        if at(i) != ">":
            raise EntityParseError(f"Unclosed end tag at byte offset {byte_offset(begin)}")
        tag, argument, start, out_start = stack[-1]
        if end_name and end_name != tag:
            raise EntityParseError(
                f"Unmatched end tag at byte offset {byte_offset(begin)}, "
                f'expected "</{tag}>", found "</{end_name}>"'
            )
        i += 1
        stack.pop()
        if offset <= start:
            continue  # empty entities vanish
        span = {"offset": start, "length": offset - start}
        if tag in _SIMPLE_ENTITY:
            entities.append({"type": _SIMPLE_ENTITY[tag], **span})
        elif tag == "tg-emoji":
            if not argument.isdigit() or int(argument) == 0:
                raise EntityParseError("Invalid custom emoji identifier specified")
            entities.append({"type": "custom_emoji", **span, "custom_emoji_id": argument})
        elif tag == "a":
            link = _link_entity(argument or "".join(out[out_start:]))
            if link is not None:
                entities.append({**link, **span})
        elif tag == "pre":
            last = entities[-1] if entities else None
            if last and last["type"] == "code" and last.get("language") and _same(last, span):
                last["type"] = "pre"
            else:
                entities.append({"type": "pre", **span})
        elif tag == "code":
            last = entities[-1] if entities else None
            if last and last["type"] == "pre" and argument and _same(last, span):
                last["language"] = argument
            else:
                entities.append({"type": "code", **span, "language": argument})
        elif tag == "blockquote":
            kind = "expandable_blockquote" if argument else "blockquote"
            entities.append({"type": kind, **span})
    if stack:
        raise EntityParseError(f"Can't find end tag corresponding to start tag {stack[-1][0]}")
    result = "".join(out)
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in result):
        raise EntityParseError(
            "Text contains invalid Unicode characters after decoding HTML entities, "
            "check for unmatched surrogate code units"
        )
    for entity in entities:
        if entity["type"] == "code" or (entity["type"] == "pre" and not entity.get("language")):
            entity.pop("language", None)
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return ParsedText(result, entities)


def _same(entity: dict[str, Any], span: dict[str, int]) -> bool:
    return bool(entity["offset"] == span["offset"] and entity["length"] == span["length"])


def _trim(parsed: ParsedText) -> ParsedText:
    """Telegram strips leading and trailing white space from texts and captions."""
    text = parsed.text
    left = len(text) - len(text.lstrip(_SPACE))
    trimmed = text.strip(_SPACE)
    if trimmed == text:
        return parsed
    shift, total = utf16_len(text[:left]), utf16_len(trimmed)
    entities = []
    for entity in parsed.entities:
        start = max(entity["offset"] - shift, 0)
        end = min(entity["offset"] + entity["length"] - shift, total)
        if end > start:
            entities.append({**entity, "offset": start, "length": end - start})
    return ParsedText(trimmed, entities)


# -- the server ------------------------------------------------------------------------------


class SentMessage(NamedTuple):
    """One successful send: the canonical method name, the chat and every parameter.

    ``fields`` merges query, form and JSON parameters; uploaded parts appear under their
    part name as :class:`FilePart`; for sendMediaGroup ``fields["media"]`` is the parsed list.
    ``chat_id`` is an int for numeric ids, else the ``@username`` string as sent.
    """

    method: str
    chat_id: int | str
    fields: dict[str, Any]


class _ApiError(Exception):
    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after


@dataclass
class _Media:
    """A media reference as the Bot API resolved it (cf. Client::get_input_file)."""

    part: FilePart | None = None  # an uploaded multipart part
    remote: str | None = None  # a URL, a file_id, or (local server) a file:// URI


def _voice_codec(data: bytes) -> str | None:
    """ogg-opus (RFC 7845 "OpusHead" on the first page), ogg-vorbis, mp3, m4a, or None."""
    if data.startswith(b"OggS"):
        if b"OpusHead" in data[:256]:
            return "ogg-opus"
        return "ogg-vorbis" if b"\x01vorbis" in data[:256] else "ogg"
    if data.startswith(b"ID3") or (
        len(data) > 1 and data[0] == 0xFF and data[1] & 0xE6 in (0xE2, 0xE4, 0xE6)
    ):
        return "mp3"
    if data[4:8] == b"ftyp" and data[8:12] != b"qt  ":
        return "m4a"
    return None


def _bad(description: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {description}")


class _Params:
    def __init__(self, req: Recorded) -> None:
        self.req = req

    def raw(self, name: str) -> Any:
        return self.req.field(name)

    def get(self, name: str) -> str:
        """The argument as the server sees it: a string, "" when absent."""
        value = self.req.field(name)
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (dict, list)):
            return json.dumps(value)
        return str(value)

    def merged(self) -> dict[str, Any]:
        fields: dict[str, Any] = dict(self.req.query)
        fields.update(self.req.form)
        if isinstance(self.req.json, dict):
            fields.update(self.req.json)
        fields.update(self.req.files)
        return fields


def _window_wait(times: deque[float], now: float, limit: int, window: float) -> float:
    while times and times[0] <= now - window:
        times.popleft()
    return times[0] + window - now if len(times) >= limit else 0.0


def _chat_key(value: str) -> str | None:
    value = value.strip()
    if _CHAT_INT.match(value):
        number = int(value)
        return str(number) if number != 0 else None
    if _CHAT_USERNAME.match(value):
        return value.lower()
    return None


class FakeTelegram(FakeServer):
    """The Bot API at ``{api_url}/bot<token>/<method>``; see the module docstring."""

    def __init__(
        self,
        tokens: Iterable[str] = (DEFAULT_TOKEN,),
        *,
        chats: Iterable[int | str] | None = None,
        unknown_chats: Iterable[int | str] = (),
        blocked_chats: Iterable[int | str] = (),
        url_fetcher: UrlFetcher | None = None,
        local_server: bool = False,
        enforce_rate: bool = False,
        enforce_chat_rate: bool = False,
        enforce_group_rate: bool = False,
        retry_after: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.tokens: set[str] = set(tokens)
        self.known_chats: set[str] | None = None if chats is None else self._keys(chats)
        self.unknown_chats: set[str] = self._keys(unknown_chats)
        self.blocked_chats: set[str] = self._keys(blocked_chats)
        self.url_fetcher: UrlFetcher = url_fetcher or default_url_fetcher
        self.local_server = local_server
        self.enforce_rate = enforce_rate
        self.enforce_chat_rate = enforce_chat_rate
        self.enforce_group_rate = enforce_group_rate
        self.retry_after = retry_after  # fixed retry_after for flood answers, else computed
        self.clock = clock  # seconds, for the flood limits; tests may pass a fake one
        self.too_many = 0  # 429 answers the flood limits gave (not scripted ones)
        self.messages: list[dict[str, Any]] = []  # every Message returned, in order
        self._sent: list[SentMessage] = []
        self._files: dict[str, dict[str, Any]] = {}  # file_id -> the file object handed out
        self._state = threading.Lock()
        self._message_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._album_ids = itertools.count(1)
        self._bot_sends: defaultdict[str, deque[float]] = defaultdict(deque)
        self._chat_sends: defaultdict[tuple[str, int], deque[float]] = defaultdict(deque)
        self._group_sends: defaultdict[tuple[str, int], deque[float]] = defaultdict(deque)

    # -- public helpers --------------------------------------------------------------------
    @property
    def api_url(self) -> str:
        """The base_url to give imcli: it calls ``{api_url}/bot{token}/{method}``."""
        return self.url

    def sent_messages(self) -> list[SentMessage]:
        with self._state:
            return list(self._sent)

    def reset(self) -> None:
        super().reset()
        with self._state:
            self._sent.clear()
            self.messages.clear()
            self.too_many = 0
            self._bot_sends.clear()
            self._chat_sends.clear()
            self._group_sends.clear()

    @staticmethod
    def error(
        status: int, description: str, retry_after: int | None = None, delay: float = 0.0
    ) -> Reply:
        """A reply shaped like the Bot API's errors, for :meth:`queue`."""
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if retry_after is not None:
            body["parameters"] = {"retry_after": retry_after}
        return Reply(status, json=body, delay=delay)

    # -- dispatch ----------------------------------------------------------------------------
    def handle(self, req: Recorded) -> Reply:
        try:
            result = self._route(req)
        except _ApiError as err:
            return self.error(err.status, err.description, err.retry_after)
        return Reply(200, json={"ok": True, "result": result})

    def bad_body(self, rec: Recorded, exc: Exception) -> Reply:
        return self.error(400, "Bad Request: can't parse request body")

    def _route(self, req: Recorded) -> Any:
        match = _PATH.match(req.path)
        if match is None:
            raise _ApiError(404, "Not Found")
        token, method = match.group(1), match.group(2).lower()
        self._check_token(token)
        if method not in _METHODS:
            raise _ApiError(404, "Not Found")
        self._check_upload_sizes(req)
        params = _Params(req)
        if method == "getme":
            return self._bot_user(token)
        if method == "sendmessage":
            return self._send_message(token, params)
        if method == "sendmediagroup":
            return self._send_media_group(token, params)
        return self._send_media(token, method, params)

    def _check_token(self, token: str) -> None:
        bot_id = token.split(":", 1)[0]
        if (
            ":" not in token
            or token.startswith("0")
            or len(token) > 80
            or not bot_id.isdigit()
            or int(bot_id) >= 1 << 54
        ):
            raise _ApiError(401, "Unauthorized: invalid token specified")
        if token not in self.tokens:
            raise _ApiError(401, "Unauthorized")

    def _check_upload_sizes(self, req: Recorded) -> None:
        for part in req.files.values():
            if self.local_server and part.size > MAX_LOCAL_UPLOAD:
                raise _bad("file is too big")
            if not self.local_server and part.size > MAX_UPLOAD:
                raise _ApiError(413, "Request Entity Too Large")

    # -- methods -------------------------------------------------------------------------------
    def _send_message(self, token: str, params: _Params) -> dict[str, Any]:
        raw_text = params.get("text")
        if not raw_text:
            raise _bad("message text is empty")
        parsed = self._formatted(raw_text, params.get("parse_mode"))
        if not parsed.text:
            raise _bad("message text is empty")
        chat = self._chat(params.get("chat_id"))
        if utf16_len(parsed.text) > MAX_TEXT_LENGTH:
            raise _bad("message is too long")
        self._check_rate(token, chat["id"])
        content: dict[str, Any] = {"text": parsed.text}
        if parsed.entities:
            content["entities"] = parsed.entities
        message = self._message(token, chat, content)
        self._record("sendMessage", params, params.merged(), message)
        return message

    def _send_media(self, token: str, method: str, params: _Params) -> dict[str, Any]:
        name, kind = _SEND_MEDIA[method]
        media = self._input_file(params, kind, params.get(kind))
        if media is None:
            raise _bad(f"there is no {kind} in the request")
        caption = self._formatted(params.get("caption"), params.get("parse_mode"))
        chat = self._chat(params.get("chat_id"))
        self._check_media(kind, media)
        if utf16_len(caption.text) > MAX_CAPTION_LENGTH:
            raise _bad("message caption is too long")
        self._check_rate(token, chat["id"])
        content = self._media_content(kind, media, caption)
        message = self._message(token, chat, content)
        self._record(name, params, params.merged(), message)
        return message

    def _send_media_group(self, token: str, params: _Params) -> list[dict[str, Any]]:
        raw = params.raw("media")
        if raw is None or raw == "":
            raise _bad('parameter "media" is required')
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError:
                raise _bad("can't parse media JSON object") from None
        if not isinstance(raw, list):
            raise _bad("expected an Array of InputMedia")
        items: list[tuple[str, _Media, ParsedText]] = []
        for obj in raw:
            items.append(self._input_media(params, obj))
        if len(items) > MAX_ALBUM:
            raise _bad("too many messages to send as an album")
        if len(items) < MIN_ALBUM:
            # The documentation says 2-10 items; this wording is the fake's own.
            raise _bad("media group must include 2-10 items")
        kinds = {kind for kind, _, _ in items}
        if ("document" in kinds or "audio" in kinds) and len(kinds) > 1:
            raise _bad("can't use the media of the specified type in the album")
        chat = self._chat(params.get("chat_id"))
        for kind, media, caption in items:
            self._check_media(kind, media)
            if utf16_len(caption.text) > MAX_CAPTION_LENGTH:
                raise _bad("message caption is too long")
        self._check_rate(token, chat["id"])
        with self._state:
            album_id = str(13_000_000_000_000_000 + next(self._album_ids))
        messages = []
        for kind, media, caption in items:
            content = self._media_content(kind, media, caption)
            content["media_group_id"] = album_id
            messages.append(self._message(token, chat, content))
        fields = params.merged()
        fields["media"] = raw
        self._record("sendMediaGroup", params, fields, *messages)
        return messages

    # -- pieces --------------------------------------------------------------------------------
    def _input_media(self, params: _Params, obj: Any) -> tuple[str, _Media, ParsedText]:
        def fail(reason: str) -> _ApiError:
            return _bad(f"can't parse InputMedia: {reason}")

        if not isinstance(obj, dict):
            raise fail("expected an Object")
        try:
            caption = self._formatted(
                str(obj.get("caption") or ""), str(obj.get("parse_mode") or "")
            )
        except _ApiError as err:
            reason = err.description.removeprefix("Bad Request: ")
            raise fail(reason[:1].upper() + reason[1:]) from None
        kind = obj.get("type")
        if not isinstance(kind, str):
            raise fail('Can\'t find field "type"')
        media = self._input_file(params, "", str(obj.get("media") or ""))
        if media is None:
            raise fail("media not found")
        if kind == "animation":
            raise fail(f'type "{kind}" can\'t be used in sendMediaGroup')
        if kind not in ("photo", "video", "audio", "document"):
            raise fail(f'type "{kind}" is unsupported')
        return kind, media, caption

    def _input_file(self, params: _Params, field_name: str, value: str) -> _Media | None:
        """Client::get_input_file: a non-empty value is remote unless it is attach://."""
        if value:
            if not value.startswith("attach://"):
                return _Media(remote=value)
            field_name = value[len("attach://") :]
        part = params.req.files.get(field_name) if field_name else None
        return _Media(part=part) if part is not None else None

    def _check_media(self, kind: str, media: _Media) -> None:
        if media.part is not None:
            if media.part.size == 0:
                raise _bad("file must be non-empty")
            if kind == "photo" and media.part.size > MAX_PHOTO_UPLOAD:
                raise _bad(
                    f"file of size {media.part.size} bytes is too big for a photo; "
                    f"the maximum size is {MAX_PHOTO_UPLOAD} bytes"
                )
            return
        remote = media.remote or ""
        scheme = remote.split("://", 1)[0].lower() if "://" in remote else ""
        if scheme in ("http", "https"):
            if not urlsplit(remote).hostname:
                raise _bad("wrong file identifier/HTTP URL specified")
            problem = self.url_fetcher(remote)
            if problem:
                raise _ApiError(400, problem)
            return
        if self.local_server and remote.startswith("file:/"):
            return
        with self._state:
            known = remote in self._files
        if not known and not _FILE_ID.match(remote):
            raise _bad("wrong file identifier/HTTP URL specified")

    def _formatted(self, text: str, parse_mode: str) -> ParsedText:
        if len(text.encode("utf-8", "surrogatepass")) > MAX_RAW_TEXT_BYTES:
            raise _bad("text is too long")
        mode = parse_mode.lower()
        if not text or mode in ("", "none"):
            return _trim(ParsedText(text))
        if mode == "html":
            try:
                return _trim(parse_html(text))
            except EntityParseError as err:
                raise _bad(f"can't parse entities: {err}") from None
        if mode in ("markdown", "markdownv2"):
            return _trim(ParsedText(text))  # not validated by this fake
        raise _bad("unsupported parse_mode")

    def _chat(self, chat_id: str) -> dict[str, Any]:
        if not chat_id.strip():
            raise _bad("chat_id is empty")
        key = _chat_key(chat_id)
        if key is None or key in self.unknown_chats:
            raise _bad("chat not found")
        if self.known_chats is not None and key not in self.known_chats:
            raise _bad("chat not found")
        if key in self.blocked_chats:
            raise _ApiError(403, "Forbidden: bot was blocked by the user")
        if key.startswith("@"):
            digest = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16)
            number = -(1_000_000_000_000 + digest % 1_000_000_000)
            return {
                "id": number,
                "title": key[1:],
                "username": chat_id.strip()[1:],
                "type": "channel",
            }
        number = int(key)
        if number > 0:
            return {"id": number, "first_name": "User", "type": "private"}
        kind = "supergroup" if key.startswith("-100") else "group"
        return {"id": number, "title": f"Group {number}", "type": kind}

    def _check_rate(self, token: str, chat_id: int) -> None:
        now = self.clock()
        with self._state:
            windows = [
                (self.enforce_rate, self._bot_sends[token], BOT_RATE),
                (self.enforce_chat_rate, self._chat_sends[(token, chat_id)], CHAT_RATE),
                (
                    self.enforce_group_rate and chat_id < 0,
                    self._group_sends[(token, chat_id)],
                    GROUP_RATE,
                ),
            ]
            wait = max(
                (
                    _window_wait(times, now, limit, span)
                    for on, times, (limit, span) in windows
                    if on
                ),
                default=0.0,
            )
            if wait > 0:
                self.too_many += 1
                seconds = self.retry_after or max(1, math.ceil(wait))
                raise _ApiError(429, f"Too Many Requests: retry after {seconds}", seconds)
            for _, times, (_, span) in windows:
                while times and times[0] <= now - span:
                    times.popleft()
                times.append(now)

    def _bot_user(self, token: str) -> dict[str, Any]:
        bot_id = int(token.split(":", 1)[0])
        return {
            "id": bot_id,
            "is_bot": True,
            "first_name": "Fake Bot",
            "username": f"fake{bot_id}_bot",
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _message(self, token: str, chat: dict[str, Any], content: dict[str, Any]) -> dict[str, Any]:
        with self._state:
            message_id = next(self._message_ids)
        message: dict[str, Any] = {"message_id": message_id}
        if chat["type"] != "channel":
            message["from"] = self._bot_user(token)
        else:
            message["sender_chat"] = chat
        message.update({"chat": chat, "date": int(time.time())})
        message.update(content)
        return message

    def _new_file(self, media: _Media, extra: dict[str, Any]) -> dict[str, Any]:
        """The file object for media: the one handed out before for a known file_id."""
        with self._state:
            if media.remote is not None and media.remote in self._files:
                return dict(self._files[media.remote])
            n = next(self._file_ids)
        info: dict[str, Any] = {
            "file_id": f"BQACAgIAAxkBAAI{n:08d}fakeTelegramFileId",
            "file_unique_id": f"AgAD{n:08d}",
        }
        if media.part is not None:
            info["file_size"] = media.part.size
            name = media.part.filename
            mime = media.part.content_type
        else:
            name = unquote(urlsplit(media.remote or "").path.rsplit("/", 1)[-1]) or None
            mime = None
        if name and "file_name" in extra:
            info["file_name"] = name
        if "mime_type" in extra:
            if not mime or mime == "application/octet-stream":
                mime = mimetypes.guess_type(name or "")[0] or extra["mime_type"]
            info["mime_type"] = mime
        info.update({k: v for k, v in extra.items() if k not in ("file_name", "mime_type")})
        with self._state:
            self._files[info["file_id"]] = info
        return dict(info)

    def _plays_as_voice(self, media: _Media) -> bool:
        """sendVoice: "audio must be in an .OGG file encoded with OPUS, or in .MP3 format,
        or in .M4A format ... Other formats may be sent as Audio or Document"; by URL
        ("Sending files"): "To use sendVoice, the file must have the type audio/ogg and be
        no more than 1MB in size. 1-20MB voice notes will be sent as files." This fake
        fetches a voice URL itself (loopback included) to look at it; a file_id it handed
        out as a voice stays one."""
        if media.part is not None:
            if media.part.data is None:  # over base.KEEP_LIMIT: not kept, taken as it is
                return True
            return _voice_codec(media.part.data) in ("ogg-opus", "mp3", "m4a")
        remote = media.remote or ""
        if not remote.lower().startswith(("http://", "https://")):
            with self._state:
                known = self._files.get(remote)
            return known is None or known.get("mime_type") == "audio/ogg"
        import urllib.request

        try:
            with urllib.request.urlopen(remote, timeout=5) as resp:  # noqa: S310
                ctype = resp.headers.get("Content-Type", "").split(";")[0].strip()
                data = resp.read(MB + 1)
        except OSError:
            return False
        return ctype == "audio/ogg" and len(data) <= MB and _voice_codec(data) == "ogg-opus"

    def _media_content(self, kind: str, media: _Media, caption: ParsedText) -> dict[str, Any]:
        content: dict[str, Any] = {}
        if kind == "photo":
            full = self._new_file(media, {"width": 1280, "height": 960})
            thumb = {
                "file_id": full["file_id"] + "s",
                "file_unique_id": full["file_unique_id"] + "s",
                "width": 90,
                "height": 68,
            }
            content["photo"] = [thumb, full]
        elif kind == "voice" and not self._plays_as_voice(media):
            content["document"] = self._new_file(
                media, {"file_name": "", "mime_type": "application/octet-stream"}
            )
        elif kind == "voice":
            content["voice"] = self._new_file(media, {"duration": 1, "mime_type": "audio/ogg"})
        elif kind == "video":
            content["video"] = self._new_file(
                media,
                {
                    "width": 640,
                    "height": 360,
                    "duration": 1,
                    "file_name": "",
                    "mime_type": "video/mp4",
                },
            )
        elif kind == "audio":
            content["audio"] = self._new_file(
                media, {"duration": 1, "file_name": "", "mime_type": "audio/mpeg"}
            )
        else:
            content["document"] = self._new_file(
                media, {"file_name": "", "mime_type": "application/octet-stream"}
            )
        if caption.text:
            content["caption"] = caption.text
            if caption.entities:
                content["caption_entities"] = caption.entities
        return content

    def _record(
        self, method: str, params: _Params, fields: dict[str, Any], *messages: dict[str, Any]
    ) -> None:
        chat_raw = params.get("chat_id").strip()
        chat_id: int | str = int(chat_raw) if _CHAT_INT.match(chat_raw) else chat_raw
        with self._state:
            self._sent.append(SentMessage(method, chat_id, fields))
            self.messages.extend(messages)

    @staticmethod
    def _keys(chats: Iterable[int | str]) -> set[str]:
        keys = set()
        for chat in chats:
            key = _chat_key(str(chat))
            if key is None:
                raise ValueError(f"not a Telegram chat id: {chat!r}")
            keys.add(key)
        return keys
