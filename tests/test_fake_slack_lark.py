"""The Slack and Lark fakes accept what the real APIs accept and refuse the rest, answering
with the platforms' own reply and error shapes. Driven with httpx directly."""

from __future__ import annotations

import hashlib
import json
import time
import urllib.request
from collections.abc import Iterator

import httpx
import pytest

from tests._media import PNG
from tests.fakes.base import Reply
from tests.fakes.lark import FakeLark
from tests.fakes.slack import FakeSlack

TOKEN = "xoxb-test-token"


# -- Slack ---------------------------------------------------------------------------------
@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(tokens=[TOKEN], unknown_channels=["C0GONE"], unknown_users=["U0NOBODY"]) as s:
        yield s  # type: ignore[misc]


@pytest.fixture
def sc(slack: FakeSlack) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=slack.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    ) as c:
        yield c


def slack_json(c: httpx.Client, method: str, payload: dict) -> httpx.Response:
    return c.post(
        f"/{method}",
        content=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )


def test_slack_without_bearer_token_is_not_authed(slack: FakeSlack) -> None:
    r = httpx.post(f"{slack.url}/chat.postMessage", json={"channel": "C1", "text": "hi"})
    assert r.status_code == 200
    assert r.json() == {"ok": False, "error": "not_authed"}
    assert slack.posted_messages() == []


def test_slack_wrong_token_is_invalid_auth(slack: FakeSlack) -> None:
    r = httpx.post(
        f"{slack.url}/auth.test", headers={"Authorization": "Bearer xoxb-wrong"}, data={}
    )
    assert r.json() == {"ok": False, "error": "invalid_auth"}


def test_slack_token_in_body_is_refused_unless_allowed(slack: FakeSlack) -> None:
    r = httpx.post(f"{slack.url}/auth.test", data={"token": TOKEN})
    assert r.json()["error"] == "not_authed"
    slack.allow_token_param = True
    assert httpx.post(f"{slack.url}/auth.test", data={"token": TOKEN}).json()["ok"] is True


def test_slack_auth_test_reports_the_bot(sc: httpx.Client) -> None:
    body = sc.post("/auth.test").json()
    assert body["ok"] is True
    assert {"url", "team", "user", "team_id", "user_id", "bot_id"} <= body.keys()


def test_slack_post_message_json_and_form_with_unique_ts(
    slack: FakeSlack, sc: httpx.Client
) -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Title"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*body*"}},
    ]
    r1 = slack_json(sc, "chat.postMessage", {"channel": "C0123", "text": "hello", "blocks": blocks})
    r2 = sc.post(
        "/chat.postMessage",
        data={"channel": "G0456", "text": "fallback", "blocks": json.dumps(blocks)},
    )
    b1, b2 = r1.json(), r2.json()
    assert b1["ok"] and b2["ok"]
    assert b1["channel"] == "C0123" and b2["channel"] == "G0456"
    assert b1["ts"] != b2["ts"]
    assert b1["message"]["text"] == "hello" and b1["message"]["ts"] == b1["ts"]
    posted = slack.posted_messages()
    assert [m.text for m in posted] == ["hello", "fallback"]
    assert posted[1].blocks == blocks  # a JSON string in a form body is parsed
    assert "warning" not in b1


def test_slack_json_without_charset_is_answered_with_a_warning(sc: httpx.Client) -> None:
    body = sc.post("/chat.postMessage", json={"channel": "C0123", "text": "x"}).json()
    assert body["ok"] is True
    assert body["warning"] == "missing_charset"


def test_slack_post_message_needs_text_or_blocks(sc: httpx.Client) -> None:
    assert slack_json(sc, "chat.postMessage", {"channel": "C0123"}).json() == {
        "ok": False,
        "error": "no_text",
    }
    assert (
        slack_json(sc, "chat.postMessage", {"channel": "C0123", "text": ""}).json()["error"]
        == "no_text"
    )


