"""The OneBot, WeCom and WeChat fakes themselves, checked with plain httpx."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests._media import PNG
from tests.fakes.base import Reply
from tests.fakes.onebot import FakeOneBot
from tests.fakes.wechat import RATE_LIMITED as WECHAT_RATE_LIMITED
from tests.fakes.wechat import FakeWeChat
from tests.fakes.wecom import RATE_LIMITED as WECOM_RATE_LIMITED
from tests.fakes.wecom import FakeWeCom


# ----------------------------------------------------------------------------- OneBot
@pytest.fixture(params=["napcat", "gocq"])
def onebot(request: pytest.FixtureRequest) -> Iterator[FakeOneBot]:
    with FakeOneBot(access_token="tok", flavor=request.param) as fake:
        yield fake


def ob_post(
    fake: FakeOneBot, action: str, payload: dict | None = None, token: str | None = "tok"
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.post(f"{fake.base_url}/{action}", json=payload or {}, headers=headers)


def assert_failed(fake: FakeOneBot, body: dict) -> None:
    assert body["status"] == "failed"
    assert body["data"] is None
    assert body["retcode"] not in (0, 1)
    if fake.flavor == "gocq":
        assert set(body) >= {"msg", "wording", "message"}
        assert body["message"] == body["wording"]
    else:
        assert body["message"] and body["wording"] == body["message"]
        assert body["stream"] == "normal-action"


def test_onebot_login_info(onebot: FakeOneBot) -> None:
    r = ob_post(onebot, "get_login_info")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["retcode"] == 0
    assert body["data"] == {"user_id": onebot.self_id, "nickname": onebot.nickname}


def test_onebot_auth() -> None:
    with FakeOneBot(access_token="tok", flavor="gocq") as gocq:
        assert ob_post(gocq, "get_login_info", token=None).status_code == 401
        assert ob_post(gocq, "get_login_info", token="nope").status_code == 403
        r = httpx.get(f"{gocq.base_url}/get_login_info", params={"access_token": "tok"})
        assert r.status_code == 200 and r.json()["retcode"] == 0
    with FakeOneBot(access_token="tok", flavor="napcat") as napcat:
        # NapCat answers 403 whether the token is missing or wrong
        for token in (None, "nope"):
            r = ob_post(napcat, "get_login_info", token=token)
            assert r.status_code == 403
            assert r.json() == {"message": "token verify failed!"}
    with FakeOneBot() as open_bot:
        assert ob_post(open_bot, "get_login_info", token=None).json()["status"] == "ok"


def test_onebot_get_with_query(onebot: FakeOneBot) -> None:
    r = httpx.get(
        f"{onebot.base_url}/send_private_msg",
        params={"user_id": "20001", "message": "hi"},
        headers={"Authorization": "Bearer tok"},
    )
    # a plain string is refused by the strict fake: segment arrays only
    assert_failed(onebot, r.json())


def test_onebot_send_segments(onebot: FakeOneBot, tmp_path: Path) -> None:
    local = tmp_path / "a.png"
    local.write_bytes(PNG)
    message = [
        {"type": "reply", "data": {"id": "123"}},
        {"type": "at", "data": {"qq": 20002}},
        {"type": "text", "data": {"text": "hello"}},
        {"type": "image", "data": {"file": "https://example.com/a.png"}},
        {"type": "image", "data": {"file": "base64://" + base64.b64encode(PNG).decode()}},
        {"type": "image", "data": {"file": local.as_uri()}},
        {"type": "face", "data": {"id": 14}},
    ]
    r = ob_post(onebot, "send_group_msg", {"group_id": 30001, "message": message})
    body = r.json()
    assert body["status"] == "ok", body
    assert isinstance(body["data"]["message_id"], int)
    r = ob_post(onebot, "send_private_msg", {"user_id": "20001", "message": message[2:3]})
    assert r.json()["status"] == "ok"
    sent = onebot.sent()
    assert [(s.action, s.target) for s in sent] == [
        ("send_group_msg", 30001),
        ("send_private_msg", 20001),
    ]
    action, target, segments = sent[0]
    assert segments == message
    assert sent[0].sizes == [None, None, None, None, len(PNG), len(PNG), None]
    assert sent[0].message_id == body["data"]["message_id"]


@pytest.mark.parametrize(
    "message",
    [
        "plain string",
        {"type": "text", "data": {"text": "not in an array"}},
        [],
        [{"type": "text", "text": "no data"}],
        [{"type": "text", "data": {"content": "wrong key"}}],
        [{"type": "bogus", "data": {}}],
        [{"type": "image", "data": {"file": "/abs/path/without/scheme.png"}}],
        [{"type": "image", "data": {"file": "base64://not*base64"}}],
        [{"type": "image", "data": {"file": "file:///definitely/not/here.png"}}],
        [
            {"type": "record", "data": {"file": "https://e.com/a.amr"}},
            {"type": "text", "data": {"text": "x"}},
        ],
        [
            {"type": "text", "data": {"text": "x"}},
            {"type": "video", "data": {"file": "https://e.com/a.mp4"}},
        ],
        [{"type": "at", "data": {"qq": "someone"}}],
    ],
)
def test_onebot_rejects_bad_messages(onebot: FakeOneBot, message: object) -> None:
    r = ob_post(onebot, "send_private_msg", {"user_id": 20001, "message": message})
    assert r.status_code == 200
    assert_failed(onebot, r.json())
    assert onebot.sent() == []


def test_onebot_string_message_when_allowed() -> None:
    with FakeOneBot(flavor="gocq", accept_string_message=True) as fake:
        r = ob_post(fake, "send_private_msg", {"user_id": 20001, "message": "hi"}, token=None)
        assert r.json()["status"] == "ok"
        assert fake.sent()[0].message == [{"type": "text", "data": {"text": "hi"}}]


def test_onebot_record_alone_is_fine(onebot: FakeOneBot) -> None:
    voice = base64.b64encode(b"#!AMR\n" + b"\x00" * 100).decode()
    r = ob_post(
        onebot,
        "send_private_msg",
        {"user_id": 20001, "message": [{"type": "record", "data": {"file": "base64://" + voice}}]},
    )
    assert r.json()["status"] == "ok"
    assert onebot.sent()[0].sizes == [106]


def test_onebot_video_base64_depends_on_flavor(onebot: FakeOneBot) -> None:
    video = "base64://" + base64.b64encode(b"\x00" * 32).decode()
    r = ob_post(
        onebot,
        "send_private_msg",
        {"user_id": 20001, "message": [{"type": "video", "data": {"file": video}}]},
    )
    assert r.json()["status"] == ("failed" if onebot.flavor == "gocq" else "ok")


def test_onebot_unknown_targets(onebot: FakeOneBot) -> None:
    text = [{"type": "text", "data": {"text": "x"}}]
    r = ob_post(onebot, "send_private_msg", {"user_id": 99999, "message": text})
    assert_failed(onebot, r.json())
    r = ob_post(onebot, "send_group_msg", {"group_id": 99999, "message": text})
    body = r.json()
    assert_failed(onebot, body)
    if onebot.flavor == "gocq":
        assert body["retcode"] == 100 and body["msg"] == "GROUP_NOT_FOUND"
    r = ob_post(onebot, "send_private_msg", {"user_id": "abc", "message": text})
    assert_failed(onebot, r.json())
    assert onebot.sent() == []


def test_onebot_failure_shapes() -> None:
    text = [{"type": "text", "data": {"text": "x"}}]
    with FakeOneBot(flavor="gocq") as gocq:
        body = ob_post(gocq, "send_group_msg", {"group_id": 1, "message": text}, token=None).json()
        assert body == {
            "data": None,
            "retcode": 100,
            "msg": "GROUP_NOT_FOUND",
            "wording": "群聊不存在",
            "message": "群聊不存在",
            "status": "failed",
        }
    with FakeOneBot(flavor="napcat") as napcat:
        body = ob_post(
            napcat, "send_private_msg", {"user_id": 1, "message": text}, token=None
        ).json()
        assert body["status"] == "failed" and body["retcode"] == 200
        assert body["message"] == body["wording"] == "无法获取用户信息"
        assert set(body) == {"status", "retcode", "data", "message", "wording", "echo", "stream"}
        body = ob_post(napcat, "send_private_msg", {"user_id": 20001}, token=None).json()
        assert body["retcode"] == 400  # schema check: message is required


def test_onebot_unknown_action(onebot: FakeOneBot) -> None:
    r = ob_post(onebot, "no_such_action")
    assert r.status_code == 200  # real implementations answer 200, not the spec's 404
    body = r.json()
    assert_failed(onebot, body)
    if onebot.flavor == "gocq":
        assert body["retcode"] == 404 and body["msg"] == "API_NOT_FOUND"
    else:
        assert body["message"] == "不支持的Api no_such_action"


def test_onebot_gocq_ignores_json_without_content_type() -> None:
    with FakeOneBot(flavor="gocq") as fake:
        r = httpx.post(
            f"{fake.base_url}/send_private_msg",
            content=b'{"user_id": 20001, "message": [{"type":"text","data":{"text":"x"}}]}',
        )
        assert r.json()["status"] == "failed"
    with FakeOneBot(flavor="napcat") as fake:
        r = httpx.post(
            f"{fake.base_url}/send_private_msg",
            content=b'{"user_id": 20001, "message": [{"type":"text","data":{"text":"x"}}]}',
        )
        assert r.json()["status"] == "ok"


def test_onebot_uploads(tmp_path: Path) -> None:
    path = tmp_path / "report.txt"
    path.write_bytes(b"x" * 1000)
    b64 = "base64://" + base64.b64encode(b"y" * 10).decode()
    with FakeOneBot(flavor="gocq") as gocq:
        ok = ob_post(
            gocq, "upload_group_file", {"group_id": 30001, "file": str(path), "name": "r.txt"}, None
        )
        assert ok.json() == {"data": None, "retcode": 0, "status": "ok", "message": ""}
        ok = ob_post(
            gocq,
            "upload_private_file",
            {"user_id": 20001, "file": str(path), "name": "r.txt"},
            None,
        )
        assert ok.json()["status"] == "ok"
        for file in (path.as_uri(), b64, "https://example.com/r.txt", "relative/r.txt"):
            body = ob_post(
                gocq, "upload_group_file", {"group_id": 30001, "file": file, "name": "r"}, None
            ).json()
            assert body["status"] == "failed" and body["msg"] == "FILE_NOT_FOUND", file
        assert [(s.action, s.target, s.file_size) for s in gocq.sent()] == [
            ("upload_group_file", 30001, 1000),
            ("upload_private_file", 20001, 1000),
        ]
    with FakeOneBot(flavor="napcat") as napcat:
        for file in (str(path), path.as_uri(), b64, "https://example.com/r.txt"):
            body = ob_post(
                napcat, "upload_private_file", {"user_id": 20001, "file": file, "name": "r"}, None
            ).json()
            assert body["status"] == "ok", (file, body)
            assert isinstance(body["data"]["file_id"], str)
        assert [s.file_size for s in napcat.sent()] == [1000, 1000, 10, None]
        body = ob_post(
            napcat,
            "upload_group_file",
            {"group_id": 30001, "file": "base64://***", "name": "r"},
            None,
        ).json()
        assert body["status"] == "failed"
        body = ob_post(
            napcat, "upload_private_file", {"user_id": 99, "file": str(path), "name": "r"}, None
        ).json()
        assert body["status"] == "failed" and body["message"] == "私聊99不存在"
        body = ob_post(
            napcat, "upload_private_file", {"user_id": 20001, "file": str(path)}, None
        ).json()
        assert body["status"] == "failed" and body["retcode"] == 400  # name is required


def test_onebot_queue_and_latency() -> None:
    with FakeOneBot() as fake:
        fake.queue(r"/send_private_msg$", Reply(500, body=b"boom"))
        text = [{"type": "text", "data": {"text": "x"}}]
        assert (
            ob_post(fake, "send_private_msg", {"user_id": 20001, "message": text}, None).status_code
            == 500
        )
        assert (
            ob_post(fake, "send_private_msg", {"user_id": 20001, "message": text}, None).json()[
                "status"
            ]
            == "ok"
        )


# ----------------------------------------------------------------------------- WeCom
@pytest.fixture
def wecom() -> Iterator[FakeWeCom]:
    with FakeWeCom("ww-corp", "corp-secret", 1000002, users=("alice", "bob", "carol")) as fake:
        yield fake


def wecom_token(fake: FakeWeCom) -> str:
    r = httpx.get(
        f"{fake.base_url}/cgi-bin/gettoken",
        params={"corpid": "ww-corp", "corpsecret": "corp-secret"},
    )
    body = r.json()
    assert body["errcode"] == 0 and body["errmsg"] == "ok" and body["expires_in"] == 7200
    return body["access_token"]


def wecom_send(fake: FakeWeCom, token: str, payload: dict) -> dict:
    return httpx.post(
        f"{fake.base_url}/cgi-bin/message/send", params={"access_token": token}, json=payload
    ).json()


def wecom_upload(
    fake: FakeWeCom,
    token: str,
    kind: str,
    data: bytes,
    filename: str = "a.png",
    field: str = "media",
) -> dict:
    r = httpx.post(
        f"{fake.base_url}/cgi-bin/media/upload",
        params={"access_token": token, "type": kind},
        files={field: (filename, data, "application/octet-stream")},
    )
    return r.json()


def test_wecom_gettoken(wecom: FakeWeCom) -> None:
    token = wecom_token(wecom)
    assert token and wecom.token_requests == 1
    assert wecom_token(wecom) == token  # the same token while it is valid
    wecom.expire_all_tokens()
    assert wecom_token(wecom) != token
    assert wecom.token_requests == 3
    base = f"{wecom.base_url}/cgi-bin/gettoken"
    body = httpx.get(base, params={"corpid": "ww-corp", "corpsecret": "wrong"}).json()
    assert body["errcode"] == 40001 and body["errmsg"].startswith("invalid credential, hint: [")
    assert "more info at https://open.work.weixin.qq.com/devtool/query?e=40001" in body["errmsg"]
    assert (
        httpx.get(base, params={"corpid": "nope", "corpsecret": "corp-secret"}).json()["errcode"]
        == 40013
    )
    assert httpx.get(base, params={"corpid": "ww-corp"}).json()["errcode"] == 41004
    assert wecom.token_requests == 6


def test_wecom_text_and_invaliduser(wecom: FakeWeCom) -> None:
    token = wecom_token(wecom)
    ok = wecom_send(
        wecom,
        token,
        {"touser": "alice", "msgtype": "text", "agentid": 1000002, "text": {"content": "hi"}},
    )
    assert ok["errcode"] == 0 and ok["errmsg"] == "ok" and ok["invaliduser"] == "" and ok["msgid"]
    partial = wecom_send(
        wecom,
        token,
        {
            "touser": "bob|zed|yan",
            "msgtype": "markdown",
            "agentid": 1000002,
            "markdown": {"content": "**hi**"},
        },
    )
    assert partial["errcode"] == 0 and partial["invaliduser"] == "zed|yan"
    none = wecom_send(
        wecom,
        token,
        {"touser": "zed|yan", "msgtype": "text", "agentid": 1000002, "text": {"content": "hi"}},
    )
    assert none["errcode"] == 81013 and none["invaliduser"] == "zed|yan"
    assert none["errmsg"].startswith("user & party & tag all invalid")
    sent = wecom.sent()
    assert [(s.touser, s.msgtype, s.invaliduser) for s in sent] == [
        (["alice"], "text", []),
        (["bob"], "markdown", ["zed", "yan"]),
    ]
    assert sent[0].msgid == ok["msgid"]


@pytest.mark.parametrize(
    ("payload", "errcode"),
    [
        ({"agentid": "1000002"}, 40056),
        ({"agentid": 1000003}, 301002),
        ({"agentid": None}, 41011),
        ({"msgtype": "sticker"}, 40008),
        ({"text": {"content": ""}}, 44004),
        ({"text": {"content": "x" * 2049}}, 45002),
        ({"text": {"content": "汉" * 683}}, 45002),  # 2049 bytes
        ({"text": "hi"}, 47001),
        ({"touser": ["alice"]}, 82001),
        ({"touser": ""}, 82001),
    ],
)
def test_wecom_send_rejects(wecom: FakeWeCom, payload: dict, errcode: int) -> None:
    token = wecom_token(wecom)
    body = {"touser": "alice", "msgtype": "text", "agentid": 1000002, "text": {"content": "hi"}}
    body.update(payload)
    body = {k: v for k, v in body.items() if v is not None}
    reply = wecom_send(wecom, token, body)
    assert reply["errcode"] == errcode, reply
    assert wecom.sent() == []


def test_wecom_agentid_string_has_json_warning(wecom: FakeWeCom) -> None:
    token = wecom_token(wecom)
    reply = wecom_send(
        wecom,
        token,
        {"touser": "alice", "msgtype": "text", "agentid": "1000002", "text": {"content": "hi"}},
    )
    assert reply["errcode"] == 40056 and reply["errmsg"].startswith(
        "Warning: wrong json format. invalid agentid"
    )


def test_wecom_text_limit_is_bytes(wecom: FakeWeCom) -> None:
    token = wecom_token(wecom)
    reply = wecom_send(
        wecom,
        token,
        {"touser": "alice", "msgtype": "text", "agentid": 1000002, "text": {"content": "汉" * 682}},
    )  # 2046 bytes
    assert reply["errcode"] == 0


def test_wecom_tokens(wecom: FakeWeCom) -> None:
    payload = {"touser": "alice", "msgtype": "text", "agentid": 1000002, "text": {"content": "hi"}}
    assert wecom_send(wecom, "bogus", payload)["errcode"] == 40014
    r = httpx.post(f"{wecom.base_url}/cgi-bin/message/send", json=payload)
    assert r.json()["errcode"] == 41001
    token = wecom_token(wecom)
    assert wecom_send(wecom, token, payload)["errcode"] == 0
    wecom.expire_all_tokens()
    expired = wecom_send(wecom, token, payload)
    assert expired["errcode"] == 42001 and expired["errmsg"].startswith("access_token expired")
    assert wecom_send(wecom, wecom_token(wecom), payload)["errcode"] == 0
    assert wecom.token_requests == 2


def test_wecom_upload_and_media_messages(wecom: FakeWeCom) -> None:
    token = wecom_token(wecom)
    up = wecom_upload(wecom, token, "image", PNG, "a.png")
    assert up["errcode"] == 0 and up["type"] == "image" and up["media_id"] and up["created_at"]
    ok = wecom_send(
        wecom,
        token,
        {
            "touser": "alice",
            "msgtype": "image",
            "agentid": 1000002,
            "image": {"media_id": up["media_id"]},
        },
    )
    assert ok["errcode"] == 0
    # a media_id of another type, or one never uploaded
    for msgtype in ("voice", "file"):
        bad = wecom_send(
            wecom,
            token,
            {
                "touser": "alice",
                "msgtype": msgtype,
                "agentid": 1000002,
                msgtype: {"media_id": up["media_id"]},
            },
        )
        assert bad["errcode"] == 40007
    bad = wecom_send(
        wecom,
        token,
        {"touser": "alice", "msgtype": "image", "agentid": 1000002, "image": {"media_id": "nope"}},
    )
    assert bad["errcode"] == 40007
    video = wecom_upload(wecom, token, "video", b"\x00" * 100, "v.mp4")
    ok = wecom_send(
        wecom,
        token,
        {
            "touser": "alice",
            "msgtype": "video",
            "agentid": 1000002,
            "video": {"media_id": video["media_id"], "title": "t", "description": "d"},
        },
    )
    assert ok["errcode"] == 0
    doc = wecom_upload(wecom, token, "file", b"a,b\n1,2\n", "data.csv")
    assert doc["errcode"] == 0 and wecom.media[doc["media_id"]].size == 8


def test_wecom_upload_rejects(wecom: FakeWeCom) -> None:
    token = wecom_token(wecom)
    assert wecom_upload(wecom, token, "image", PNG, field="file")["errcode"] == 41005
    assert wecom_upload(wecom, token, "image", b"")["errcode"] == 44001
    assert wecom_upload(wecom, token, "image", b"12345")["errcode"] == 40006
    assert wecom_upload(wecom, token, "image", PNG, "a.gif")["errcode"] == 40004
    assert wecom_upload(wecom, token, "voice", b"\x00" * 100, "a.mp3")["errcode"] == 40004
    assert wecom_upload(wecom, token, "sticker", PNG)["errcode"] == 40005
    assert (
        wecom_upload(wecom, token, "voice", b"\x00" * (2 * 1024 * 1024 + 1), "a.amr")["errcode"]
        == 40006
    )
    assert (
        wecom_upload(wecom, token, "image", b"\x00" * (10 * 1024 * 1024 + 1), "a.jpg")["errcode"]
        == 40009
    )
    assert wecom_upload(wecom, "bogus", "image", PNG)["errcode"] == 40014
    r = httpx.post(
        f"{wecom.base_url}/cgi-bin/media/upload",
        params={"access_token": token, "type": "image"},
        data={"media": "not a file"},
    )
    assert r.json()["errcode"] == 41005


def test_wecom_ip_blocked_and_rate_limit(wecom: FakeWeCom) -> None:
    token = wecom_token(wecom)
    wecom.queue(r"/message/send$", WECOM_RATE_LIMITED)
    payload = {"touser": "alice", "msgtype": "text", "agentid": 1000002, "text": {"content": "hi"}}
    assert wecom_send(wecom, token, payload) == {
        "errcode": 45009,
        "errmsg": "api freq out of limit",
    }
    assert wecom_send(wecom, token, payload)["errcode"] == 0
    wecom.ip_blocked = True
    body = httpx.get(
        f"{wecom.base_url}/cgi-bin/gettoken",
        params={"corpid": "ww-corp", "corpsecret": "corp-secret"},
    ).json()
    assert body["errcode"] == 60020 and body["errmsg"].startswith(
        "not allow to access from your ip"
    )


# ----------------------------------------------------------------------------- WeChat
@pytest.fixture
def wechat() -> Iterator[FakeWeChat]:
    with FakeWeChat(
        "wx-app",
        "app-secret",
        followers=("o-1", "o-2", "o-3"),
        closed_window=("o-3",),
        templates=("tpl-1",),
    ) as fake:
        yield fake


def wechat_token(fake: FakeWeChat, **extra: object) -> str:
    r = httpx.post(
        f"{fake.base_url}/cgi-bin/stable_token",
        json={
            "grant_type": "client_credential",
            "appid": "wx-app",
            "secret": "app-secret",
            **extra,
        },
    )
    body = r.json()
    assert "errcode" not in body, body
    assert body["expires_in"] > 0
    return body["access_token"]


def wechat_post(fake: FakeWeChat, path: str, token: str, payload: dict) -> dict:
    return httpx.post(f"{fake.base_url}{path}", params={"access_token": token}, json=payload).json()


def wechat_upload(
    fake: FakeWeChat,
    token: str,
    kind: str,
    data: bytes,
    filename: str = "a.jpg",
    field: str = "media",
) -> dict:
    r = httpx.post(
        f"{fake.base_url}/cgi-bin/media/upload",
        params={"access_token": token, "type": kind},
        files={field: (filename, data, "application/octet-stream")},
    )
    return r.json()


def test_wechat_tokens(wechat: FakeWeChat) -> None:
    first = wechat_token(wechat)
    assert wechat_token(wechat) == first  # stable_token: same token while it is valid
    forced = wechat_token(wechat, force_refresh=True)
    assert forced != first
    assert (
        wechat_post(
            wechat,
            "/cgi-bin/message/custom/send",
            first,
            {"touser": "o-1", "msgtype": "text", "text": {"content": "x"}},
        )["errcode"]
        == 42001
    )
    base = f"{wechat.base_url}/cgi-bin/stable_token"
    body = httpx.post(
        base, json={"grant_type": "client_credential", "appid": "wx-app", "secret": "bad"}
    ).json()
    assert body["errcode"] == 40125 and body["errmsg"].startswith("invalid appsecret")
    body = httpx.post(
        base, json={"grant_type": "client_credential", "appid": "wx-x", "secret": "app-secret"}
    ).json()
    assert body["errcode"] == 40013
    body = httpx.post(
        base, json={"grant_type": "password", "appid": "wx-app", "secret": "app-secret"}
    ).json()
    assert body["errcode"] == 40002
    classic = httpx.get(
        f"{wechat.base_url}/cgi-bin/token",
        params={"grant_type": "client_credential", "appid": "wx-app", "secret": "app-secret"},
    ).json()
    assert set(classic) == {"access_token", "expires_in"} and classic["expires_in"] == 7200
    assert wechat.token_requests == 7


def test_wechat_token_errors_on_use(wechat: FakeWeChat) -> None:
    payload = {"touser": "o-1", "msgtype": "text", "text": {"content": "x"}}
    body = wechat_post(wechat, "/cgi-bin/message/custom/send", "bogus", payload)
    assert body["errcode"] == 40001 and "access_token is invalid or not latest" in body["errmsg"]
    r = httpx.post(f"{wechat.base_url}/cgi-bin/message/custom/send", json=payload)
    assert r.json()["errcode"] == 41001
    token = wechat_token(wechat)
    assert wechat_post(wechat, "/cgi-bin/message/custom/send", token, payload) == {
        "errcode": 0,
        "errmsg": "ok",
    }
    wechat.expire_all_tokens()
    body = wechat_post(wechat, "/cgi-bin/message/custom/send", token, payload)
    assert body["errcode"] == 42001 and body["errmsg"].startswith("access_token expired rid: ")
    new = wechat_token(wechat)
    assert new != token
    assert wechat_post(wechat, "/cgi-bin/message/custom/send", new, payload)["errcode"] == 0


def test_wechat_custom_send(wechat: FakeWeChat) -> None:
    token = wechat_token(wechat)
    send = "/cgi-bin/message/custom/send"
    image = wechat_upload(wechat, token, "image", PNG, "a.png")
    assert set(image) == {"type", "media_id", "created_at"} and image["type"] == "image"
    voice = wechat_upload(wechat, token, "voice", b"#!AMR\n" + b"\0" * 50, "a.amr")
    video = wechat_upload(wechat, token, "video", b"\0" * 100, "a.mp4")
    thumb = wechat_upload(wechat, token, "thumb", b"\xff\xd8" + b"\0" * 100, "t.jpg")
    assert set(thumb) == {"type", "thumb_media_id", "created_at"}
    for payload in (
        {"touser": "o-1", "msgtype": "text", "text": {"content": "hello"}},
        {"touser": "o-1", "msgtype": "image", "image": {"media_id": image["media_id"]}},
        {"touser": "o-2", "msgtype": "voice", "voice": {"media_id": voice["media_id"]}},
        {
            "touser": "o-2",
            "msgtype": "video",
            "video": {
                "media_id": video["media_id"],
                "thumb_media_id": thumb["thumb_media_id"],
                "title": "t",
                "description": "d",
            },
        },
    ):
        assert wechat_post(wechat, send, token, payload) == {"errcode": 0, "errmsg": "ok"}, payload
    assert [(s.touser, s.msgtype) for s in wechat.sent()] == [
        ("o-1", "text"),
        ("o-1", "image"),
        ("o-2", "voice"),
        ("o-2", "video"),
    ]


@pytest.mark.parametrize(
    ("payload", "errcode"),
    [
        ({"touser": "o-unknown"}, 43004),
        ({"touser": "o-3"}, 45015),
        ({"msgtype": "file", "file": {"media_id": "x"}}, 40008),
        ({"text": {"content": ""}}, 44004),
        ({"text": {"content": 5}}, 47001),
        ({"text": "hello"}, 47001),
        ({"msgtype": "image", "image": {"media_id": "never-uploaded"}}, 40007),
        ({"touser": None}, 40003),
    ],
)
def test_wechat_custom_send_rejects(wechat: FakeWeChat, payload: dict, errcode: int) -> None:
    token = wechat_token(wechat)
    body = {"touser": "o-1", "msgtype": "text", "text": {"content": "hi"}}
    body.update(payload)
    body = {k: v for k, v in body.items() if v is not None}
    reply = wechat_post(wechat, "/cgi-bin/message/custom/send", token, body)
    assert reply["errcode"] == errcode, reply
    assert wechat.sent() == []


def test_wechat_closed_window_message(wechat: FakeWeChat) -> None:
    token = wechat_token(wechat)
    body = wechat_post(
        wechat,
        "/cgi-bin/message/custom/send",
        token,
        {"touser": "o-3", "msgtype": "text", "text": {"content": "hi"}},
    )
    assert body["errmsg"].startswith("response out of time limit or subscription is canceled rid: ")
    body = wechat_post(
        wechat,
        "/cgi-bin/message/custom/send",
        token,
        {"touser": "o-9", "msgtype": "text", "text": {"content": "hi"}},
    )
    assert body["errcode"] == 43004 and body["errmsg"].startswith("require subscribe")


def test_wechat_template_send(wechat: FakeWeChat) -> None:
    token = wechat_token(wechat)
    path = "/cgi-bin/message/template/send"
    payload = {
        "touser": "o-3",
        "template_id": "tpl-1",
        "url": "https://example.com",
        "data": {"first": {"value": "hi"}, "remark": {"value": "r", "color": "#173177"}},
    }
    ok = wechat_post(wechat, path, token, payload)  # the 48 h window does not apply
    assert ok["errcode"] == 0 and ok["errmsg"] == "ok" and isinstance(ok["msgid"], int)
    assert wechat_post(wechat, path, token, {**payload, "template_id": "tpl-x"})["errcode"] == 40037
    assert (
        wechat_post(wechat, path, token, {**payload, "data": {"first": "hi"}})["errcode"] == 47001
    )
    assert wechat_post(wechat, path, token, {**payload, "touser": "o-9"})["errcode"] == 43004
    sent = wechat.templates_sent()
    assert len(sent) == 1 and sent[0].template_id == "tpl-1" and sent[0].msgid == ok["msgid"]
    assert sent[0].data["first"] == {"value": "hi"} and wechat.sent() == []


def test_wechat_upload_rejects(wechat: FakeWeChat) -> None:
    token = wechat_token(wechat)
    assert wechat_upload(wechat, token, "image", PNG, field="file")["errcode"] == 41005
    assert wechat_upload(wechat, token, "image", b"")["errcode"] == 44001
    assert wechat_upload(wechat, token, "image", b"\0" * (2 * 1024 * 1024 + 1))["errcode"] == 40009
    assert wechat_upload(wechat, token, "image", b"\0" * (2 * 1024 * 1024))["type"] == "image"
    assert (
        wechat_upload(wechat, token, "voice", b"\0" * (2 * 1024 * 1024 + 1), "a.mp3")["errcode"]
        == 40010
    )
    assert wechat_upload(wechat, token, "video", b"\0" * 100, "a.mov")["errcode"] == 40005
    assert wechat_upload(wechat, token, "file", PNG)["errcode"] == 40004
    assert wechat_upload(wechat, "bogus", "image", PNG)["errcode"] == 40001


def test_wechat_ip_blocked_and_rate_limit(wechat: FakeWeChat) -> None:
    token = wechat_token(wechat)
    wechat.queue(r"/custom/send$", WECHAT_RATE_LIMITED)
    payload = {"touser": "o-1", "msgtype": "text", "text": {"content": "hi"}}
    assert wechat_post(wechat, "/cgi-bin/message/custom/send", token, payload)["errcode"] == 45009
    assert wechat_post(wechat, "/cgi-bin/message/custom/send", token, payload)["errcode"] == 0
    wechat.ip_blocked = True
    body = httpx.post(
        f"{wechat.base_url}/cgi-bin/stable_token",
        json={"grant_type": "client_credential", "appid": "wx-app", "secret": "app-secret"},
    ).json()
    assert body["errcode"] == 40164 and "not in whitelist" in body["errmsg"]
