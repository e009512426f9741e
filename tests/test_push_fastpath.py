"""The push fast path (cmdline.parse_push) against typer's own parsing.

A well-formed ``imcli push KIND …`` line runs without importing typer: cmdline.parse_push
reads argv into the keyword arguments of push_run.push. It must either decline (typer then
parses the line and reports what is wrong) or produce exactly what the typer command would
pass, for every line. These tests check that against the typer app itself.
"""

from __future__ import annotations

import contextlib
import functools
import io
import subprocess
import sys
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imcli.cli import cmdline, complete, push_run
from tests.conftest import ROOT

# -- the table is the app's ----------------------------------------------------------------


def _completer(param: Any) -> str:
    """The name of the ``complete.complete_<name>`` function behind a parameter's
    completion ("" for none), found in the closures typer wraps it in."""
    todo, seen = [getattr(param, "_custom_shell_complete", None)], set()
    while todo:
        fn = todo.pop()
        if fn is None or id(fn) in seen:
            continue
        seen.add(id(fn))
        name = getattr(fn, "__name__", "")
        if getattr(fn, "__module__", "") == complete.__name__ and name.startswith("complete_"):
            return name.removeprefix("complete_")
        for cell in getattr(fn, "__closure__", None) or ():
            with contextlib.suppress(ValueError):  # an empty cell
                todo.append(cell.cell_contents) if callable(cell.cell_contents) else None
    return ""


def _option(p: Any) -> cmdline.Opt:
    if p.is_flag:
        kind = "flag"
    elif getattr(p, "count", False):
        kind = "count"
    elif p.multiple:
        assert p.type.name == "str", p
        kind = "multiple"
    else:
        kind = {"int": "int", "str": "str", "duration": "duration"}[p.type.name]
    # eager: answers and exits while parsing (an eager option, or a callback whose value
    # no command sees, as typer's completion options: built in, their help typer's)
    builtin = not p.expose_value
    return cmdline.Opt((*p.opts, *p.secondary_opts), p.name, kind,
                       eager=p.is_eager or builtin, help="" if builtin else p.help or "",
                       metavar=p.metavar, complete=_completer(p), builtin=builtin)  # fmt: skip


def _argument(p: Any) -> cmdline.Arg:
    assert p.type.name == "str", p
    return cmdline.Arg(p.name, required=p.required, nargs=p.nargs, metavar=p.metavar,
                       help=p.help or "", complete=_completer(p))  # fmt: skip


def _typer_table() -> tuple[dict[tuple[str, ...], cmdline.Command], set[str]]:
    """The app's commands as a table, everything the table can declare."""
    import typer

    from imcli.cli.app import app

    table: dict[tuple[str, ...], cmdline.Command] = {}
    help_names: set[str] = set()

    def walk(cmd: Any, path: tuple[str, ...], parent: Any) -> None:
        ctx = cmd.make_context(path[-1] if path else "imcli", [], parent=parent,
                               resilient_parsing=True)  # fmt: skip
        help_names.update(cmd.get_help_option_names(ctx))
        options = [_option(p) for p in cmd.params if p.param_type_name == "option"]
        arguments = [_argument(p) for p in cmd.params if p.param_type_name != "option"]
        subs = getattr(cmd, "commands", None)
        # the table states a command's line in the list only when it is not the first
        # paragraph of its help (app gives every command its line: Command.summary)
        first = " ".join((cmd.help or "").strip().split("\n\n")[0].split())
        short_help = "" if cmd.short_help in (None, first) else cmd.short_help
        # a group's options end at its subcommand (click's, and the walk's, rule): the
        # table's `interspersed` is about a command's arguments
        table[path] = cmdline.Command(tuple(options), tuple(arguments),
                                      group=subs is not None, help=cmd.help or "",
                                      short_help=short_help,
                                      interspersed=ctx.allow_interspersed_args or
                                      subs is not None)  # fmt: skip
        for name, sub in (subs or {}).items():
            walk(sub, (*path, name), ctx)

    walk(typer.main.get_command(app), (), None)
    return table, help_names