@pytest.mark.parametrize("channel", ["C0GONE", "", "#general", "not-an-id", None])
def test_slack_unknown_or_malformed_channel_is_channel_not_found(
    sc: httpx.Client, channel: str | None
) -> None:
    payload = {"text": "x"} if channel is None else {"channel": channel, "text": "x"}
    assert slack_json(sc, "chat.postMessage", payload).json() == {
        "ok": False,
        "error": "channel_not_found",
    }


def test_slack_user_id_channel_lands_in_the_dm_unless_refused(
    slack: FakeSlack, sc: httpx.Client
) -> None:
    body = slack_json(sc, "chat.postMessage", {"channel": "U0ALICE", "text": "hi"}).json()
    assert body["ok"] is True
    assert body["channel"] == slack.dm_channel("U0ALICE") and body["channel"].startswith("D")
    assert (
        slack_json(sc, "chat.postMessage", {"channel": "U0NOBODY", "text": "hi"}).json()["error"]
        == "channel_not_found"
    )
    slack.reject_user_channel = True
    assert (
        slack_json(sc, "chat.postMessage", {"channel": "U0ALICE", "text": "hi"}).json()["error"]
        == "channel_not_found"
    )


def test_slack_conversations_open_gives_a_stable_dm(slack: FakeSlack, sc: httpx.Client) -> None:
    a = sc.post("/conversations.open", data={"users": "U0ALICE"}).json()
    b = slack_json(sc, "conversations.open", {"users": "U0ALICE"}).json()
    assert a == {"ok": True, "channel": {"id": a["channel"]["id"]}}
    assert a["channel"]["id"] == b["channel"]["id"] == slack.dm_channel("U0ALICE")
    assert a["channel"]["id"].startswith("D")
    assert sc.post("/conversations.open", data={}).json()["error"] == "users_list_not_supplied"
    assert (
        sc.post("/conversations.open", data={"users": "U0NOBODY"}).json()["error"]
        == "user_not_found"
    )
    nine = ",".join(f"U0{i}AA" for i in range(9))
    assert sc.post("/conversations.open", data={"users": nine}).json()["error"] == "too_many_users"


@pytest.mark.parametrize(
    "blocks",
    [
        [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}],
        [{"type": "header", "text": {"type": "mrkdwn", "text": "*h*"}}],
        [{"type": "section", "text": {"type": "mrkdwn", "text": "s" * 3001}}],
        [{"type": "section", "text": {"type": "mrkdwn", "text": "s"}}] * 51,
        [{"type": "no_such_block"}],
    ],
    ids=["header-151", "header-mrkdwn", "section-3001", "51-blocks", "unknown-type"],
)
def test_slack_invalid_blocks_are_refused(slack: FakeSlack, sc: httpx.Client, blocks: list) -> None:
    body = slack_json(sc, "chat.postMessage", {"channel": "C0123", "text": "t", "blocks": blocks})
    assert body.json()["ok"] is False
    assert body.json()["error"] == "invalid_blocks"
    assert body.json()["errors"]
    assert slack.posted_messages() == []


def test_slack_block_limits_are_inclusive(sc: httpx.Client) -> None:
    blocks = [{"type": "header", "text": {"type": "plain_text", "text": "h" * 150}}] + [
        {"type": "section", "text": {"type": "mrkdwn", "text": "s" * 3000}}
    ] * 49
    assert slack_json(
        sc, "chat.postMessage", {"channel": "C0123", "text": "t", "blocks": blocks}
    ).json()["ok"]


def test_slack_blocks_that_are_not_json_are_invalid_blocks_format(sc: httpx.Client) -> None:
    r = sc.post("/chat.postMessage", data={"channel": "C0123", "text": "t", "blocks": "[{"})
    assert r.json()["error"] == "invalid_blocks_format"


