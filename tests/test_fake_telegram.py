"""Checks the fake Telegram Bot API itself, by talking to it with httpx directly."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests._media import PNG
from tests.fakes.base import FilePart, Reply
from tests.fakes.telegram import (
    MAX_PHOTO_UPLOAD,
    MAX_UPLOAD,
    FakeTelegram,
    parse_html,
    utf16_len,
)

TOKEN = "123:ABC"


@pytest.fixture(scope="module")
def shared_server() -> Iterator[FakeTelegram]:
    # one server for the module: stopping one costs base.py's 0.5 s poll interval
    with FakeTelegram(tokens={TOKEN}, unknown_chats={404}, blocked_chats={403}) as server:
        yield server  # type: ignore[misc]


@pytest.fixture
def tg(shared_server: FakeTelegram) -> FakeTelegram:
    shared_server.reset()
    return shared_server


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as c:
        yield c


def call(
    client: httpx.Client, server: FakeTelegram, method: str, token: str = TOKEN, **kwargs: Any
) -> tuple[int, dict[str, Any]]:
    response = client.post(f"{server.api_url}/bot{token}/{method}", **kwargs)
    return response.status_code, response.json()


def error(status: int, description: str) -> tuple[int, dict[str, Any]]:
    return status, {"ok": False, "error_code": status, "description": description}


# -- routing and auth ---------------------------------------------------------------------


def test_get_me_and_case_insensitive_methods(tg: FakeTelegram, client: httpx.Client) -> None:
    status, body = call(client, tg, "getMe")
    assert status == 200 and body["ok"] is True
    me = body["result"]
    assert me["id"] == 123 and me["is_bot"] is True and me["first_name"] and me["username"]
    assert call(client, tg, "GETME")[1]["result"] == me
    assert client.get(f"{tg.api_url}/bot{TOKEN}/getme").json()["result"] == me


def test_bad_tokens_get_401(tg: FakeTelegram, client: httpx.Client) -> None:
    assert call(client, tg, "getMe", token="999:WRONG") == error(401, "Unauthorized")
    assert call(client, tg, "sendMessage", token="999:WRONG", json={"chat_id": 1, "text": "x"}) == (
        error(401, "Unauthorized")
    )
    assert call(client, tg, "getMe", token="no-colon") == error(
        401, "Unauthorized: invalid token specified"
    )
    assert tg.sent_messages() == []


def test_unknown_method_and_path_get_404(tg: FakeTelegram, client: httpx.Client) -> None:
    assert call(client, tg, "sendTelepathy") == error(404, "Not Found")
    assert client.get(f"{tg.api_url}/nothing").status_code == 404


# -- sendMessage ----------------------------------------------------------------------------


def test_send_message_json_form_and_query(tg: FakeTelegram, client: httpx.Client) -> None:
    s1, m1 = call(client, tg, "sendMessage", json={"chat_id": 42, "text": "hello"})
    s2, m2 = call(client, tg, "sendMessage", data={"chat_id": "-100123", "text": "form"})
    s3, m3 = call(client, tg, "sendMessage", params={"chat_id": "@news_channel", "text": "query"})
    assert (s1, s2, s3) == (200, 200, 200)
    r1, r2, r3 = m1["result"], m2["result"], m3["result"]
    assert r1["text"] == "hello" and r1["chat"] == {
        "id": 42,
        "first_name": "User",
        "type": "private",
    }
    assert r2["chat"]["id"] == -100123 and r2["chat"]["type"] == "supergroup"
    assert r3["chat"]["type"] == "channel" and r3["chat"]["username"] == "news_channel"
    assert r1["message_id"] < r2["message_id"] < r3["message_id"]
    assert isinstance(r1["date"], int)
    sent = tg.sent_messages()
    assert [(s.method, s.chat_id) for s in sent] == [
        ("sendMessage", 42),
        ("sendMessage", -100123),
        ("sendMessage", "@news_channel"),
    ]
    assert sent[1].fields == {"chat_id": "-100123", "text": "form"}


def test_chat_errors(tg: FakeTelegram, client: httpx.Client) -> None:
    def send(chat: object) -> tuple[int, dict[str, Any]]:
        return call(client, tg, "sendMessage", json={"chat_id": chat, "text": "x"})

    assert send(404) == error(400, "Bad Request: chat not found")
    assert send("not-a-chat") == error(400, "Bad Request: chat not found")
    assert send("") == error(400, "Bad Request: chat_id is empty")
    assert send(403) == error(403, "Forbidden: bot was blocked by the user")
    assert tg.sent_messages() == []


def test_known_chats_whitelist(client: httpx.Client) -> None:
    with FakeTelegram(tokens={TOKEN}, chats={7, "@Chan_name"}) as tg:
        assert call(client, tg, "sendMessage", json={"chat_id": 7, "text": "x"})[0] == 200
        assert (
            call(client, tg, "sendMessage", json={"chat_id": "@chan_NAME", "text": "x"})[0] == 200
        )
        assert call(client, tg, "sendMessage", json={"chat_id": 8, "text": "x"}) == error(
            400, "Bad Request: chat not found"
        )


@pytest.mark.parametrize(
    ("html", "text", "entities"),
    [
        ("<b>bold</b> &amp; <i>it</i>", "bold & it", [("bold", 0, 4), ("italic", 7, 2)]),
        (
            "<strong>a<em>b<u>c</u></em></strong>",
            "abc",
            [("bold", 0, 3), ("italic", 1, 2), ("underline", 2, 1)],
        ),
        (
            "<s>x</s><strike>y</strike><del>z</del><ins>w</ins>",
            "xyzw",
            [
                ("strikethrough", 0, 1),
                ("strikethrough", 1, 1),
                ("strikethrough", 2, 1),
                ("underline", 3, 1),
            ],
        ),
        (
            '<span class="tg-spoiler">s</span><tg-spoiler>t</tg-spoiler>',
            "st",
            [("spoiler", 0, 1), ("spoiler", 1, 1)],
        ),
        ('<a href="https://example.com/?a=1&amp;b=2">link</a>', "link", [("text_link", 0, 4)]),
        ("<code>x &lt; y</code>", "x < y", [("code", 0, 5)]),
        ('<pre><code class="language-python">print(1)</code></pre>', "print(1)", [("pre", 0, 8)]),
        (
            "<blockquote>q</blockquote><blockquote expandable>e</blockquote>",
            "qe",
            [("blockquote", 0, 1), ("expandable_blockquote", 1, 1)],
        ),
        ("&#60;&#x3e;&quot;&lt", '<>"<', []),
        ("AT&T &laquo;", "AT&T &laquo;", []),  # Telegram leaves these literal, no error
        (
            "\U0001f600 <b>\U0001f600</b>",
            "\U0001f600 \U0001f600",
            [("bold", 3, 2)],
        ),  # UTF-16 offsets
    ],
)
def test_html_accepted(
    tg: FakeTelegram,
    client: httpx.Client,
    html: str,
    text: str,
    entities: list[tuple[str, int, int]],
) -> None:
    status, body = call(
        client, tg, "sendMessage", json={"chat_id": 1, "text": html, "parse_mode": "HTML"}
    )
    assert status == 200, body
    result = body["result"]
    assert result["text"] == text
    got = [(e["type"], e["offset"], e["length"]) for e in result.get("entities", [])]
    assert got == entities


def test_html_entity_details() -> None:
    link = parse_html('<a href="https://example.com/?a=1&amp;b=2">x</a>').entities[0]
    assert link["url"] == "https://example.com/?a=1&b=2"
    pre = parse_html('<pre><code class="language-python">x</code></pre>').entities[0]
    assert pre["language"] == "python"


@pytest.mark.parametrize(
    ("html", "description"),
    [
        ("<p>para</p>", 'Unsupported start tag "p" at byte offset 0'),
        ("a <br/> b", 'Unsupported start tag "br/" at byte offset 2'),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("x <b", "Unclosed start tag at byte offset 2"),
        ("<b>never closed", "Can't find end tag corresponding to start tag b"),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<span>s</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        (
            "<i aba>x</i>",
            'Expected equal sign in declaration of an attribute of the tag "i" at byte offset 0',
        ),
        ("é<u>x</u   ", "Unclosed end tag at byte offset 6"),  # offsets are in bytes
        (
            "&#xD83D;",
            "Text contains invalid Unicode characters after decoding HTML entities, check for unmatched surrogate code units",
        ),
    ],
)
def test_html_rejected(tg: FakeTelegram, client: httpx.Client, html: str, description: str) -> None:
    answer = call(
        client, tg, "sendMessage", json={"chat_id": 1, "text": html, "parse_mode": "HTML"}
    )
    assert answer == error(400, f"Bad Request: can't parse entities: {description}")
    assert tg.sent_messages() == []


def test_text_limits_after_parsing(tg: FakeTelegram, client: httpx.Client) -> None:
    def send(text: str, mode: str = "") -> tuple[int, dict[str, Any]]:
        return call(
            client, tg, "sendMessage", json={"chat_id": 1, "text": text, "parse_mode": mode}
        )

    assert send("") == error(400, "Bad Request: message text is empty")
    assert send(" \n ") == error(400, "Bad Request: message text is empty")
    assert send("<b></b>", "HTML") == error(400, "Bad Request: message text is empty")
    assert send("a" * 4096)[0] == 200
    assert send("a" * 4097) == error(400, "Bad Request: message is too long")
    assert send("<b>" + "&lt;" * 4096 + "</b>", "HTML")[0] == 200  # counted after parsing
    emoji = "\U0001f600"  # two UTF-16 code units
    assert utf16_len(emoji * 2048) == 4096
    assert send(emoji * 2048)[0] == 200
    assert send(emoji * 2049) == error(400, "Bad Request: message is too long")
    assert send("  padded\n")[1]["result"]["text"] == "padded"
    assert send("x", "Fancy") == error(400, "Bad Request: unsupported parse_mode")


# -- media ----------------------------------------------------------------------------------


def test_send_photo_upload_and_file_id_reuse(tg: FakeTelegram, client: httpx.Client) -> None:
    status, body = call(
        client,
        tg,
        "sendPhoto",
        data={"chat_id": "5", "caption": "<b>cap</b>", "parse_mode": "HTML"},
        files={"photo": ("a.png", PNG, "image/png")},
    )
    assert status == 200, body
    msg = body["result"]
    assert msg["caption"] == "cap" and msg["caption_entities"][0]["type"] == "bold"
    biggest = msg["photo"][-1]
    assert biggest["file_size"] == len(PNG)
    sent = tg.sent_messages()[0]
    part = sent.fields["photo"]
    assert isinstance(part, FilePart) and part.data == PNG and part.filename == "a.png"

    status, body = call(client, tg, "sendPhoto", json={"chat_id": 5, "photo": biggest["file_id"]})
    assert status == 200 and body["result"]["photo"][-1]["file_id"] == biggest["file_id"]


@pytest.mark.parametrize(
    ("method", "field", "filename"),
    [
        ("sendDocument", "document", "report.pdf"),
        ("sendVoice", "voice", "v.ogg"),
        ("sendVideo", "video", "clip.mp4"),
        ("sendAudio", "audio", "song.mp3"),
    ],
)
def test_other_uploads(
    tg: FakeTelegram, client: httpx.Client, method: str, field: str, filename: str
) -> None:
    data = b"OggS" + bytes(24) + b"OpusHead" if field == "voice" else b"data"
    status, body = call(client, tg, method, data={"chat_id": "1"}, files={field: (filename, data)})
    assert status == 200, body
    obj = body["result"][field]
    assert obj["file_size"] == len(data) and obj["file_id"] and obj["mime_type"]
    assert call(client, tg, method, json={"chat_id": 1}) == error(
        400, f"Bad Request: there is no {field} in the request"
    )


def test_media_by_url_and_bad_identifiers(tg: FakeTelegram, client: httpx.Client) -> None:
    def photo(value: str) -> tuple[int, dict[str, Any]]:
        return call(client, tg, "sendPhoto", json={"chat_id": 1, "photo": value})

    assert photo("https://example.com/cat.jpg")[0] == 200
    for intranet in (
        "http://127.0.0.1:8000/a.png",
        "http://localhost/a.png",
        "http://10.1.2.3/a.png",
        "http://192.168.0.5/a.png",
        "http://ci-runner/artifacts/a.png",
    ):
        assert photo(intranet) == error(400, "Bad Request: failed to get HTTP URL content"), (
            intranet
        )
    assert photo("./a.png") == error(400, "Bad Request: wrong file identifier/HTTP URL specified")
    assert photo("ftp://example.com/a.png") == error(
        400, "Bad Request: wrong file identifier/HTTP URL specified"
    )
    assert photo("AgACAgIAAxkBAAIBb2Zfake_file_id")[0] == 200  # plausible file_id


def test_url_fetcher_policy(client: httpx.Client) -> None:
    seen: list[str] = []

    def fetcher(url: str) -> str | None:
        seen.append(url)
        return None if "ok" in url else "Bad Request: wrong type of the web page content"

    with FakeTelegram(tokens={TOKEN}, url_fetcher=fetcher) as tg:
        assert (
            call(
                client,
                tg,
                "sendDocument",
                json={"chat_id": 1, "document": "http://127.0.0.1/ok.txt"},
            )[0]
            == 200
        )
        assert call(
            client, tg, "sendDocument", json={"chat_id": 1, "document": "https://x.org/a.html"}
        ) == error(400, "Bad Request: wrong type of the web page content")
    assert seen == ["http://127.0.0.1/ok.txt", "https://x.org/a.html"]


def test_caption_limits(tg: FakeTelegram, client: httpx.Client) -> None:
    def send(caption: str) -> tuple[int, dict[str, Any]]:
        return call(
            client,
            tg,
            "sendDocument",
            data={"chat_id": "1", "caption": caption, "parse_mode": "HTML"},
            files={"document": ("a.txt", b"x")},
        )

    assert send("<i>" + "c" * 1024 + "</i>")[0] == 200
    assert send("c" * 1025) == error(400, "Bad Request: message caption is too long")
    assert send("<x>") == error(
        400, 'Bad Request: can\'t parse entities: Unsupported start tag "x" at byte offset 0'
    )


def test_upload_size_limits(tg: FakeTelegram, client: httpx.Client, tmp_path: Path) -> None:
    big_photo = tmp_path / "big.png"
    with big_photo.open("wb") as f:
        f.truncate(MAX_PHOTO_UPLOAD + 1)
    with big_photo.open("rb") as f:
        answer = call(
            client, tg, "sendPhoto", data={"chat_id": "1"}, files={"photo": ("big.png", f)}
        )
    assert answer == error(
        400,
        f"Bad Request: file of size {MAX_PHOTO_UPLOAD + 1} bytes is too big for a photo; "
        f"the maximum size is {MAX_PHOTO_UPLOAD} bytes",
    )
    huge = tmp_path / "huge.bin"
    with huge.open("wb") as f:
        f.truncate(MAX_UPLOAD + 1)
    with huge.open("rb") as f:
        answer = call(
            client, tg, "sendDocument", data={"chat_id": "1"}, files={"document": ("huge.bin", f)}
        )
    assert answer == error(413, "Request Entity Too Large")
    assert call(
        client, tg, "sendDocument", data={"chat_id": "1"}, files={"document": ("e", b"")}
    ) == error(400, "Bad Request: file must be non-empty")

    with FakeTelegram(tokens={TOKEN}, local_server=True) as local, huge.open("rb") as f:
        status, body = call(
            client,
            local,
            "sendDocument",
            data={"chat_id": "1"},
            files={"document": ("huge.bin", f)},
        )
        assert status == 200, body
        assert body["result"]["document"]["file_size"] == MAX_UPLOAD + 1
        part = local.sent_messages()[0].fields["document"]
        assert part.size == MAX_UPLOAD + 1 and part.data is None  # hashed, not kept


# -- sendMediaGroup ---------------------------------------------------------------------------


def test_media_group_with_attach(tg: FakeTelegram, client: httpx.Client) -> None:
    media = [
        {"type": "photo", "media": "attach://p1", "caption": "<b>one</b>", "parse_mode": "HTML"},
        {"type": "video", "media": "attach://v1"},
        {"type": "photo", "media": "https://example.com/x.jpg"},
    ]
    status, body = call(
        client,
        tg,
        "sendMediaGroup",
        data={"chat_id": "-100777", "media": json.dumps(media)},
        files={"p1": ("a.png", PNG, "image/png"), "v1": ("b.mp4", b"video", "video/mp4")},
    )
    assert status == 200, body
    messages = body["result"]
    assert len(messages) == 3
    assert len({m["media_group_id"] for m in messages}) == 1
    assert messages[0]["caption"] == "one" and "photo" in messages[0]
    assert messages[1]["video"]["file_size"] == 5
    assert [m["message_id"] for m in messages] == sorted(m["message_id"] for m in messages)
    sent = tg.sent_messages()
    assert len(sent) == 1 and sent[0].method == "sendMediaGroup" and sent[0].chat_id == -100777
    assert sent[0].fields["media"] == media
    assert sent[0].fields["p1"].data == PNG


def test_media_group_json_body(tg: FakeTelegram, client: httpx.Client) -> None:
    media = [
        {"type": "audio", "media": "https://example.com/1.mp3"},
        {"type": "audio", "media": "https://example.com/2.mp3"},
    ]
    status, body = call(client, tg, "sendMediaGroup", json={"chat_id": 1, "media": media})
    assert status == 200 and [("audio" in m) for m in body["result"]] == [True, True]


@pytest.mark.parametrize(
    ("media", "description"),
    [
        (
            [{"type": "photo", "media": "attach://missing"}] * 2,
            "can't parse InputMedia: media not found",
        ),
        (
            [{"type": "document", "media": "attach://p"}, {"type": "photo", "media": "attach://p"}],
            "can't use the media of the specified type in the album",
        ),
        (
            [{"type": "audio", "media": "attach://p"}, {"type": "video", "media": "attach://p"}],
            "can't use the media of the specified type in the album",
        ),
        ([{"type": "photo", "media": "attach://p"}], "media group must include 2-10 items"),
        ([{"type": "photo", "media": "attach://p"}] * 11, "too many messages to send as an album"),
        (
            [{"type": "animation", "media": "attach://p"}] * 2,
            "can't parse InputMedia: type \"animation\" can't be used in sendMediaGroup",
        ),
        (
            [{"type": "sticker", "media": "attach://p"}] * 2,
            'can\'t parse InputMedia: type "sticker" is unsupported',
        ),
        (
            [{"type": "photo", "media": "attach://p", "caption": "<q>", "parse_mode": "HTML"}] * 2,
            "can't parse InputMedia: Can't parse entities: Unsupported start tag \"q\" at byte offset 0",
        ),
        ({"type": "photo"}, "expected an Array of InputMedia"),
    ],
)
def test_media_group_rejected(
    tg: FakeTelegram, client: httpx.Client, media: object, description: str
) -> None:
    answer = call(
        client,
        tg,
        "sendMediaGroup",
        data={"chat_id": "1", "media": json.dumps(media)},
        files={"p": ("a.png", PNG, "image/png")},
    )
    assert answer == error(400, f"Bad Request: {description}")


def test_media_group_bad_json(tg: FakeTelegram, client: httpx.Client) -> None:
    assert call(client, tg, "sendMediaGroup", data={"chat_id": "1", "media": "[{"}) == error(
        400, "Bad Request: can't parse media JSON object"
    )
    assert call(client, tg, "sendMediaGroup", data={"chat_id": "1"}) == error(
        400, 'Bad Request: parameter "media" is required'
    )


# -- flood limits and scripted failures -----------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def send_text(client: httpx.Client, tg: FakeTelegram, chat_id: int) -> tuple[int, dict[str, Any]]:
    return call(client, tg, "sendMessage", json={"chat_id": chat_id, "text": "x"})


def test_bot_rate_limit(client: httpx.Client) -> None:
    clock = FakeClock()
    with FakeTelegram(tokens={TOKEN}, enforce_rate=True, clock=clock) as tg:
        answers = [send_text(client, tg, i + 1) for i in range(31)]
        assert [status for status, _ in answers] == [200] * 30 + [429]
        assert answers[30][1] == {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 1",
            "parameters": {"retry_after": 1},
        }
        assert tg.too_many == 1 and len(tg.sent_messages()) == 30
        clock.now += 0.6
        status, body = send_text(client, tg, 1)
        assert status == 429 and body["parameters"] == {"retry_after": 1}  # ceil(0.4)
        clock.now += 0.41  # the window slid past the first 30
        assert send_text(client, tg, 1)[0] == 200
        assert tg.too_many == 2


def test_chat_and_group_rate_flags(client: httpx.Client) -> None:
    clock = FakeClock()
    with FakeTelegram(tokens={TOKEN}, clock=clock) as tg:  # nothing enforced by default
        assert {send_text(client, tg, 1)[0] for _ in range(40)} == {200}
        assert tg.too_many == 0
    with FakeTelegram(tokens={TOKEN}, enforce_chat_rate=True, clock=clock) as tg:
        assert send_text(client, tg, 1)[0] == 200
        assert send_text(client, tg, 2)[0] == 200  # another chat
        assert send_text(client, tg, 1)[0] == 429
        clock.now += 1.0
        assert send_text(client, tg, 1)[0] == 200
        assert tg.too_many == 1
    with FakeTelegram(tokens={TOKEN}, enforce_group_rate=True, retry_after=7, clock=clock) as tg:
        codes = [send_text(client, tg, -5)[0] for _ in range(21)]
        assert codes == [200] * 20 + [429]
        assert send_text(client, tg, -5)[1]["parameters"] == {"retry_after": 7}
        assert send_text(client, tg, 5)[0] == 200  # users are not groups
        clock.now += 60.0
        assert send_text(client, tg, -5)[0] == 200
        assert tg.too_many == 2


def test_scripted_failures(tg: FakeTelegram, client: httpx.Client) -> None:
    tg.queue(
        r"/sendMessage$", FakeTelegram.error(429, "Too Many Requests: retry after 3", retry_after=3)
    )
    tg.queue(r"/sendMessage$", FakeTelegram.error(500, "Internal Server Error"))
    tg.queue(
        r"/sendMessage$", Reply(200, json={"ok": True, "result": {"message_id": 99}}, delay=0.3)
    )
    args = {"json": {"chat_id": 1, "text": "x"}}
    status, body = call(client, tg, "sendMessage", **args)
    assert status == 429 and body["parameters"]["retry_after"] == 3
    assert call(client, tg, "sendMessage", **args)[0] == 500
    started = time.monotonic()
    assert call(client, tg, "sendMessage", **args)[1]["result"]["message_id"] == 99
    assert time.monotonic() - started >= 0.3
    assert call(client, tg, "sendMessage", **args)[0] == 200  # the queue is used up
    assert len(tg.calls(r"/sendMessage$")) == 4 and len(tg.sent_messages()) == 1
    assert tg.too_many == 0  # scripted 429s are not counted


def test_reset_clears_state(tg: FakeTelegram, client: httpx.Client) -> None:
    call(client, tg, "sendMessage", json={"chat_id": 1, "text": "x"})
    tg.reset()
    assert tg.sent_messages() == [] and tg.messages == [] and tg.requests == []


def test_a_voice_that_is_not_opus_mp3_or_m4a_arrives_as_a_document(
    tg: FakeTelegram, client: httpx.Client
) -> None:
    vorbis = b"OggS" + bytes(24) + b"\x01vorbis" + bytes(20)
    status, body = call(
        client, tg, "sendVoice", data={"chat_id": "1"}, files={"voice": ("v.ogg", vorbis)}
    )
    assert status == 200 and "voice" not in body["result"] and "document" in body["result"]


@pytest.mark.parametrize(
    ("body", "ctype", "arrives"),
    [
        (b"OggS" + bytes(24) + b"OpusHead" + bytes(20), "audio/ogg", "voice"),
        (b"OggS" + bytes(24) + b"\x01vorbis" + bytes(20), "audio/ogg", "document"),
        (b"OggS" + bytes(24) + b"OpusHead" + bytes(20), "application/octet-stream", "document"),
        (b"OggS" + bytes(24) + b"OpusHead" + bytes(1 << 20), "audio/ogg", "document"),  # > 1 MB
    ],
)
def test_a_voice_by_url_is_a_voice_only_when_it_is_small_ogg_opus(
    tg: FakeTelegram, client: httpx.Client, body: bytes, ctype: str, arrives: str
) -> None:
    from tests.fakes.base import FakeServer, Recorded, Reply

    class Host(FakeServer):
        def handle(self, req: Recorded) -> Reply:
            return Reply(200, body=body, headers={"Content-Type": ctype})

    previous = tg.url_fetcher
    tg.url_fetcher = lambda url: None
    try:
        with Host() as host:
            status, reply = call(
                client, tg, "sendVoice", json={"chat_id": 1, "voice": f"{host.url}/v.ogg"}
            )
    finally:
        tg.url_fetcher = previous
    assert status == 200, reply
    other = ({"voice", "document"} - {arrives}).pop()
    assert arrives in reply["result"] and other not in reply["result"]
