"""imcli.markup: CommonMark → Telegram HTML / Slack mrkdwn / plain text, and splitting."""

from __future__ import annotations

import html
import re
import subprocess
import sys
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imcli.markup import (
    escape_html,
    split_source,
    telegram_visible_len,
    to_plain_text,
    to_slack_mrkdwn,
    to_telegram_html,
    utf8_len,
    utf16_len,
)

# --------------------------------------------------------------------------- a validator
# What Telegram's HTML parser accepts, strictly: only these tags, balanced and properly
# nested, no attributes but a[href] and pre>code[class=language-…], no <a> inside <a>, no
# blockquote inside blockquote, nothing inside code/pre (but pre>code), and every "<",
# ">" and "&" of the text escaped as one of the four named entities or a numeric one.

ALLOWED_TAGS = {"b", "i", "u", "s", "code", "pre", "a", "blockquote"}
_MARKUP = re.compile(
    r"<(?P<close>/?)(?P<name>[a-z]+)(?P<attrs>(?: [a-z]+=\"[^\"<>]*\")*)>"
    r"|&(?P<entity>lt|gt|amp|quot|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});"
)
_ATTR = re.compile(r' ([a-z]+)="([^"<>]*)"')


def telegram_html_errors(text: str) -> list[str]:
    """Why Telegram would answer "can't parse entities" (empty when it would not)."""
    errors: list[str] = []
    stack: list[str] = []
    pos = 0
    while pos < len(text):
        ch = text[pos]
        if ch not in "<>&":
            pos += 1
            continue
        m = _MARKUP.match(text, pos)
        if m is None:
            errors.append(f"unescaped {ch!r} at {pos}: {text[pos : pos + 20]!r}")
            pos += 1
            continue
        pos = m.end()
        if m.group("entity"):
            ent = m.group("entity")
            if ent.startswith("#"):
                cp = int(ent[2:], 16) if ent[1:2] == "x" else int(ent[1:])
                if not 0 < cp <= 0x10FFFF:
                    errors.append(f"bad numeric entity {ent}")
            continue
        name = m.group("name")
        if name not in ALLOWED_TAGS:
            errors.append(f"tag {name!r} not allowed")
            continue
        if m.group("close"):
            if m.group("attrs"):
                errors.append(f"attributes on </{name}>")
            if not stack or stack[-1] != name:
                errors.append(f"</{name}> does not close {stack[-1:] or 'anything'}")
            else:
                stack.pop()
            continue
        attrs = dict(_ATTR.findall(m.group("attrs")))
        parent = stack[-1] if stack else None
        if parent in ("code", "pre") and not (parent == "pre" and name == "code"):
            errors.append(f"<{name}> inside <{parent}>")
        if name == "a":
            if set(attrs) != {"href"}:
                errors.append(f"<a> attributes {attrs}")
            elif not re.match(r"(https?://[^/?#\s]|tg://)", html.unescape(attrs["href"])):
                errors.append(f"unsafe href {attrs['href']!r}")
            if "a" in stack:
                errors.append("<a> inside <a>")
        elif name == "code" and attrs:
            if parent != "pre" or set(attrs) != {"class"}:
                errors.append(f"<code {attrs}> outside <pre>")
            elif not attrs["class"].startswith("language-"):
                errors.append(f"class {attrs['class']!r}")
        elif attrs:
            errors.append(f"<{name}> takes no attributes")
        if name == "blockquote" and "blockquote" in stack:
            errors.append("nested blockquote")
        stack.append(name)
    if stack:
        errors.append(f"unclosed {stack}")
    return errors


def visible(html_text: str) -> str:
    return html.unescape(re.sub(r"<[^>]*>", "", html_text))


def nonws(s: str) -> str:
    return "".join(s.split())


def is_subsequence(needle: str, haystack: str) -> bool:
    it = iter(haystack)
    return all(c in it for c in needle)


def test_validator_rejects_what_telegram_rejects():
    assert telegram_html_errors('<b>x</b> &amp; <a href="https://x.y">y</a>') == []
    assert telegram_html_errors("a < b")
    assert telegram_html_errors("a & b")
    assert telegram_html_errors("<b><i>x</b></i>")
    assert telegram_html_errors("<b>x")
    assert telegram_html_errors("<div>x</div>")
    assert telegram_html_errors('<a href="/rel">x</a>')
    assert telegram_html_errors('<a href="https://a.b"><a href="https://a.b">x</a></a>')
    assert telegram_html_errors("<pre><b>x</b></pre>")