def test_slack_overlong_text_is_truncated_or_refused(slack: FakeSlack, sc: httpx.Client) -> None:
    text = "x" * 40_001
    assert slack_json(sc, "chat.postMessage", {"channel": "C0123", "text": text}).json()["ok"]
    (msg,) = slack.posted_messages()
    assert msg.truncated and len(msg.text or "") == 40_000
    slack.msg_too_long = True
    assert (
        slack_json(sc, "chat.postMessage", {"channel": "C0123", "text": text}).json()["error"]
        == "msg_too_long"
    )


def test_slack_queued_429_carries_retry_after(slack: FakeSlack, sc: httpx.Client) -> None:
    slack.queue(r"chat\.postMessage", FakeSlack.ratelimited(1))
    r = slack_json(sc, "chat.postMessage", {"channel": "C0123", "text": "x"})
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "1"
    assert r.json() == {"ok": False, "error": "ratelimited"}
    assert slack_json(sc, "chat.postMessage", {"channel": "C0123", "text": "x"}).json()["ok"]


def test_slack_channel_rate_enforcement(slack: FakeSlack, sc: httpx.Client) -> None:
    slack.enforce_channel_rate = True
    slack.channel_interval = 0.3
    assert slack_json(sc, "chat.postMessage", {"channel": "C0123", "text": "1"}).json()["ok"]
    second = slack_json(sc, "chat.postMessage", {"channel": "C0123", "text": "2"})
    assert second.status_code == 429 and second.headers["Retry-After"] == "1"
    assert slack_json(sc, "chat.postMessage", {"channel": "C0999", "text": "other"}).json()["ok"]
    time.sleep(0.35)
    assert slack_json(sc, "chat.postMessage", {"channel": "C0123", "text": "3"}).json()["ok"]


def test_slack_files_upload_is_deprecated(sc: httpx.Client) -> None:
    r = sc.post("/files.upload", files={"file": ("a.txt", b"abc")}, data={"channels": "C0123"})
    assert r.json() == {"ok": False, "error": "method_deprecated"}


def test_slack_get_upload_url_argument_checks(sc: httpx.Client) -> None:
    assert (
        sc.post("/files.getUploadURLExternal", data={"filename": "a", "length": "0"}).json()[
            "error"
        ]
        == "missing_argument"
    )
    assert (
        sc.post("/files.getUploadURLExternal", data={"length": "3"}).json()["error"]
        == "invalid_arguments"
    )
    assert (
        sc.post("/files.getUploadURLExternal", data={"filename": "a", "length": "x"}).json()[
            "error"
        ]
        == "invalid_arguments"
    )


def _announce(sc: httpx.Client, name: str, length: int) -> dict:
    body = sc.post("/files.getUploadURLExternal", data={"filename": name, "length": str(length)})
    data = body.json()
    assert data["ok"] is True and data["file_id"].startswith("F")
    return data


def test_slack_upload_as_slack_sdk_does_raw_bytes_via_urllib(
    slack: FakeSlack, sc: httpx.Client
) -> None:
    payload = bytes(range(256)) * 40  # not valid UTF-8, sent with urllib's form content type
    ticket = _announce(sc, "blob.bin", len(payload))
    assert ticket["upload_url"] == f"{slack.url}/upload/{ticket['file_id']}"
    req = urllib.request.Request(method="POST", url=ticket["upload_url"], data=payload, headers={})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200
        assert resp.read().decode() == f"OK - {len(payload)}"
    done = slack_json(
        sc,
        "files.completeUploadExternal",
        {"files": [{"id": ticket["file_id"], "title": "Blob"}], "channel_id": "C0123",
         "initial_comment": "here"},
    ).json()  # fmt: skip
    assert done["ok"] is True
    assert done["files"][0]["id"] == ticket["file_id"]
    assert done["files"][0]["title"] == "Blob" and done["files"][0]["name"] == "blob.bin"
    f = slack.uploaded_files()[ticket["file_id"]]
    assert f.body_format == "raw" and f.upload_content_type.startswith(
        "application/x-www-form-urlencoded"
    )
    assert f.sha256 == hashlib.sha256(payload).hexdigest() and f.size == len(payload)
    assert (f.completed, f.channel, f.initial_comment) == (True, "C0123", "here")
    assert slack.shares[0]["file_ids"] == [ticket["file_id"]]