def test_command_table_matches_the_app():
    """The typer app is the table: every command, and each option (names, parameter,
    kind, eagerness, help, metavar, completion) and argument of it, in order, and nothing
    else; the commands' help, their line in the list and whether options end at the
    first argument too. Every command is built from the table: it can differ only by
    what the table does not say (an option typer adds, a parameter given another way)."""
    table, help_names = _typer_table()
    assert table.keys() == cmdline.COMMANDS.keys()
    for path, cmd in table.items():
        assert cmd == cmdline.COMMANDS[path], path
    assert help_names == set(cmdline.HELP)


def test_a_command_function_must_take_the_tables_parameters():
    """from_table refuses a function whose parameters are not the table's (a parameter
    declared outside the table, or one of the table's missing), and a callback for an
    option that is not eager."""
    from imcli.cli.table_typer import from_table

    def extra(ctx: Any, name: str, profile: str | None, json_out: bool, color: bool) -> None:
        pass

    def missing(ctx: Any, name: str, profile: str | None) -> None:
        pass

    def right(ctx: Any, name: str, profile: str | None, json_out: bool) -> None:
        pass

    for fn in (extra, missing):
        with pytest.raises(TypeError, match="the table of `imcli accounts show` gives"):
            from_table("accounts", "show")(fn)
    with pytest.raises(TypeError, match="callbacks are for the table's eager options"):
        from_table("accounts", "show", json_out=print)(right)
    built = from_table("accounts", "show")(right)
    assert built.__doc__ == cmdline.COMMANDS[("accounts", "show")].help


@pytest.mark.parametrize("path", [p for p, c in cmdline.COMMANDS.items() if not c.group],
                         ids=" ".join)  # fmt: skip
def test_the_help_shows_the_tables_texts(path):
    """`imcli … --help` of every command shows each help text and metavar the table
    gives, in the table's order, and the command's help."""
    from imcli.cli.app import run_app

    sink = io.StringIO()
    with contextlib.redirect_stdout(sink):
        assert run_app([*path, "--help"]) == 0
    shown = " ".join(sink.getvalue().split())
    cmd = cmdline.COMMANDS[path]
    at = 0
    for item in [*cmd.arguments, *cmd.options]:
        if not item.help:
            continue
        names = ", ".join(sorted(getattr(item, "names", ()), key=len))
        entry = " ".join(x for x in (names, item.metavar or "", item.help) if x)
        assert entry in shown[at:], (path, entry)
        at = shown.index(entry, at)
    if cmd.help:
        assert shown.startswith(f"Usage: imcli {' '.join(path)} [OPTIONS] ")
        assert " ".join(cmd.help.split()) in shown


@pytest.mark.parametrize("group", [p for p, c in cmdline.COMMANDS.items() if c.group],
                         ids=lambda p: " ".join(p) or "imcli")  # fmt: skip
def test_every_group_lists_its_commands_lines_whole(group):
    """`imcli GROUP --help` lists each subcommand with its whole line (the table's
    short help, or its help's first paragraph), wrapped, never cut with "..."."""
    from imcli.cli.app import run_app

    sink = io.StringIO()
    with contextlib.redirect_stdout(sink):
        assert run_app([*group, "--help"]) == 0
    listed = " ".join(sink.getvalue().partition("\nCommands:\n")[2].split())
    subcommands = [p for p in cmdline.COMMANDS if len(p) == len(group) + 1 and p[:-1] == group]
    assert subcommands
    for path in subcommands:
        assert f"{path[-1]} {cmdline.COMMANDS[path].summary}" in listed, path
    assert "..." not in listed


def test_every_short_option_is_one_character_and_every_long_one_has_two_dashes():
    for cmd in cmdline.COMMANDS.values():
        for opt in cmd.options:
            for name in opt.names:
                assert (len(name) == 2 and name[1] != "-") or name.startswith("--"), name


# -- the same keyword arguments as typer ---------------------------------------------------


@functools.cache
def _click_command() -> Any:
    import typer

    from imcli.cli.app import app

    return typer.main.get_command(app)