# --------------------------------------------------------------------------- measures


def test_utf16_len_counts_astral_characters_twice():
    assert utf16_len("abc") == 3
    assert utf16_len("日本") == 2
    assert utf16_len("😀") == 2
    assert utf16_len("") == 0


def test_utf8_len_counts_bytes():
    assert utf8_len("abc") == 3
    assert utf8_len("é") == 2
    assert utf8_len("日") == 3
    assert utf8_len("😀") == 4


def test_telegram_visible_len_strips_tags_and_decodes_entities():
    assert telegram_visible_len('<b>a&amp;b</b> <a href="https://x.y/?a=1&amp;b=2">l</a>') == 5
    assert telegram_visible_len('<pre><code class="language-py">x &lt; 1</code></pre>') == 5
    assert telegram_visible_len("😀") == 2


# --------------------------------------------------------------------------- telegram


def test_escape_html_escapes_the_four_characters():
    assert escape_html('<a href="x">&</a>') == "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;"


def test_telegram_inline_formats():
    out = to_telegram_html("**bold** *it* _it2_ ~~gone~~ `x < y`")
    assert out == "<b>bold</b> <i>it</i> <i>it2</i> <s>gone</s> <code>x &lt; y</code>"


def test_telegram_escapes_text_and_never_passes_html_through():
    out = to_telegram_html('a < b && c > d "q" <b>raw</b> <script>x</script>')
    assert "<b>raw</b>" not in out
    assert "&lt;b&gt;raw&lt;/b&gt;" in out
    assert "&amp;&amp;" in out
    assert telegram_html_errors(out) == []
    block = to_telegram_html("<div>\n<i>x</i>\n</div>")
    assert block == "&lt;div&gt;\n&lt;i&gt;x&lt;/i&gt;\n&lt;/div&gt;"


def test_telegram_links_escape_href_and_drop_unsafe_urls():
    out = to_telegram_html(
        '[site](https://ex.com/?a=1&b="2") [rel](/path) [js](javascript:alert(1))'
    )
    assert '<a href="https://ex.com/?a=1&amp;b=%222%22">site</a>' in out
    assert "rel" in out and "/path" not in out
    assert "javascript" not in out or "<a" not in out.split("site</a>")[1]
    assert telegram_html_errors(out) == []
    assert to_telegram_html("<https://auto.link/x>") == (
        '<a href="https://auto.link/x">https://auto.link/x</a>'
    )


def test_telegram_image_becomes_link_and_no_link_nests():
    assert (
        to_telegram_html("![a cat](https://img/c.png)") == '<a href="https://img/c.png">a cat</a>'
    )
    out = to_telegram_html("[![alt](https://i/p.png) and `code`](https://l.ink)")
    assert out == '<a href="https://l.ink">alt and code</a>'


def test_telegram_code_blocks():
    assert to_telegram_html("```python\nx = 1 < 2\n```") == (
        '<pre><code class="language-python">x = 1 &lt; 2</code></pre>'
    )
    assert to_telegram_html("```\nplain\n```") == "<pre>plain</pre>"
    assert to_telegram_html("    indented\n    code") == "<pre>indented\ncode</pre>"
    # a hostile info string cannot break out of the attribute
    out = to_telegram_html('```"><b>\nx\n```')
    assert telegram_html_errors(out) == []


def test_telegram_headings_lists_quotes_rules():
    md = "# Title\n\nText\n\n- one\n- two\n  - nested\n\n3. three\n4. four\n\n> quoted\n\n---\n"
    assert to_telegram_html(md) == (
        "<b>Title</b>\n\nText\n\n• one\n• two\n  • nested\n\n3. three\n4. four\n\n"
        "<blockquote>quoted</blockquote>\n\n———"
    )


def test_telegram_nested_blockquotes_are_flattened():
    out = to_telegram_html("> a\n> > b")
    assert out == "<blockquote>a\nb</blockquote>"


def test_telegram_table_rows_become_lines():
    out = to_telegram_html("| a | b |\n|---|---|\n| 1 | 2 |\n")
    assert out == "<b>a | b</b>\n1 | 2"