def test_slack_upload_multipart_and_form_complete(slack: FakeSlack, sc: httpx.Client) -> None:
    a, b = _announce(sc, "a.txt", 3), _announce(sc, "b.png", len(PNG))
    assert httpx.post(a["upload_url"], files={"file": ("a.txt", b"abc")}).status_code == 200
    assert httpx.post(b["upload_url"], content=PNG).status_code == 200
    files = json.dumps([{"id": a["file_id"]}, {"id": b["file_id"], "title": "pic"}])
    done = sc.post(
        "/files.completeUploadExternal", data={"files": files, "channel_id": "U0ALICE"}
    ).json()
    assert done["ok"] is True
    assert [f["title"] for f in done["files"]] == ["a.txt", "pic"]
    up = slack.uploaded_files()
    assert up[a["file_id"]].body_format == "multipart:file"
    assert up[a["file_id"]].channel == slack.dm_channel("U0ALICE")


def test_slack_upload_length_mismatch_is_http_400(slack: FakeSlack, sc: httpx.Client) -> None:
    t = _announce(sc, "a.txt", 10)
    r = httpx.post(t["upload_url"], content=b"only nine")
    assert r.status_code == 400
    assert not slack.uploaded_files()[t["file_id"]].uploaded
    done = slack_json(sc, "files.completeUploadExternal", {"files": [{"id": t["file_id"]}]})
    assert done.json() == {"ok": False, "error": "file_not_found"}


def test_slack_upload_to_unknown_ticket_is_404(slack: FakeSlack) -> None:
    assert httpx.post(f"{slack.url}/upload/FNOPE", content=b"x").status_code == 404


def test_slack_complete_refuses_unknown_and_repeated_ids(sc: httpx.Client) -> None:
    unknown = slack_json(sc, "files.completeUploadExternal", {"files": [{"id": "F0NOPE"}]})
    assert unknown.json() == {"ok": False, "error": "file_not_found"}
    t = _announce(sc, "a.txt", 1)
    httpx.post(t["upload_url"], content=b"a")
    payload = {"files": [{"id": t["file_id"]}], "channel_id": "C0123"}
    assert slack_json(sc, "files.completeUploadExternal", payload).json()["ok"] is True
    again = slack_json(sc, "files.completeUploadExternal", payload).json()
    assert again == {"ok": False, "error": "file_not_found"}
    bad = sc.post("/files.completeUploadExternal", data={"files": "not json"}).json()
    assert bad["error"] == "invalid_arguments"
    t2 = _announce(sc, "b.txt", 1)
    httpx.post(t2["upload_url"], content=b"b")
    gone = {"files": [{"id": t2["file_id"]}], "channel_id": "C0GONE"}
    assert (
        slack_json(sc, "files.completeUploadExternal", gone).json()["error"] == "channel_not_found"
    )


# -- Lark ----------------------------------------------------------------------------------
APP_ID, APP_SECRET = "cli_test_app", "test-app-secret"


@pytest.fixture
def lark() -> Iterator[FakeLark]:
    with FakeLark(APP_ID, APP_SECRET, unknown_receive_ids=["oc_gone", "ou_gone"]) as s:
        yield s  # type: ignore[misc]


def lark_token(lark: FakeLark) -> str:
    r = httpx.post(
        f"{lark.url}/open-apis/auth/v3/tenant_access_token/internal",
        json={"app_id": APP_ID, "app_secret": APP_SECRET},
    )
    body = r.json()
    assert r.status_code == 200 and body["code"] == 0, body
    return body["tenant_access_token"]