def typer_parse(args: list[str]) -> tuple[str, dict[str, Any]] | None:
    """What the typer app passes to push_run.push for ``args`` (None: it never got there).

    typer builds the click command anew on each run (50 ms, most of a parse); a process
    runs the app once, this test a thousand times, so it builds it once: the command is
    the same object each time, and click keeps no state in it between runs."""
    import typer

    from imcli.cli.app import run_app

    got: list[tuple[str, dict[str, Any]]] = []

    def fake(kind: str, **kwargs: Any) -> int:
        got.append((kind, kwargs))
        return 0

    sink = io.StringIO()
    with (
        mock.patch.object(push_run, "push", fake),
        mock.patch.object(typer.main, "get_command", lambda _app, built=_click_command(): built),
        contextlib.redirect_stdout(sink),
        contextlib.redirect_stderr(sink),
    ):
        run_app(list(args))
    assert len(got) <= 1
    return got[0] if got else None


def check(args: list[str]) -> tuple[str, dict[str, Any]] | None:
    fast = cmdline.parse_push(list(args))
    if fast is not None:
        assert fast == typer_parse(args), args
    return fast


T = ["push", "text"]
IMG = ["push", "image"]

#: lines the fast path must run itself (and does, as typer would)
HANDLED = [
    T + ["-p", "tg", "-u", "1", "hello"],
    T + ["hello", "-p", "tg", "-u", "1"],  # options after the argument
    T + ["-p", "tg", "-g", "-1001234", "-g", "-42", "-u", "7", "hi"],  # negative ids
    T + ["--platform=tg", "--group=-100", "--user=5", "--title=a=b", "x"],
    T + ["-ptg", "-g-100", "-tTitle", "-uX", "-oa=b", "-o", "c=d", "--option=e=f"],
    T + ["-t=x", "-p", "tg", "-u", "1"],  # click: the title is "=x"
    T + ["-title", "-u", "1"],  # click: -t with "itle"
    T + ["-t", "--json", "-u", "1"],  # a value that looks like an option is a value
    T + ["-t", "--", "-u", "1"],
    T + ["-u", "1", "--", "-starts with a dash"],
    T + ["-u", "1", "--", "--"],
    T + ["-u", "1", "--", "-"],
    T + ["-u", "1", "-"],
    T + ["-u", "1", ""],
    T + ["--markdown", "--dry-run", "--json", "-v", "--verbose", "-u", "1", "x"],
    T + ["--timeout", "1500", "-u", "1", "x"],
    T + ["--timeout", " 7 ", "-u", "1", "x"],  # a duration: surrounding spaces are fine
    T + ["--timeout", "5s", "--timeout", "500ms", "-u", "1", "x"],  # the last one wins
    T + ["--timeout", "x", "--timeout", "2m", "-u", "1", "x"],  # only the last is converted
    T + ["-u", "1", "--timeout", "1.5s", "hi"],
    T + ["-vv", "-q", "-u", "1", "hi"],
    T + ["-t", "a", "--title", "b", "-a", "acc", "--account=acc2", "-u", "1"],
    T + ["-u", "1"],  # no content: stdin or the title decide later
    ["--profile", "/p.toml", "push", "text", "-u", "1", "x"],
    ["--profile=/p.toml", "push", "text", "-u", "1", "x"],
    ["--profile", "/a", "push", "text", "--profile", "/b", "-u", "1", "x"],
    ["--profile", "/a", "push", "text", "--profile", "", "-u", "1", "x"],  # "" → the root's
    ["--profile", "--version", "push", "text", "-u", "1", "x"],  # a value, not the flag
    ["--", "push", "text", "-u", "1", "x"],
    ["push", "--", "text", "-u", "1", "x"],
    ["--", "push", "text", "-u", "1", "--", "-x"],
    IMG + ["./a.png", "-p", "tg", "-u", "1", "--filename", "b.png", "--mime=image/png"],
    IMG + ["-p", "tg", "-u", "1", "--", "-weird.png"],
    ["push", "voice", "v.ogg", "-u", "1"],
    ["push", "video", "-u", "1", "https://example.com/v.mp4", "-t", "cap"],
    ["push", "file", "-", "-u", "1"],
    ["push", "mixed", "-u", "1", "--item", "text=Hello", "--item=image=./a.png"],
    ["push", "mixed", "items.json", "-u", "1", "-t", "T"],
    ["push", "mixed", "-u", "1"],
]