def test_telegram_paragraphs_are_separated_by_a_blank_line_and_breaks_kept():
    assert to_telegram_html("one\ntwo\n\nthree") == "one\ntwo\n\nthree"


# --------------------------------------------------------------------------- slack


def test_slack_inline_formats_and_links():
    out = to_slack_mrkdwn("**b** *i* ~~s~~ `c` [text](https://x.y/?a=1&b=2) <https://a.b>")
    assert out == "*b* _i_ ~s~ `c` <https://x.y/?a=1&amp;b=2|text> <https://a.b>"


def test_slack_escapes_control_characters():
    assert to_slack_mrkdwn("a < b & c > d <@U123>") == "a &lt; b &amp; c &gt; d &lt;@U123&gt;"


def test_slack_blocks():
    md = "# Head\n\n- a\n  - b\n1. one\n\n> q1\n> q2\n\n```\nx < y\n```"
    assert to_slack_mrkdwn(md) == (
        "*Head*\n\n• a\n  • b\n\n1. one\n\n> q1\n> q2\n\n```\nx &lt; y\n```"
    )


def test_slack_unsafe_link_keeps_text_and_label_cannot_break_out():
    assert to_slack_mrkdwn("[rel](/x)") == "rel"
    assert to_slack_mrkdwn("[a|b>c](https://x.y)") == "<https://x.y|a¦b&gt;c>"


# --------------------------------------------------------------------------- plain text


def test_plain_text_has_no_markup():
    md = (
        "# Title\n\n**bold** _it_ `code` [link](https://x.y/é) <https://a.b>\n\n"
        "- one\n  - two\n\n```py\nprint(1)\n```\n\n> quoted"
    )
    assert to_plain_text(md) == (
        "Title\n\nbold it code link (https://x.y/é) https://a.b\n\n"
        "• one\n  • two\n\nprint(1)\n\n│ quoted"
    )


def test_plain_text_keeps_html_and_special_characters_verbatim():
    assert to_plain_text("a < b & <i>c</i>") == "a < b & <i>c</i>"


def test_renderers_handle_empty_input():
    for render in (to_telegram_html, to_slack_mrkdwn, to_plain_text):
        assert render("") == ""
        assert render("\n\n  \n") == ""


def test_importing_markup_does_not_import_markdown_it():
    code = "import sys, imcli.markup; print('markdown_it' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------------- splitting


def ident(s: str) -> str:
    return s


def test_split_empty_source_gives_no_chunks():
    assert split_source("", markdown=True, render=ident, limit=10, measure=len) == []
    assert split_source(" \n\n", markdown=False, render=ident, limit=10, measure=len) == []


def test_split_short_text_is_one_rendered_chunk():
    assert split_source(
        "**hi**", markdown=True, render=to_telegram_html, limit=4096, measure=telegram_visible_len
    ) == ["<b>hi</b>"]


def test_split_packs_blocks_greedily():
    src = "aaaa\n\nbbbb\n\ncccc\n\ndddd"
    chunks = split_source(src, markdown=True, render=to_plain_text, limit=10, measure=len)
    assert chunks == ["aaaa\n\nbbbb", "cccc\n\ndddd"]


def test_split_keeps_a_code_block_whole_when_it_fits():
    code = "```\n" + "".join(f"line {i}\n" for i in range(5)) + "```"
    src = "intro text here\n\n" + code + "\n\nafter"
    chunks = split_source(src, markdown=True, render=ident, limit=len(code) + 2, measure=len)
    assert code in chunks
    assert chunks[0] == "intro text here"


def test_split_cuts_a_long_code_block_into_complete_code_blocks():
    src = "```py\n" + "".join(f"line {i}\n" for i in range(40)) + "```\n"
    chunks = split_source(
        src, markdown=True, render=to_telegram_html, limit=60, measure=telegram_visible_len
    )
    assert len(chunks) > 1
    for chunk in chunks:
        assert telegram_visible_len(chunk) <= 60
        assert telegram_html_errors(chunk) == []
        assert chunk.startswith('<pre><code class="language-py">')
        assert chunk.endswith("</code></pre>")
    lines = "\n".join(visible(c) for c in chunks).split("\n")
    assert lines == [f"line {i}" for i in range(40)]


