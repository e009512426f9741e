"""Hypothesis strategies for tests/test_bad_input.py: imcli's real command-line vocabulary
mixed with junk, mixed-items JSON, profile TOML and media sources.

Nothing here reaches the internet: every URL points at 127.0.0.1 (a fake or a closed
port) or at a name the fake Telegram accepts as a URL without anyone fetching it."""

from __future__ import annotations

import os
from typing import Any

from hypothesis import strategies as st

from imcli.cli.cmdline import COMMANDS

# -- text ------------------------------------------------------------------------------------

CONTROL = "".join(chr(c) for c in range(0x20)) + "\x7f\x85\u2028\u2029\u200b\u200d\ufeff"

#: text that tends to break things: control characters, NUL, newlines, RTL, emoji
nasty_text = st.lists(
    st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from(
            list(CONTROL)
            + ["\u202e", "😀", "👨\u200d👩\u200d👧", "é", "中", "<b>", "&amp;", "*", "`"]
        ),
    ),
    max_size=30,
).map("".join)

#: what argv holds when the command line had bytes that are not UTF-8 (os.fsdecode)
undecodable = st.binary(min_size=1, max_size=8).map(lambda b: os.fsdecode(b"x" + b + b"\xff"))

junk = st.one_of(
    nasty_text,
    undecodable,
    st.sampled_from(["", " ", "-", "--", "=", "-=", "--=", "\0", "\n", "a b", "'", '"', "${X}"]),
    st.integers().map(str),
    st.just("y" * 5000),
)

# -- command lines ---------------------------------------------------------------------------

PLATFORM_WORDS = [
    "telegram", "tg", "TG", "Telegram", "qq", "onebot", "slack", "lark", "feishu", "wecom",
    "wechat", "wx", "qqbot", "discord", "dingtalk", "dd", "myspace", "", " tg", "tg\n",
]  # fmt: skip
ID_WORDS = [
    "1", "2", "-1001234", "@channel_name", "20001", "30001", "a b", " 1", "1 ", "", "\t",
    "1\0", "1\n2", "oc_1", "@all", "a|b", "9" * 40,
]  # fmt: skip
TIMEOUT_WORDS = ["0", "-1", "1", "250", "1500", "1e3", "1.5", "", "x", "9" * 30, "-0"]
OPTION_WORDS = [
    "disable_notification=true", "chat_id=5", "text=x", "=x", "noequals", "k=", "k=[[[[",
    "k=" + "[" * 5000, "account_id=nobody", "filename=a\nb", "mime_type=x/y", "k=\0",
    "reply_markup={\"a\": 1}", "parse_mode=Markdown",
]  # fmt: skip
ACCOUNT_WORDS = ["ops-bot", "qq-home", "nobody", "ops bot", "", "ops-bot\n", "-x"]
KINDS = ["text", "image", "voice", "video", "file", "mixed"]

#: root options left out on purpose: --install-completion would edit a shell rc file
_EXCLUDED = {"--install-completion", "--show-completion"}


def _value_for(dest: str, paths: dict[str, list[str]]) -> st.SearchStrategy[str]:
    table: dict[str, list[str]] = {
        "platform": PLATFORM_WORDS,
        "group": ID_WORDS,
        "user": ID_WORDS,
        "account": ACCOUNT_WORDS,
        "timeout": TIMEOUT_WORDS,
        "option": OPTION_WORDS,
        "profile": paths["profile"],
        "item": ["text=hi", "image=" + paths["media"][0], "file=nope", "gif=x", "text=", "x"],
        "title": ["T", "", "\0", "a\nb", "<b>"],
        "filename": ["a.png", "", "../x", "a\0b"],
        "mime": ["image/png", "", "x", "text/plain"],
        "set_": ["token=1:abc", "token=-", "nope=1", "base_url=ftp://x", "rate=nan", "x"],
    }
    words = table.get(dest)
    return st.one_of(st.sampled_from(words), junk) if words else junk