#: lines typer must parse: usage errors, help, and what the fast path does not attempt
DECLINED = [
    ["push"],
    ["push", "nope"],
    ["push", "-h"],
    ["push", "--help", "text"],
    T + ["-h"],
    T + ["-t", "-h", "-u", "1"],  # a title to click, but -h anywhere is left to typer
    T + ["-u", "1", "--help"],
    T + ["-u", "1", "x", "-h"],
    T + ["-u", "1", "--", "-h"],  # typer's business: it is cheap to leave
    T + ["--help=x"],
    T + ["-u", "1", "--bogus", "x"],
    T + ["-u", "1", "--tit", "x"],  # no abbreviations in click
    T + ["-u", "1", "-x"],
    T + ["-u", "1", "-5"],  # a negative number where no option takes it
    T + ["-u"],  # missing value
    T + ["-u", "1", "--title"],
    T + ["-u", "1", "a", "b"],  # extra argument
    T + ["-u", "1", "--timeout", "x", "hi"],
    T + ["-u", "1", "--timeout", "5h", "hi"],
    T + ["--timeout=-3", "-u", "1", "x"],
    T + ["-u", "1", "--timeout=", "hi"],
    T + ["-u", "1", "--json=1", "hi"],  # a flag given a value
    T + ["-u", "1", "-vt", "T", "hi"],  # combined short flags: valid, left to click
    T + ["-u", "1", "-vq", "hi"],
    T + ["-u", "1", "--filename", "a", "hi"],  # not an option of text
    IMG + ["-u", "1"],  # missing SOURCE
    IMG + ["-u", "1", "a.png", "b.png"],
    IMG + ["-u", "1", "--markdown", "a.png"],
    ["push", "mixed", "-u", "1", "a.json", "b.json"],
    ["--version", "push", "text", "-u", "1", "x"],
    ["-V", "push", "text", "-u", "1", "x"],
    ["--profile"],
    ["--profile", "p"],
    ["--profile", "p", "accounts", "list"],
    ["--bogus", "push", "text", "x"],
    ["-h", "push", "text", "x"],
    ["push", "-u", "1", "text", "x"],  # the group has no such option
    ["platforms"],
]


@pytest.mark.parametrize("args", HANDLED, ids=" ".join)
def test_the_fast_path_handles_valid_lines_as_typer_does(args):
    assert check(args) is not None, args


@pytest.mark.parametrize("args", DECLINED, ids=" ".join)
def test_the_fast_path_leaves_these_to_typer(args):
    assert cmdline.parse_push(list(args)) is None


def test_declined_lines_include_valid_ones_typer_then_runs():
    assert typer_parse(T + ["-u", "1", "-vt", "T", "hi"]) == typer_parse(
        T + ["-u", "1", "-v", "-t", "T", "hi"]
    )
    assert typer_parse(T + ["-u", "1", "--", "-h"]) is not None


# random mixes of every push option, right and wrong ---------------------------------------

_OPTS = {o.names: o for path, c in cmdline.COMMANDS.items() if path[:1] == ("push",)
         for o in c.options}  # fmt: skip
_VALUE_NAMES = sorted(n for o in _OPTS.values() if o.takes_value for n in o.names)
_FLAG_NAMES = sorted(n for o in _OPTS.values() if not o.takes_value for n in o.names)
_LONG = [n for n in _VALUE_NAMES + _FLAG_NAMES if n.startswith("--")]
_SHORT = [n for n in _VALUE_NAMES if not n.startswith("--")]
_SHORT_FLAGS = [n for n in _FLAG_NAMES if not n.startswith("--")]