def test_split_long_list_at_items_and_keeps_numbering():
    src = "".join(f"{i}. item number {i}\n" for i in range(1, 21))
    chunks = split_source(src, markdown=True, render=to_plain_text, limit=50, measure=len)
    assert len(chunks) > 1
    assert "\n".join(chunks).split("\n") == [f"{i}. item number {i}" for i in range(1, 21)]


def test_split_nested_list_continuation_does_not_turn_into_code():
    src = "- a\n  - b\n    - c\n      - d\n        - e\n- f\n"
    chunks = split_source(
        src, markdown=True, render=to_telegram_html, limit=8, measure=telegram_visible_len
    )
    assert "<pre>" not in "".join(chunks)
    assert nonws(visible("".join(chunks))) == "•a•b•c•d•e•f"


def test_split_table_repeats_its_header():
    src = "| h1 | h2 |\n|---|---|\n" + "".join(f"| {i} | v{i} |\n" for i in range(6))
    chunks = split_source(src, markdown=True, render=to_plain_text, limit=20, measure=len)
    assert len(chunks) > 1
    assert all(c.startswith("h1 | h2\n") for c in chunks)


def test_split_keeps_reference_links_working_in_every_chunk():
    src = "see [one][r] here\n\nand [two][R] there\n\n[r]: https://x.y/z\n"
    chunks = split_source(src, markdown=True, render=to_plain_text, limit=30, measure=len)
    assert chunks == ["see one (https://x.y/z) here", "and two (https://x.y/z) there"]


def test_split_hard_splits_a_long_line_at_whitespace():
    src = "word " * 50
    chunks = split_source(src, markdown=False, render=ident, limit=23, measure=len)
    assert all(len(c) <= 23 for c in chunks)
    assert all(re.fullmatch(r"(word ?)+", c) for c in chunks)
    assert nonws("".join(chunks)) == nonws(src)


def test_split_plain_text_counts_rendered_size():
    src = "&" * 30  # each & renders as 5 characters
    chunks = split_source(src, markdown=False, render=escape_html, limit=50, measure=len)
    assert [len(c) for c in chunks] == [50, 50, 50]


def test_split_does_not_break_grapheme_clusters():
    family = "👨\u200d👩\u200d👧"
    src = ("e\u0301" + family + "🇯🇵" + "👍🏽") * 20
    chunks = split_source(src, markdown=False, render=ident, limit=40, measure=utf8_len)
    assert "".join(chunks) == src
    for c in chunks:
        assert utf8_len(c) <= 40
        assert unicodedata.category(c[0]) not in ("Mn", "Me", "Mc", "Sk")
        assert c[0] != "\u200d" and c[-1] != "\u200d"
        assert c.count("🇯") == c.count("🇵")


def test_split_refuses_a_limit_that_cannot_hold_anything():
    with pytest.raises(ValueError):
        split_source("abc", markdown=False, render=ident, limit=0, measure=len)
    with pytest.raises(ValueError):
        split_source("abc", markdown=False, render=lambda s: "xx" + s, limit=2, measure=len)


def test_split_telegram_4096_limit_on_a_long_document():
    para = "Some **bold** text & <escapes> with a [link](https://ex.com/?q=1&r=2).\n"
    src = "# Report\n\n" + (para * 12 + "\n```sh\n" + "echo 'x < y'\n" * 30 + "```\n\n") * 15
    chunks = split_source(
        src, markdown=True, render=to_telegram_html, limit=4096, measure=telegram_visible_len
    )
    assert len(chunks) > 1
    for chunk in chunks:
        assert telegram_visible_len(chunk) <= 4096
        assert telegram_html_errors(chunk) == []
    # no code block was cut: each one fits a message on its own
    assert sum(c.count("<pre>") for c in chunks) == 15
    assert is_subsequence(
        nonws(visible(to_telegram_html(src))), nonws("".join(map(visible, chunks)))
    )


# --------------------------------------------------------------------------- properties