@pytest.fixture
def lc(lark: FakeLark) -> Iterator[httpx.Client]:
    token = lark_token(lark)
    with httpx.Client(
        base_url=lark.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as c:
        yield c


def send(
    c: httpx.Client, rid_type: str | None, receive_id: str, msg_type: str, content
) -> httpx.Response:
    params = {"receive_id_type": rid_type} if rid_type else {}
    if not isinstance(content, str):
        content = json.dumps(content)
    return c.post(
        "/open-apis/im/v1/messages",
        params=params,
        json={"receive_id": receive_id, "msg_type": msg_type, "content": content},
    )


def upload_image(
    c: httpx.Client, data: bytes = PNG, image_type: str | None = "message"
) -> httpx.Response:
    form = {"image_type": image_type} if image_type else {}
    return c.post(
        "/open-apis/im/v1/images", data=form, files={"image": ("a.png", data, "image/png")}
    )


def upload_file(
    c: httpx.Client, data: bytes, file_type: str = "stream", name: str = "a.bin"
) -> httpx.Response:
    return c.post(
        "/open-apis/im/v1/files",
        data={"file_type": file_type, "file_name": name},
        files={"file": (name, data)},
    )


def test_lark_token_is_issued_reused_and_counted(lark: FakeLark) -> None:
    r = httpx.post(
        f"{lark.url}/open-apis/auth/v3/tenant_access_token/internal",
        json={"app_id": APP_ID, "app_secret": APP_SECRET},
    ).json()
    assert r["code"] == 0 and r["msg"] == "ok" and r["expire"] == 7200
    assert r["tenant_access_token"].startswith("t-")
    assert lark_token(lark) == r["tenant_access_token"]  # >= 30 min left: the same token
    assert lark.token_requests == 2 and len(lark.tokens_issued) == 1


@pytest.mark.parametrize(
    "creds, expected",
    [
        ({"app_id": APP_ID, "app_secret": "wrong"}, {"code": 10014, "msg": "app secret invalid"}),
        ({"app_id": "cli_other", "app_secret": APP_SECRET},
         {"code": 10003, "data": {}, "msg": "invalid param"}),
        ({"app_id": APP_ID}, {"code": 10003, "data": {}, "msg": "invalid param"}),
    ],
)  # fmt: skip
def test_lark_bad_credentials_answer_http_200_with_a_code(lark: FakeLark, creds, expected) -> None:
    r = httpx.post(f"{lark.url}/open-apis/auth/v3/tenant_access_token/internal", json=creds)
    assert r.status_code == 200
    assert r.json() == expected
    assert lark.token_requests == 1 and lark.tokens_issued == []


def test_lark_missing_bearer_is_99991661(lark: FakeLark) -> None:
    url = f"{lark.url}/open-apis/im/v1/messages?receive_id_type=chat_id"
    body = {"receive_id": "oc_1", "msg_type": "text", "content": '{"text":"x"}'}
    r = httpx.post(url, json=body)
    assert r.status_code == 400 and r.json()["code"] == 99991661
    assert r.json()["msg"].startswith("Missing access token for authorization")
    token = lark_token(lark)
    no_prefix = httpx.post(url, json=body, headers={"Authorization": token})
    assert no_prefix.json()["code"] == 99991661
    assert lark.sent_messages() == []


def test_lark_unknown_and_expired_tokens_are_99991663(lark: FakeLark, lc: httpx.Client) -> None:
    r = httpx.post(
        f"{lark.url}/open-apis/im/v1/images",
        headers={"Authorization": "Bearer t-forged"},
        data={"image_type": "message"},
        files={"image": ("a.png", PNG)},
    )
    assert r.status_code == 400 and r.json()["code"] == 99991663
    assert r.json()["msg"].startswith("Invalid access token for authorization")
    assert send(lc, "chat_id", "oc_1", "text", {"text": "ok"}).json()["code"] == 0
    lark.expire_all_tokens()
    stale = send(lc, "chat_id", "oc_1", "text", {"text": "no"})
    assert stale.status_code == 400 and stale.json()["code"] == 99991663
    fresh = lark_token(lark)
    assert fresh not in lc.headers["Authorization"]
    still_old = send(lc, "chat_id", "oc_1", "text", {"text": "yes"})
    assert still_old.json()["code"] == 99991663  # the client still holds the old token
    lc.headers["Authorization"] = f"Bearer {fresh}"
    assert send(lc, "chat_id", "oc_1", "text", {"text": "yes"}).json()["code"] == 0
    assert len(lark.sent_messages()) == 2


def test_lark_tokens_expire_in_real_time() -> None:
    with FakeLark(APP_ID, APP_SECRET, expire=1) as lark:
        first = lark_token(lark)
        second = lark_token(lark)  # < 30 min left: a new one, the old one still valid
        assert first != second and set(lark.valid_tokens()) == {first, second}
        time.sleep(1.1)
        assert lark.valid_tokens() == []
        r = httpx.post(
            f"{lark.url}/open-apis/im/v1/messages?receive_id_type=chat_id",
            headers={"Authorization": f"Bearer {second}"},
            json={"receive_id": "oc_1", "msg_type": "text", "content": '{"text":"x"}'},
        )
        assert r.json()["code"] == 99991663


def test_lark_send_text_reply_shape(lark: FakeLark, lc: httpx.Client) -> None:
    r = send(lc, "chat_id", "oc_abc", "text", {"text": "hello"})
    body = r.json()
    assert r.status_code == 200 and body["code"] == 0 and body["msg"] == "success"
    assert body["data"]["message_id"].startswith("om_")
    assert body["data"]["chat_id"] == "oc_abc" and body["data"]["msg_type"] == "text"
    assert lark.sent_messages() == [("chat_id", "oc_abc", "text", {"text": "hello"})]
    other = send(lc, "open_id", "ou_x", "text", {"text": "second"}).json()
    assert other["data"]["message_id"] != body["data"]["message_id"]


def test_lark_content_as_object_is_bad_request(lark: FakeLark, lc: httpx.Client) -> None:
    r = lc.post(
        "/open-apis/im/v1/messages",
        params={"receive_id_type": "chat_id"},
        json={"receive_id": "oc_1", "msg_type": "text", "content": {"text": "hi"}},
    )
    assert r.status_code == 400 and r.json()["code"] == 9499
    assert lark.sent_messages() == []


@pytest.mark.parametrize("rid_type", [None, "thread_id"])
def test_lark_receive_id_type_is_required(lc: httpx.Client, rid_type: str | None) -> None:
    body = send(lc, rid_type, "oc_1", "text", {"text": "x"}).json()
    assert body["code"] == 99992402 and body["msg"] == "field validation failed"
    assert body["error"]["field_violations"][0]["field"] == "receive_id_type"


@pytest.mark.parametrize(
    "msg_type, content",
    [
        ("text", {"txt": "typo"}),
        ("text", "not json at all"),
        ("post", {"post": {"zh_cn": {"title": "t", "content": [[{"tag": "text", "text": "x"}]]}}}),
        ("post", {"zh_cn": {"title": "t", "content": [[{"tag": "bold", "text": "x"}]]}}),
        ("post", {"zh_cn": {"title": "t", "content": [{"tag": "text", "text": "x"}]}}),
        ("post", {"zh_cn": {"title": "t", "content": [[{"tag": "a", "text": "x"}]]}}),
        ("image", {"image_key": "img_v3_unknown"}),
        ("file", {"file_key": "file_v3_unknown"}),
        ("no_such_type", {"text": "x"}),
    ],
    ids=["text-typo", "not-json", "webhook-wrapper", "bad-tag", "paragraph-not-list",
         "a-without-href", "unknown-image", "unknown-file", "unknown-msg-type"],
)  # fmt: skip
def test_lark_wrong_content_is_230001(lark: FakeLark, lc: httpx.Client, msg_type, content) -> None:
    if not isinstance(content, str):
        content = json.dumps(content)
    r = send(lc, "chat_id", "oc_1", msg_type, content)
    assert r.status_code == 400 and r.json()["code"] == 230001, r.json()
    assert r.json()["msg"].startswith("Your request contains an invalid request parameter")
    assert lark.sent_messages() == []


def test_lark_post_with_every_tag_and_uploaded_media(lark: FakeLark, lc: httpx.Client) -> None:
    image_key = upload_image(lc).json()["data"]["image_key"]
    video_key = upload_file(lc, b"\x00" * 100, "mp4", "v.mp4").json()["data"]["file_key"]
    post = {
        "zh_cn": {
            "title": "Report",
            "content": [
                [{"tag": "text", "text": "hi "}, {"tag": "a", "text": "link", "href": "https://e.x"},
                 {"tag": "at", "user_id": "all"}, {"tag": "emotion", "emoji_type": "SMILE"}],
                [{"tag": "img", "image_key": image_key}],
                [{"tag": "media", "file_key": video_key, "image_key": image_key}],
                [{"tag": "hr"}],
                [{"tag": "code_block", "language": "PYTHON", "text": "print(1)"}],
                [{"tag": "md", "text": "**bold**"}],
            ],
        },
        "en_us": {"title": "Report", "content": [[{"tag": "text", "text": "hi"}]]},
    }  # fmt: skip
    r = send(lc, "chat_id", "oc_1", "post", post)
    assert r.json()["code"] == 0, r.json()
    assert lark.sent_messages()[0].content == post


def test_lark_media_messages_need_matching_uploads(lark: FakeLark, lc: httpx.Client) -> None:
    image_key = upload_image(lc).json()["data"]["image_key"]
    opus = upload_file(lc, b"OggS" + b"\x00" * 20, "opus", "v.opus").json()["data"]["file_key"]
    mp4 = upload_file(lc, b"\x00" * 20, "mp4", "v.mp4").json()["data"]["file_key"]
    pdf = upload_file(lc, b"%PDF-1.4", "pdf", "a.pdf").json()["data"]["file_key"]
    assert send(lc, "chat_id", "oc_1", "image", {"image_key": image_key}).json()["code"] == 0
    assert send(lc, "chat_id", "oc_1", "audio", {"file_key": opus}).json()["code"] == 0
    assert (
        send(lc, "chat_id", "oc_1", "media", {"file_key": mp4, "image_key": image_key}).json()[
            "code"
        ]
        == 0
    )
    assert send(lc, "chat_id", "oc_1", "file", {"file_key": pdf}).json()["code"] == 0
    mismatch = send(lc, "chat_id", "oc_1", "audio", {"file_key": mp4}).json()
    assert mismatch["code"] == 230055
    assert [m.msg_type for m in lark.sent_messages()] == ["image", "audio", "media", "file"]
    assert lark.uploads[opus].file_type == "opus" and lark.uploads[opus].file_name == "v.opus"


def test_lark_size_limits_are_230025(lc: httpx.Client) -> None:
    assert send(lc, "chat_id", "oc_1", "text", {"text": "x" * 150_000}).json()["code"] == 0
    assert send(lc, "chat_id", "oc_1", "text", {"text": "x" * 154_000}).json()["code"] == 230025
    big_post = {"zh_cn": {"title": "t", "content": [[{"tag": "text", "text": "x" * 31_000}]]}}
    r = send(lc, "chat_id", "oc_1", "post", big_post).json()
    assert (
        r["code"] == 230025 and r["msg"] == "The length of the message content reaches its limit."
    )


def test_lark_unknown_receivers(lc: httpx.Client) -> None:
    assert send(lc, "chat_id", "oc_gone", "text", {"text": "x"}).json()["code"] == 230002
    assert send(lc, "open_id", "ou_gone", "text", {"text": "x"}).json()["code"] == 230013
    assert send(lc, "chat_id", "ou_not_a_chat", "text", {"text": "x"}).json()["code"] == 230001


def test_lark_image_upload_checks(lark: FakeLark, lc: httpx.Client) -> None:
    ok = upload_image(lc).json()
    assert ok["code"] == 0 and ok["data"]["image_key"].startswith("img_v3_")
    up = lark.uploads[ok["data"]["image_key"]]
    assert up.size == len(PNG) and up.sha256 == hashlib.sha256(PNG).hexdigest()
    assert upload_image(lc, image_type=None).json()["code"] == 234001
    assert upload_image(lc, b"").json()["code"] == 234010
    assert upload_image(lc, b"plain text, not an image").json()["code"] == 234011
    too_big = upload_image(lc, PNG + b"\x00" * (10 * 1024 * 1024))
    assert too_big.status_code == 400 and too_big.json()["code"] == 234006
    not_multipart = lc.post("/open-apis/im/v1/images", json={"image_type": "message"})
    assert not_multipart.json()["code"] == 234001


def test_lark_file_upload_checks(lark: FakeLark, lc: httpx.Client) -> None:
    ok = lc.post(
        "/open-apis/im/v1/files",
        data={"file_type": "opus", "file_name": "v.opus", "duration": "3000"},
        files={"file": ("v.opus", b"OggS....")},
    ).json()
    assert ok["code"] == 0 and ok["data"]["file_key"].startswith("file_v3_")
    assert lark.uploads[ok["data"]["file_key"]].duration == 3000
    assert upload_file(lc, b"x", "exe").json()["code"] == 234001
    assert upload_file(lc, b"").json()["code"] == 234010
    assert upload_file(lc, b"\x00" * (30 * 1024 * 1024 + 1)).json()["code"] == 234006
    no_name = lc.post(
        "/open-apis/im/v1/files", data={"file_type": "pdf"}, files={"file": ("a", b"x")}
    )
    assert no_name.json()["code"] == 234001


def test_lark_queued_rate_limit_reply(lark: FakeLark, lc: httpx.Client) -> None:
    lark.queue(r"/im/v1/messages$", FakeLark.rate_limited(reset=2))
    r = send(lc, "chat_id", "oc_1", "text", {"text": "x"})
    assert r.status_code == 429
    assert r.headers["x-ogw-ratelimit-reset"] == "2"
    assert r.json() == {"code": 99991400, "msg": "request trigger frequency limit"}
    assert send(lc, "chat_id", "oc_1", "text", {"text": "x"}).json()["code"] == 0


def test_lark_per_chat_rate_enforcement(lark: FakeLark, lc: httpx.Client) -> None:
    lark.enforce_chat_rate = True
    codes = [
        send(lc, "chat_id", "oc_busy", "text", {"text": str(i)}).json()["code"] for i in range(6)
    ]
    assert codes == [0, 0, 0, 0, 0, 230020]
    assert send(lc, "chat_id", "oc_other", "text", {"text": "x"}).json()["code"] == 0


def test_lark_uuid_dedupes(lark: FakeLark, lc: httpx.Client) -> None:
    body = {"receive_id": "oc_1", "msg_type": "text", "content": '{"text":"x"}', "uuid": "u-1"}
    a = lc.post("/open-apis/im/v1/messages?receive_id_type=chat_id", json=body).json()
    b = lc.post("/open-apis/im/v1/messages?receive_id_type=chat_id", json=body).json()
    assert a["data"]["message_id"] == b["data"]["message_id"]
    assert len(lark.sent_messages()) == 1


def test_lark_unknown_path_is_plain_404(lc: httpx.Client) -> None:
    r = lc.post("/open-apis/im/v1/nope", json={})
    assert r.status_code == 404 and r.text == "404 page not found"
    assert lc.get("/open-apis/im/v1/messages").status_code == 404


def test_lark_queue_error_helper(lark: FakeLark, lc: httpx.Client) -> None:
    lark.queue(
        r"/im/v1/messages$", FakeLark.error(230020, "This operation triggers the frequency limit.")
    )
    assert send(lc, "chat_id", "oc_1", "text", {"text": "x"}).json()["code"] == 230020
    lark.queue(r"/im/v1/messages$", Reply(500, body=b"boom"))
    assert send(lc, "chat_id", "oc_1", "text", {"text": "x"}).status_code == 500