values = st.sampled_from(
    ["x", "", "-", "--", "-1001234", "12", " 7", "1_000", "+3", "1.5", "a=b", "=", "-h",
     "--json", "-t", "--title", "héllo wörld", "-v", "text", "push"]
) | st.text(max_size=5)  # fmt: skip

token = st.one_of(
    st.tuples(st.sampled_from(_VALUE_NAMES), values).map(list),  # -t X, --title X
    st.tuples(st.sampled_from(_LONG), values).map(lambda t: [f"{t[0]}={t[1]}"]),
    st.tuples(st.sampled_from(_SHORT + _SHORT_FLAGS), values).map(lambda t: [t[0] + t[1]]),
    st.sampled_from(_FLAG_NAMES).map(lambda n: [n]),
    st.sampled_from(_VALUE_NAMES).map(lambda n: [n]),  # maybe left without its value
    values.map(lambda v: [v]),  # a positional, or something that looks like an option
    st.just(["--"]),
    st.sampled_from(["--nope", "-x", "--tit", "-vt", "-h", "--help", "-V", "--version"]).map(
        lambda n: [n]
    ),
)
prefix = st.sampled_from(
    [[], [], ["--profile", "/p"], ["--profile=/q"], ["--profile", ""], ["--"], ["-V"],
     ["--profile"]]
)  # fmt: skip
middle = st.sampled_from([[], [], [], ["--"], ["-h"], ["x"]])


@settings(
    max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    prefix,
    middle,
    st.sampled_from(cmdline.PUSH_KINDS),
    st.lists(token, max_size=7).map(lambda ts: [w for t in ts for w in t]),
)
def test_random_lines_parse_as_typer_parses_them(before, between, kind, words):
    args = [*before, "push", *between, kind, *words]
    fast = cmdline.parse_push(args)
    slow = typer_parse(args)
    if fast is not None:
        assert fast == slow, args


@st.composite
def valid_lines(draw: st.DrawFn) -> list[str]:
    """Lines click accepts, in every form the fast path must run itself."""
    kind = draw(st.sampled_from(cmdline.PUSH_KINDS))
    cmd = cmdline.COMMANDS[("push", kind)]
    safe = st.sampled_from(
        ["x", "", "-", "--", "-1001234", "12", "a=b", "=", "--json", "-t", "héllo", "text"]
    ) | st.text(max_size=4).filter(lambda v: v not in cmdline.HELP and "--help=" not in v)
    number = st.sampled_from(["0", "1500", "-3", " 7", "1_000", "+5", "٣"])
    duration = st.sampled_from(["1", "1500", " 7", "500ms", "5s", "1.5s", "2m", "3 S"])
    words: list[str] = []
    for opt in draw(st.lists(st.sampled_from(cmd.options), max_size=8)):
        name = draw(st.sampled_from(opt.names))
        if not opt.takes_value:
            words.append(name)
            continue
        value = draw(number if opt.kind == "int" else duration if opt.kind == "duration" else safe)
        form = draw(st.sampled_from(["apart", "joined"]))
        if form == "apart":
            words += [name, value]
        elif name.startswith("--"):
            words.append(f"{name}={value}")
        elif value:  # -tX (an empty X would leave -t waiting for the next word)
            words.append(name + value)
        else:
            words += [name, value]
    n = 1 if cmd.arguments[0].required else draw(st.integers(0, 1))
    if n:
        arg = draw(safe)
        at = draw(st.integers(0, len(words)))
        while at and words[at - 1] in cmdline.VALUE_OPTIONS[("push", kind)]:
            at -= 1  # not where it would be an option's value
        if arg.startswith("-") and arg != "-" or draw(st.booleans()):
            words += ["--", arg]  # a leading - goes after --
        else:
            words.insert(at, arg)
    before = draw(st.sampled_from([[], ["--profile", "/p"], ["--profile=/q"], ["--"]]))
    return [*before, "push", kind, *words]


@settings(max_examples=400, deadline=None)
@given(valid_lines())
def test_random_valid_lines_take_the_fast_path_with_typers_values(args):
    fast = cmdline.parse_push(args)
    assert fast is not None, args
    assert fast == typer_parse(args), args