MD_FRAGMENTS = [
    "*",
    "**",
    "_",
    "__",
    "~~",
    "`",
    "```",
    "~~~",
    "[",
    "]",
    "(",
    ")",
    "<",
    ">",
    "&",
    "&amp;",
    "&#0;",
    "&#x110000;",
    '"',
    "'",
    "\\",
    "#",
    "# ",
    "- ",
    "* ",
    "+ ",
    "1. ",
    "2) ",
    "> ",
    "    ",
    "\n",
    "\n\n",
    "|",
    "|---|",
    "!",
    "![",
    "](",
    "http://",
    "https://",
    "tg://",
    "javascript:",
    "mailto:",
    "a@b.c",
    "<b>",
    "</b>",
    '<a href="x">',
    "</a>",
    "<div>",
    "<!--",
    "-->",
    "---",
    "===",
    "[x]: ",
    "<https://a.b>",
    "\t",
    "é",
    "😀",
    "\u0301",
]

markdownish = st.lists(
    st.one_of(st.sampled_from(MD_FRAGMENTS), st.text(max_size=5)), max_size=40
).map("".join)

any_text = st.one_of(st.text(), markdownish)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_text)
def test_telegram_output_is_always_parseable(md):
    out = to_telegram_html(md)
    assert telegram_html_errors(out) == []


@settings(max_examples=200, deadline=None)
@given(any_text)
def test_slack_output_has_no_stray_control_characters(md):
    out = to_slack_mrkdwn(md)
    # every "<" opens a link <url|label> or <url>; every "&" starts an escape; ">" only
    # starts a quoted line (maybe after a list marker)
    stripped = re.sub(r"<(?:https?://|mailto:)[^<>|\s]+(?:\|[^<>\n]*)?>", "", out)
    stripped = re.sub(r"^[ •0-9.)]*> ?", "", stripped, flags=re.M)
    assert "<" not in stripped and ">" not in stripped
    assert re.fullmatch(r"(?:[^&]|&(?:amp|lt|gt);)*", stripped, flags=re.S)


@settings(max_examples=200, deadline=None)
@given(any_text)
def test_plain_text_keeps_the_words(md):
    out = to_plain_text(md)
    for word in re.findall(r"[A-Za-z]{3,}", md):
        # words of the text survive (markup words like "href" may be dropped with html)
        if word not in ("href", "http", "https", "javascript", "mailto"):
            assert word in out or word in md.replace("\\", "")


@settings(max_examples=300, deadline=None)
@given(st.text(), st.integers(min_value=8, max_value=200))
def test_split_plain_within_limit_and_nothing_lost(src, limit):
    chunks = split_source(src, markdown=False, render=ident, limit=limit, measure=len)
    assert all(len(c) <= limit for c in chunks)
    assert nonws("".join(chunks)) == nonws(src)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_text, st.integers(min_value=12, max_value=120))
def test_split_markdown_within_limit_in_order_nothing_lost(src, limit):
    chunks = split_source(src, markdown=True, render=ident, limit=limit, measure=len)
    assert all(len(c) <= limit for c in chunks)
    assert is_subsequence(nonws(src), nonws("".join(chunks)))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_text, st.integers(min_value=16, max_value=200))
def test_split_telegram_chunks_are_valid_and_within_limit(src, limit):
    chunks = split_source(
        src, markdown=True, render=to_telegram_html, limit=limit, measure=telegram_visible_len
    )
    for chunk in chunks:
        assert telegram_visible_len(chunk) <= limit
        assert telegram_html_errors(chunk) == []


words = st.text(alphabet="abcdefghij ", min_size=1, max_size=60).filter(str.strip)
code_lines = st.lists(st.text(alphabet="abc xyz<>&=();", max_size=30), min_size=1, max_size=8)
blocks = st.one_of(
    words.map(lambda w: ("para", w.strip())),
    code_lines.map(lambda ls: ("fence", "```\n" + "\n".join(ls) + "\n```")),
    st.lists(words, min_size=1, max_size=4).map(
        lambda ws: ("list", "\n".join("- " + w.strip() for w in ws))
    ),
    words.map(lambda w: ("head", "## " + w.strip())),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(blocks, min_size=1, max_size=12), st.integers(min_value=20, max_value=150))