@st.composite
def argv(draw: Any, paths: dict[str, list[str]]) -> list[str]:
    """A command line: a real (sub)command, its options with good and bad values, junk."""
    path = draw(
        st.sampled_from(
            # `run` executes its arguments: random ones are not its input (tests/test_run.py)
            [p for p in COMMANDS if p and p not in (("accounts", "remove"), ("run",))]
            + [("push",) + ("text",)] * 4
        )
    )
    plausible = draw(st.booleans())  # half the lines are a push that could go through
    if plausible:
        path = ("push", draw(st.sampled_from(KINDS)))
    cmd = COMMANDS[path]
    opts = [o for o in cmd.options if not set(o.names) & _EXCLUDED]
    words: list[str] = []
    if plausible:
        words += list(path)
        words += ["-p", draw(st.sampled_from(["tg", "qq", "telegram", "onebot"]))]
        words += [draw(st.sampled_from(["-u", "-g"])), draw(st.sampled_from(ID_WORDS[:6]))]
        if path[1] == "text":
            words.append(draw(st.one_of(st.sampled_from(["hi", "-", "**bold**"]), junk)))
        elif path[1] == "mixed":
            words += ["--item", draw(st.sampled_from(["text=hi", "image=" + paths["media"][0]]))]
        else:
            words.append(draw(st.one_of(st.sampled_from(paths["media"]), junk)))
        for _ in range(draw(st.integers(0, 2))):
            opt = draw(st.sampled_from(opts))
            name = draw(st.sampled_from(opt.names))
            words.insert(2, name)
            if opt.takes_value:
                words.insert(3, draw(_value_for(opt.dest, paths)))
        return words
    if draw(st.booleans()) and draw(st.booleans()):
        words += ["--profile", draw(st.sampled_from(paths["profile"]))]
    words += list(path)
    n = draw(st.integers(0, 7))
    for _ in range(n):
        choice = draw(st.integers(0, 9))
        if choice <= 5 and opts:  # a real option, mostly with a plausible value
            opt = draw(st.sampled_from(opts))
            name = draw(st.sampled_from(opt.names))
            if opt.takes_value:
                value = draw(_value_for(opt.dest, paths))
                if name.startswith("--") and draw(st.integers(0, 4)) == 0:
                    words.append(f"{name}={value}")
                elif draw(st.integers(0, 12)) == 0:
                    words.append(name)  # its value left out (at the end: "requires an argument")
                else:
                    words += [name, value]
            else:
                words.append(name + ("=1" if draw(st.integers(0, 12)) == 0 else ""))
        elif choice == 6:  # a positional: content, source, items file, account name
            words.append(
                draw(st.one_of(st.sampled_from(paths["media"] + paths["items"] + ["-"]), junk))
            )
        elif choice == 7:
            words.append(draw(st.sampled_from(["--", "-", "-vu", "-u1", "--bogus", "--tim", "-h"])))
        else:
            words.append(draw(junk))
    if path[0] == "push" and draw(st.integers(0, 3)) > 0:  # most push lines have a target
        words += ["-p", draw(st.sampled_from(["tg", "qq", "tg", "lark"]))]
        words += [draw(st.sampled_from(["-u", "-g"])), draw(st.sampled_from(ID_WORDS[:6]))]
    return words


# -- mixed items -----------------------------------------------------------------------------