# -- real processes ------------------------------------------------------------------------

_WRAPPER = (
    "import sys, runpy\n"
    "sys.argv = ['imcli'] + sys.argv[1:]\n"
    "try:\n    runpy.run_module('imcli', run_name='__main__')\n"
    "except SystemExit as exc:\n    code = exc.code\n"
    "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('typer', 'click'))\n"
    "print('LOADED', bad, code, file=sys.stderr)\n"
)


def run_wrapped(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _WRAPPER, *args],
        capture_output=True, text=True, cwd=str(ROOT), timeout=60,
    )  # fmt: skip


def test_a_valid_push_does_not_import_typer(tg_profile, telegram):
    proc = run_wrapped("push", "text", "-p", "tg", "-u", "4242", "-t", "T", "--", "-body")
    assert proc.stdout == "1\n"
    assert proc.stderr == "LOADED [] 0\n"
    [m] = telegram.sent_messages()
    assert m.fields["text"] == "<b>T</b>\n-body"
    # an error found after parsing is the fast path's too: same output, still no typer
    proc = run_wrapped("push", "text", "-p", "myspace", "-u", "1", "hi")
    assert proc.stdout == "0\n"
    assert proc.stderr.splitlines()[-1] == "LOADED [] 2"


@pytest.mark.parametrize(
    "args,error",
    [
        (T + ["-p", "tg", "-u", "1", "--bogus", "x"], "Error: No such option: --bogus"),
        (T + ["-p", "tg", "-u", "1", "a", "b"], "Error: Got unexpected extra argument(s) (b)"),
        (T + ["-u", "1", "--timeout", "soon", "x"], "Error: Invalid value for '--timeout'"),
        (IMG + ["-p", "tg", "-u", "1"], "Error: Missing argument 'SOURCE'."),
        # click raises this one without its context; imcli finds the command's usage itself
        (T + ["-p", "tg", "-u"], "Error: Option '-u' requires an argument."),
    ],
)
def test_invalid_lines_still_get_typers_usage_error(cli_proc, args, error):
    r = cli_proc(*args)
    assert (r.code, r.stdout) == (2, "")
    *usage, message = r.stderr.splitlines()
    assert len(usage) == 1 and usage[0].startswith(f"Usage: imcli {' '.join(args[:2])} ")
    assert message.startswith(error), message


def test_a_line_the_fast_path_declines_but_click_accepts_still_runs(cli_proc, tg_profile, telegram):
    r = cli_proc("push", "text", "-p", "tg", "-u", "9", "-vt", "Head", "body")
    assert (r.code, r.stdout) == (0, "1\n")
    assert "sendMessage" in r.stderr  # -v: the request is logged
    assert telegram.sent_messages()[0].fields["text"] == "<b>Head</b>\nbody"


@pytest.mark.parametrize(
    "args",
    [
        T + ["-p", "tg", "-u", "1", "-u", "2", "--dry-run", "--json", "hi"],
        T + ["-p", "tg", "-u", "1", "--dry-run", "-t", "T", "--markdown", "**hi**"],
        T + ["-p", "myspace", "-u", "1", "--json", "hi"],
        T + ["-p", "tg", "hi"],
        T + ["-p", "tg", "-u", "1", "-o", "chat_id=5", "hi"],
        IMG + ["-p", "tg", "-u", "1", "/no/such/file.png"],
        ["push", "mixed", "-p", "tg", "-u", "1", "--item", "text=a", "--item", "bogus=b"],
    ],
    ids=" ".join,
)
def test_both_paths_print_the_same(cli, tg_profile, telegram, args):
    """The whole run, output and status, is the same through the fast path and typer."""
    from tests.conftest import run_in_process

    assert cmdline.parse_push(args) is not None
    fast = cli(*args)
    with mock.patch.object(cmdline, "parse_push", lambda args: None):
        slow = run_in_process(*args)
    assert (fast.code, fast.stdout, fast.stderr) == (slow.code, slow.stdout, slow.stderr)