def test_split_never_cuts_a_fence_that_fits(doc, limit):
    src = "\n\n".join(text for _, text in doc)
    chunks = split_source(src, markdown=True, render=ident, limit=limit, measure=len)
    assert all(len(c) <= limit for c in chunks)
    for kind, text in doc:
        if kind == "fence" and len(text) <= limit:
            assert any(text in c for c in chunks), (text, chunks)
    assert is_subsequence(nonws(src), nonws("".join(chunks)))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(blocks, min_size=1, max_size=12), st.integers(min_value=20, max_value=150))
def test_split_rendered_text_is_complete_and_in_order(doc, limit):
    src = "\n\n".join(text for _, text in doc)
    chunks = split_source(src, markdown=True, render=to_plain_text, limit=limit, measure=len)
    assert all(len(c) <= limit for c in chunks)
    assert is_subsequence(nonws(to_plain_text(src)), nonws("".join(chunks)))
    tg = split_source(
        src, markdown=True, render=to_telegram_html, limit=limit, measure=telegram_visible_len
    )
    for chunk in tg:
        assert telegram_html_errors(chunk) == []
    for kind, text in doc:  # a fence that fits stays one <pre> in one message
        body = text[4:-4]
        if kind == "fence" and body.strip() and len(body.rstrip("\n")) <= limit:
            pre = "<pre>" + escape_html(body.rstrip("\n")) + "</pre>"
            assert any(pre in c for c in tg)


utf8_alphabet = st.sampled_from(
    ["a", "b", " ", "\n", "é", "e\u0301", "日", "本", "😀", "👍🏽", "🇯🇵", "👨\u200d👩\u200d👧", "ß"]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(utf8_alphabet, max_size=120).map("".join), st.integers(min_value=25, max_value=80))
def test_split_utf8_respects_byte_limit_without_breaking_characters(src, limit):
    chunks = split_source(src, markdown=False, render=ident, limit=limit, measure=utf8_len)
    assert nonws("".join(chunks)) == nonws(src)
    for c in chunks:
        assert utf8_len(c) <= limit
        c.encode("utf-8")  # no lone surrogates
        assert unicodedata.category(c[0]) not in ("Mn", "Me", "Mc", "Sk")
        assert c[0] != "\u200d" and c[-1] != "\u200d"
        assert c.count("🇯") == c.count("🇵")


def test_a_line_of_megabytes_is_not_rendered_whole_for_every_chunk():
    """A single 2 MB line is cut piece by piece: the whole remainder is rendered a few
    times, not once per chunk (which took quadratic time: 11 s for 5 MB)."""
    limit = 4096
    text = "word " * 400_000
    sizes: list[int] = []

    def render(s: str) -> str:
        sizes.append(len(s))
        return escape_html(s)

    chunks = split_source(text, markdown=False, render=render, limit=limit, measure=len)
    assert " ".join(chunks).split() == text.split()
    assert all(len(c) <= limit for c in chunks)
    assert len(chunks) < len(text) // limit * 1.01 + 2
    big = [n for n in sizes if n > 20 * limit]
    assert len(big) <= 3, big


# -- packing parts into messages ---------------------------------------------------------------


def test_pack_groups_fills_each_group_greedily_and_never_leaves_one_empty():
    from imcli.markup import pack_groups

    def fits(n: int, group: list[int]) -> bool:  # the first group has less room (a title)
        return sum(group) <= (5 if n == 0 else 10)

    assert pack_groups([3, 3, 4, 4, 4, 20, 1], fits) == [[3], [3, 4], [4, 4], [20], [1]]
    assert pack_groups([], fits) == []


def test_pack_titled_heads_the_first_message_and_a_title_alone_is_the_text():
    from imcli.markup import keep, pack_titled

    def packed(title: str | None, *texts: str, limit: int = 20) -> list[str]:
        return pack_titled(
            title, [(t, False) for t in texts], heading=lambda t: f"<{t}>\n",
            limit=limit, measure=len, plain=keep, markdown=keep,
        )  # fmt: skip

    assert packed("T", "one", "two") == ["<T>\none\n\ntwo"]
    assert packed("  T  ") == ["T"]
    assert packed(None, "a" * 12, "b" * 12) == ["a" * 12, "b" * 12]
    # a heading over half a message: the title is a plain message of its own first
    assert packed("t" * 12, "body", limit=20) == ["t" * 12 + "\n\nbody"]
    assert packed("t" * 12, "b" * 10, limit=20) == ["t" * 12, "b" * 10]