ITEM_TYPES = ["text", "markdown", "image", "voice", "video", "file", "gif", "", "TEXT", None, 1]
json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    nasty_text,
    st.sampled_from(["-", "\udcff", "x" * 3000]),
)
json_any = st.recursive(
    json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def item(draw: Any, sources: list[str]) -> Any:
    if draw(st.integers(0, 5)) == 0:
        return draw(json_any)  # not an object at all, or a random one
    obj: dict[str, Any] = {}
    if draw(st.integers(0, 8)):
        obj["type"] = draw(st.sampled_from(ITEM_TYPES))
    for key in draw(
        st.lists(
            st.sampled_from(
                [
                    "text",
                    "content",
                    "source",
                    "file",
                    "url",
                    "path",
                    "filename",
                    "name",
                    "mime_type",
                    "mimeType",
                    "caption",
                    "extra",
                ]
            ),  # fmt: skip
            max_size=3,
        )
    ):
        if key in ("source", "file", "url", "path"):
            obj[key] = draw(st.one_of(st.sampled_from(sources), json_leaf))
        else:
            obj[key] = draw(json_leaf)
    return obj


@st.composite
def items_document(draw: Any, sources: list[str]) -> str:
    """The text of an ITEMS file: mostly arrays of item-like objects, some not JSON at all."""
    import json

    shape = draw(st.integers(0, 9))
    if shape == 0:  # nested deeper than any parser recurses
        depth = draw(st.integers(2, 200_000))
        return "[" * depth + "]" * depth
    if shape == 1:
        depth = draw(st.integers(2, 100_000))
        return '{"a":' * depth + "1" + "}" * depth
    if shape == 2:
        return draw(nasty_text)  # not JSON
    if shape == 3:
        return json.dumps(draw(json_any))
    if shape == 4:  # huge: a few MB of one item's text
        return json.dumps(
            [
                {
                    "type": draw(st.sampled_from(["text", "gif"])),
                    "text": ("z" * 99 + "\n") * 30_000,
                    "x": 1,
                }
            ]
        )
    doc = json.dumps(draw(st.lists(item(sources), max_size=4)), ensure_ascii=draw(st.booleans()))
    if shape == 5:  # truncated
        cut = draw(st.integers(0, max(0, len(doc) - 1)))
        return doc[:cut]
    return doc


# -- profiles --------------------------------------------------------------------------------

TOML_VALUES = [
    "1", "-1", "0", "inf", "nan", "-inf", "1e400", "true", '""', '"x"', '"${UNSET_FUZZ}"',
    '"${FUZZ_SET}"', '"${"', '"${}"', '"$FUZZ_SET"', '"${FUZZ_SET"', '"${${FUZZ_SET}}"',
    '"${FUZZ_LOOP_A}"', "[]", "{}", "[[1]]", '"ftp://x"', '"http://127.0.0.1:9"', "1979-05-27",
    '"\\u0000"', '"a\\nb"', "9" * 30,
]  # fmt: skip
FIELDS = [
    "platform", "token", "base_url", "default", "rate", "proxy", "app_id", "app_secret",
    "access_token", "corp_id", "agent_id", "local_server", "unknown_field",
]  # fmt: skip


@st.composite
def profile_text(draw: Any, good_tables: list[str], fake_url: str) -> str:
    """A profile: good accounts, accounts with wrong values, and broken TOML."""
    parts: list[str] = []
    if draw(st.integers(0, 3)):
        parts.append(draw(st.sampled_from(good_tables)))
    values = TOML_VALUES + [f'"{fake_url}"'] * 4 + ['"1:fuzz-token"'] * 4
    for n in range(draw(st.integers(0, 3))):
        name = draw(st.sampled_from([f"f{n}"] * 4 + [f'"f {n}"', "ops-bot", "'x.y'", "", "a b"]))
        lines = [f"[accounts.{name}]"]
        platform = draw(st.sampled_from(["telegram"] * 4 + PLATFORM_WORDS[:8] + ["nope", ""]))
        if draw(st.integers(0, 5)):
            lines.append(f'platform = "{platform}"')
        for field in draw(st.lists(st.sampled_from(FIELDS), max_size=4, unique=True)):
            lines.append(f"{field} = {draw(st.sampled_from(values))}")
        parts.append("\n".join(lines) + "\n")
    if draw(st.integers(0, 3)) == 0:
        parts.append(
            "[settings]\n"
            + f"timeout = {draw(st.sampled_from(TOML_VALUES))}\n"
            + f"proxy = {draw(st.sampled_from(TOML_VALUES))}\n"
        )
    if draw(st.integers(0, 6)) == 0:
        parts.append(
            draw(st.sampled_from(["accounts = 1\n", "[accounts]\nx = 1\n", "a = [" * 3000]))
        )
    text = "\n".join(parts)
    mutation = draw(st.integers(0, 7))
    if mutation == 0 and text:  # cut off anywhere
        text = text[: draw(st.integers(0, len(text)))]
    elif mutation == 1:  # junk inserted anywhere
        pos = draw(st.integers(0, len(text)))
        text = text[:pos] + draw(nasty_text) + text[pos:]
    return text


# -- media sources ---------------------------------------------------------------------------


def media_source(local: dict[str, str], closed_port: int) -> st.SearchStrategy[str]:
    """``local``: name → path of prepared files (a png, a directory, a FIFO, …)."""
    urls = [
        f"http://127.0.0.1:{closed_port}/a.png", "http://", "https://", "http://[::1",
        "http://[::1]:99999/a.png", "http://127.0.0.1:99999/a.png", "https://example.com/a.png",
        "http://example.com/" + "a" * 3000, "HTTP://EXAMPLE.COM/A.PNG", "http://exa mple.com/a",
        "ftp://example.com/a.png", "javascript:alert(1)", "file:", "file://", "file:///",
        "file://remotehost/etc/passwd", "file:///nonexistent%00x", "data:", "data:,x",
        "data:image/png;base64,", "data:image/png;base64,iVBORw0KGgo=", "data:;base64,@@@",
        "base64://", "base64://aGVsbG8=", "base64://!!!", "-", "~", "~/nope.png",
        "~nosuchuser_fuzz/a.png", ".", "..", "/", "/dev/null", "/proc/self/mem", "a" * 5000,
        "/" + "a" * 300, "\0", "a\0b",
    ]  # fmt: skip
    return st.one_of(
        st.sampled_from(sorted(local.values())),
        st.sampled_from(sorted(local.values())).map(lambda p: "file://" + p),
        st.sampled_from(urls),
        st.builds(lambda a, b: a + b, st.sampled_from(["", "./", "/tmp/", "file://", "~/"]), junk),
        undecodable,
    )
