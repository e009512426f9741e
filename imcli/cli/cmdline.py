"""The shape of imcli's command line, and a click-like walk of it, without typer.

:data:`COMMANDS` is the one declaration of every command's options and arguments (names,
kinds, help texts, metavars, completion) and of its help. The typer commands of ``push``,
``run``, ``accounts``, ``recipients``, ``outbox``, ``platforms`` and the root are built
from it (``table_typer``), and a test compares the typer app with it, parameter by
parameter.
:func:`walk` reads argv the way click's parser does. Two callers share it:

- shell completion (``complete.fast_path``) walks leniently, a line still being typed;
- :func:`parse_push` walks strictly: for a well-formed ``imcli [--profile P] push KIND …``
  it returns the keyword arguments the typer command would pass to
  :func:`imcli.cli.push_run.push`, so ``push`` runs without importing typer. Anything it
  is not sure of (help, ``--version``, an unknown or abbreviated option, a missing value,
  combined short flags, a flag given a value, a bad ``--timeout``, a missing or extra
  argument) makes it return None, and typer parses the line and says what is wrong.

Nothing here imports typer or click.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

HELP = ("-h", "--help")  # context_settings["help_option_names"] of every command


class Opt(NamedTuple):
    names: tuple[str, ...]
    dest: str  # the typer function's parameter
    # "str", "int", "duration" (ms, see parse_duration), "multiple" (a list of str),
    # "flag" (a bool) or "count" (a flag counted: -vv is 2)
    kind: str = "str"
    eager: bool = False  # answers and exits while parsing (--version, --show-completion)
    # what typer shows and completes (table_typer builds the option from this table)
    help: str = ""
    metavar: str | None = None  # the value's name in the help (value options)
    complete: str = ""  # offers its values: imcli.cli.complete.complete_<this>
    builtin: bool = False  # typer adds it itself (add_completion): not built from here

    @property
    def takes_value(self) -> bool:
        return self.kind not in ("flag", "count")


class Arg(NamedTuple):
    dest: str
    required: bool = False
    nargs: int = 1  # -1: all the rest
    metavar: str | None = None  # as Opt's
    help: str = ""
    complete: str = ""  # as Opt's


class Command(NamedTuple):
    options: tuple[Opt, ...] = ()
    arguments: tuple[Arg, ...] = ()
    group: bool = False  # takes a subcommand, not arguments
    help: str = ""  # the command's help: its first paragraph is its line in the list
    short_help: str = ""  # its line in the list, when not the help's first paragraph
    # False: options end at the first argument (`run`: the rest is CMD's own)
    interspersed: bool = True

    @property
    def summary(self) -> str:
        """The command's line in its group's list of commands: whole, never cut."""
        return self.short_help or " ".join(self.help.strip().split("\n\n")[0].split())

    def find(self, name: str) -> Opt | None:
        for opt in self.options:
            if name in opt.names:
                return opt
        return None


_IDS = "@FILE reads ids from a file (one a line), @- from stdin."
#: the options of every push command, as typer builds them (push_cmd)
PUSH_OPTIONS = (
    Opt(("--platform", "-p"), "platform", metavar="NAME", complete="platform",
        help="Platform name or alias (see `imcli platforms`)."),
    Opt(("--group", "-g"), "group", "multiple", metavar="ID",
        help=f"Group/channel id; repeatable. {_IDS}"),
    Opt(("--user", "-u"), "user", "multiple", metavar="ID", help=f"User id; repeatable. {_IDS}"),
    Opt(("--to",), "to", "multiple", metavar="NAME", complete="recipient",
        help="A named recipient of the profile (imcli recipients list); repeatable."),
    Opt(("--account", "-a"), "account", metavar="NAME", complete="account",
        help="Account to send with."),
    Opt(("--timeout",), "timeout", "duration", metavar="DURATION",
        help="Time budget, retries included: ms (5000) or 500ms, 5s, 2m "
        "(default 30s + 1s/MiB of media)."),
    Opt(("--option", "-o"), "option", "multiple", metavar="KEY=VALUE",
        help="KEY=VALUE merged into the send request; repeatable."),
    Opt(("--profile",), "profile", metavar="PATH", help="Profile file."),
    Opt(("--dry-run",), "dry_run", "flag", help="Validate and show the requests; send nothing."),
    Opt(("--json",), "json_out", "flag", help="Print one JSON object instead of the count."),
    Opt(("--verbose", "-v"), "verbose", "count",
        help="Log every HTTP request on stderr; -vv adds the bodies (secrets masked)."),
    Opt(("--quiet", "-q"), "quiet", "flag", help="No stderr lines for failed targets."),
    Opt(("--spool",), "spool", "flag",
        help="Keep targets that failed for a passing reason in the outbox (imcli outbox flush)."),
)  # fmt: skip
_TITLE = Opt(("--title", "-t"), "title", metavar="TITLE",
             help="Title: a heading, or the caption of media.")  # fmt: skip
_MEDIA_OPTIONS = (
    _TITLE,
    Opt(("--filename",), "filename", metavar="NAME", help="File name to send the media as."),
    Opt(("--mime",), "mime", metavar="TYPE", help="MIME type of the media."),
    *PUSH_OPTIONS,
)
_SOURCE = Arg("source", required=True, metavar="SOURCE",
              help="http(s) URL, path, ~/path, file://, base64://…, data:…;base64,… "
              "or - for stdin.")  # fmt: skip


def _media(help: str) -> Command:
    return Command(options=_MEDIA_OPTIONS, arguments=(_SOURCE,), help=help)


# the accounts and recipients commands (accounts_cmd, recipients_cmd)
_PROFILE_FILE = Opt(("--profile",), "profile", metavar="PATH", help="Profile file.")
_JSON_OUT = Opt(("--json",), "json_out", "flag", help="Print JSON.")
_ACCOUNT = Arg("name", required=True, metavar="NAME", help="Account name.",
               complete="profile_account")  # fmt: skip
_RECIPIENT = Arg("name", required=True, metavar="NAME", help="Recipient name.",
                 complete="recipient")  # fmt: skip
_ACCOUNTS: dict[tuple[str, ...], Command] = {
    ("accounts",): Command(
        group=True, help="List, add, remove, choose and test accounts in the profile."
    ),
    ("accounts", "list"): Command(
        options=(_PROFILE_FILE, _JSON_OUT),
        help="List accounts (secrets masked), the profile's first, then the environment's.",
    ),
    ("accounts", "add"): Command(
        options=(
            Opt(
                ("--platform", "-p"),
                "platform",
                metavar="NAME",
                complete="platform",
                help="Platform name or alias (asked for in a terminal).",
            ),
            Opt(
                ("--set",),
                "set_",
                "multiple",
                metavar="KEY=VALUE",
                help="key=value; repeatable. key=- reads the value from stdin; "
                "key=${VAR} stores the reference.",
            ),
            Opt(("--default",), "default", "flag", help="Make it the platform's default."),
            _PROFILE_FILE,
        ),  # fmt: skip
        # asked for in a terminal when not given
        arguments=(Arg("name", metavar="[NAME]", help="Account name (asked for in a terminal)."),),
        help="Add an account to the profile (appended; the rest of the file is left as it "
        "was).\n\nWith no NAME or --platform in a terminal, it asks for them and then for "
        "each of the platform's fields (secrets hidden).",
    ),
    ("accounts", "remove"): Command(
        options=(_PROFILE_FILE,),
        arguments=(_ACCOUNT,),
        help="Remove an account (the previous profile is kept as profile.toml.bak).",
    ),
    ("accounts", "default"): Command(
        options=(_PROFILE_FILE,),
        arguments=(_ACCOUNT,),
        help="Make an account its platform's default.",
    ),
    ("accounts", "set"): Command(
        options=(_PROFILE_FILE,),
        arguments=(
            _ACCOUNT,
            Arg(
                "pairs",
                required=True,
                nargs=-1,
                metavar="KEY=VALUE...",
                help="Fields to change: key=value, key=- (stdin), key=${VAR}; key= removes "
                "an optional field.",
            ),
        ),  # fmt: skip
        help="Change fields of an account (same rules as add; the previous profile is kept "
        "as .bak).",
    ),
    ("accounts", "show"): Command(
        options=(_PROFILE_FILE, _JSON_OUT),
        arguments=(_ACCOUNT,),
        help="Print one account (secrets masked).",
    ),
    ("accounts", "test"): Command(
        options=(
            _PROFILE_FILE,
            Opt(
                ("--timeout",),
                "timeout",
                "duration",
                metavar="DURATION",
                help="Time budget: ms (5000) or 500ms, 5s, 2m.",
            ),
            Opt(
                ("--verbose", "-v"),
                "verbose",
                "count",
                help="Log every HTTP request; -vv adds the bodies.",
            ),
            _JSON_OUT,
        ),  # fmt: skip
        arguments=(
            Arg(
                "names",
                nargs=-1,
                metavar="[NAME]...",
                complete="accounts_to_test",
                help="Accounts to test (default: all).",
            ),
        ),  # fmt: skip
        help="Call each account's identity endpoint; print online/offline (exit 1 if any is "
        "offline).",
    ),
}
_RECIPIENTS: dict[tuple[str, ...], Command] = {
    ("recipients",): Command(
        group=True, help="List, show, add and remove named recipients (push --to NAME)."
    ),
    ("recipients", "list"): Command(
        options=(_PROFILE_FILE, _JSON_OUT),
        help="List the named recipients: their targets and fallbacks.",
    ),
    ("recipients", "show"): Command(
        options=(_PROFILE_FILE, _JSON_OUT),
        arguments=(_RECIPIENT,),
        help="Show one recipient: each target with its platform and the account it goes with.",
    ),
    ("recipients", "add"): Command(
        options=(
            Opt(
                ("--fallback",),
                "fallback",
                "multiple",
                metavar="NAME",
                complete="recipient",
                help="A recipient tried when a push reaches none of the targets; repeatable, "
                "in order.",
            ),
            _PROFILE_FILE,
        ),  # fmt: skip
        arguments=(
            Arg("name", required=True, metavar="NAME", help="Recipient name."),
            Arg(
                "targets",
                required=True,
                nargs=-1,
                metavar="TARGET...",
                help="PLATFORM[@ACCOUNT]:user|group:ID, or PLATFORM@ACCOUNT for a webhook account.",
            ),
        ),  # fmt: skip
        help="Add a recipient (appended; the rest of the file is left as it was).\n\nEach "
        "target is checked as a push would check it, so nothing is stored that only fails "
        "later.",
    ),
    ("recipients", "remove"): Command(
        options=(_PROFILE_FILE,),
        arguments=(_RECIPIENT,),
        help="Remove a recipient (the previous profile is kept as profile.toml.bak).",
    ),
}

#: `run`'s own options; --dry-run and --json say what they do in run
_RUN_SAYS = {
    "dry_run": "Run nothing; show what a failure of CMD would push.",
    "json_out": "CMD's outcome and the push's result as JSON on stderr.",
}
_RUN = Command(
    options=(
        Opt(("--on",), "on", metavar="WHEN",
            help="When to push: failure (default), always, or success."),
        Opt(("--title", "-t"), "title", metavar="NAME",
            help="The job's name in the title (default: CMD's file name)."),
        Opt(("--tail",), "tail", "int", metavar="N",
            help="Lines of output in the message (default 40)."),
        Opt(("--attach-log",), "attach_log", "flag",
            help="Attach the whole output (its last 10 MiB) as a file."),
        Opt(("--markdown",), "markdown", "flag",
            help="CMD prints CommonMark: render it instead of a code block."),
        Opt(("--strict",), "strict", "flag",
            help="Exit 1 when CMD succeeded but the push failed."),
        # a duration as run reads it (30s, 5m, 2h): run_job checks it, not the parser
        Opt(("--max-runtime",), "max_runtime", metavar="DURATION",
            help="Stop CMD past this (SIGTERM, then SIGKILL after --grace): 30s, 5m, 2h."),
        Opt(("--grace",), "grace", metavar="DURATION",
            help="Between SIGTERM and SIGKILL past --max-runtime (default 10s)."),
        # every TARGETS option of push
        *(o._replace(help=_RUN_SAYS[o.dest]) if o.dest in _RUN_SAYS else o
          for o in PUSH_OPTIONS),
    ),
    arguments=(Arg("command", nargs=-1, metavar="-- CMD [ARGS...]", help="The command to run."),),
    interspersed=False,  # CMD's options are CMD's: imcli run -p tg -u 1 -- ls -l
    help="""Run CMD, pass its output through, and push its outcome when it ends.

By default only a failure is pushed: a title such as "✗ backup.sh failed (exit 2) after
3m12s on host-1" and the last lines of its output in a code block. imcli exits with
CMD's status (128+n when a signal n killed it, 124 past --max-runtime, 127/126 when it
cannot be started). Put CMD after --: imcli run -p tg -u ID -- ./backup.sh --full""",
    short_help="Run CMD; push its outcome when it ends.",
)  # fmt: skip

# the outbox commands (outbox_typer)
_IDS_ARG = Arg(
    "ids",
    nargs=-1,
    metavar="[ID]...",
    help="Entry ids (imcli outbox list), or a push id for all of its entries.",
)
#: --profile on list and drop: accepted as on every subcommand; the outbox is one for
#: every profile (each entry names the profile it was kept from)
_SHARED_PROFILE = Opt(
    ("--profile",),
    "profile",
    metavar="PATH",
    help="Accepted as everywhere; the outbox is shared by every profile.",
)
_OUTBOX: dict[tuple[str, ...], Command] = {
    ("outbox",): Command(
        group=True, help="Pushes kept for later (push --spool): list, flush, drop."
    ),
    ("outbox", "list"): Command(
        options=(_JSON_OUT, _SHARED_PROFILE),
        help="What waits in the outbox: age, why, how many tries; corrupt entries set aside.",
    ),
    ("outbox", "flush"): Command(
        options=(
            Opt(("--uncertain",), "uncertain", "flag",
                help="Also re-send entries that may have been delivered (a duplicate is "
                "possible)."),
            Opt(("--timeout",), "timeout", "duration", metavar="DURATION",
                help="Time budget of each batch of 100 entries: ms (5000) or 500ms, 5s, 2m "
                "(default as push)."),
            _PROFILE_FILE,
            _JSON_OUT,
            Opt(("--verbose", "-v"), "verbose", "count",
                help="Log every HTTP request on stderr; -vv adds the bodies (secrets masked)."),
        ),
        arguments=(_IDS_ARG,),
        help="Send what waits, oldest first; print the count sent (exit status as push).",
    ),
    ("outbox", "drop"): Command(
        options=(Opt(("--all",), "all_", "flag", help="Drop every entry."), _SHARED_PROFILE),
        arguments=(_IDS_ARG,),
        help="Remove entries without sending them; print how many.",
    ),
}  # fmt: skip

COMMANDS: dict[tuple[str, ...], Command] = {
    (): Command(
        options=(
            Opt(
                ("--profile",),
                "profile",
                metavar="PATH",
                help="Profile file (default: $IMCLI_PROFILE, then the user config dir).",
            ),
            Opt(("--version", "-V"), "version", "flag", eager=True, help="Print the version."),
            # typer's (add_completion=True): a callback that installs or prints and exits
            Opt(("--install-completion",), "install_completion", "flag", eager=True, builtin=True),
            Opt(("--show-completion",), "show_completion", "flag", eager=True, builtin=True),
        ),  # fmt: skip
        group=True,
        help="Push text, images, voice, video, files and mixed messages to chat platforms.",
    ),
    ("platforms",): Command(
        options=(Opt(("--json",), "json_out", "flag", help="Print the matrix as JSON."),),
        help="Show the support matrix: platforms, targets and message kinds.",
    ),
    ("push",): Command(group=True, help="Send a message to one or more targets."),
    ("push", "text"): Command(
        options=(
            _TITLE,
            Opt(("--markdown",), "markdown", "flag", help="CONTENT is CommonMark."),
            Opt(
                ("--max-parts",),
                "max_parts",
                "int",
                metavar="N",
                help="At most N messages per target; a longer text goes as its first part "
                "and an attached message.txt (default 10, 0 = no limit).",
            ),
            *PUSH_OPTIONS,
        ),  # fmt: skip
        arguments=(
            Arg(
                "content",
                metavar="[CONTENT]",
                help="The message; - reads stdin (a leading - goes after --).",
            ),
        ),  # fmt: skip
        help="Push a text message.",
    ),
    ("push", "image"): _media("Push an image."),
    ("push", "voice"): _media("Push a voice message (audio)."),
    ("push", "video"): _media("Push a video."),
    ("push", "file"): _media("Push a file (document)."),
    ("push", "mixed"): Command(
        options=(
            Opt(
                ("--item",),
                "item",
                "multiple",
                metavar="TYPE=VALUE",
                help="TYPE=VALUE, e.g. text=Hello, image=./a.png; repeatable, in order.",
            ),
            _TITLE,
            *PUSH_OPTIONS,
        ),  # fmt: skip
        arguments=(
            Arg(
                "items_file",
                metavar="[ITEMS]",
                help="JSON file with an array of items, or - for stdin.",
            ),
        ),  # fmt: skip
        help="Push a mixed message: text, markdown, images, voice, video and files.",
    ),
    ("run",): _RUN,
    **_ACCOUNTS,
    **_RECIPIENTS,
    **_OUTBOX,
}

#: options taking a value, per command (what completion needs to know)
VALUE_OPTIONS: dict[tuple[str, ...], frozenset[str]] = {
    path: frozenset(n for o in cmd.options if o.takes_value for n in o.names)
    for path, cmd in COMMANDS.items()
}


def _is_short(name: str) -> bool:
    """click's rule: one prefix character and one option character."""
    return len(name) == 2 and name[0] == "-" and name[1] != "-"


class Walked(NamedTuple):
    path: tuple[str, ...]  # the command reached, e.g. ("push", "text")
    values: dict[tuple[str, ...], dict[str, Any]]  # per command: dest → str, [str] or True
    positionals: list[str]  # the last command's arguments
    pending: Opt | None  # an option still waiting for its value (the line ended)
    options_done: bool  # `--` was seen in the last command


class _Decline(Exception):
    """The strict walk met something only typer should answer."""


def walk(args: list[str], *, strict: bool) -> Walked | None:
    """Read ``args`` as click's parser does, command by command.

    Strict: None for anything :func:`parse_push` leaves to typer (see the module doc).
    Lenient (completion): unknown options are skipped, bash's lone ``=`` after a long
    option is ignored, and None only when a word is not a subcommand of a group.
    """
    try:
        return _walk(args, strict)
    except _Decline:
        return None


def _walk(args: list[str], strict: bool) -> Walked | None:
    walker = _Walker(strict)
    for word in args:
        if not walker.read(word):
            return None  # not a subcommand: typer says so
    return walker.done()


class _Walker:
    """The state of a walk, one word at a time. Strict, it raises :class:`_Decline` for
    what only typer should answer (see :func:`walk`)."""

    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.path: tuple[str, ...] = ()
        self.cmd = COMMANDS[()]
        self.values: dict[tuple[str, ...], dict[str, Any]] = {(): {}}
        self.pending: Opt | None = None  # an option waiting for its value
        self.pending_name = ""  # as written: -t or --title
        self.options_done = False  # `--` was seen in this command
        self.positionals: list[str] = []

    def decline_if_strict(self) -> None:
        if self.strict:
            raise _Decline

    def read(self, word: str) -> bool:
        """Take one word; False when it is neither an option nor a subcommand of a group."""
        if word in HELP or word.startswith("--help="):
            self.decline_if_strict()  # typer prints the help, wherever it is
        if self.pending is not None:
            self.value(word)
        elif not self.options_done and word == "--":
            self.options_done = True
        elif not self.options_done and word.startswith("-") and word != "-":
            if not self.long_option(word):
                self.short_options(word)
        elif self.cmd.group:
            return self.subcommand(word)
        else:
            self.positionals.append(word)
        return True

    def value(self, word: str) -> None:
        """The value of the pending option."""
        assert self.pending is not None
        if not self.strict and word == "=" and self.pending_name.startswith("--"):
            return  # bash splits `--opt=value` into three words
        self.store(self.pending, word)
        self.pending = None

    def long_option(self, word: str) -> bool:
        """``--name``, ``--name=value`` or ``--name value``; False when ``word`` is not one
        of the command's long options (a short one, maybe: -t, -tTITLE)."""
        name, eq, value = word.partition("=")
        opt = None if _is_short(name) else self.cmd.find(name)
        if opt is None:
            if word.startswith("--"):  # unknown (or abbreviated): click has no prefixes
                self.decline_if_strict()
                return True
            return False
        if opt.takes_value:
            if eq:
                self.store(opt, value)
            else:
                self.pending, self.pending_name = opt, name
        elif eq:  # click: "Option '--json' does not take a value."
            self.decline_if_strict()
        else:
            self.store(opt, None)
        return True

    def short_options(self, word: str) -> None:
        """``-v``, ``-vv``, ``-tTITLE``, ``-t TITLE``, ``-vt TITLE``."""
        for i in range(1, len(word)):
            opt = self.cmd.find("-" + word[i])
            if opt is None:
                self.decline_if_strict()
                return
            if opt.takes_value:
                if i + 1 < len(word):
                    self.store(opt, word[i + 1 :])
                else:
                    self.pending, self.pending_name = opt, "-" + word[i]
                return
            if len(word) > 2 and not (opt.kind == "count" and set(word[1:]) == {word[1]}):
                self.decline_if_strict()  # combined flags (but -vv): rare, left to click
            self.store(opt, None)

    def subcommand(self, word: str) -> bool:
        if self.path + (word,) not in COMMANDS:
            self.decline_if_strict()
            return False
        self.path += (word,)
        self.cmd = COMMANDS[self.path]
        self.values[self.path] = {}
        self.options_done = False  # click's `--` ends only its own command's options
        return True

    def store(self, opt: Opt, value: str | None) -> None:
        """Record an option's value (None: a flag given)."""
        here = self.values[self.path]
        if value is None:
            if opt.eager:
                self.decline_if_strict()
            here[opt.dest] = here.get(opt.dest, 0) + 1 if opt.kind == "count" else True
        elif opt.kind == "multiple":
            here.setdefault(opt.dest, []).append(value)
        else:
            here[opt.dest] = value

    def done(self) -> Walked:
        if self.pending is not None:
            self.decline_if_strict()  # "Option '-t' requires an argument."
        return Walked(self.path, self.values, self.positionals, self.pending, self.options_done)


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m)?")
_UNIT_MS = {None: 1, "ms": 1, "s": 1000, "m": 60_000}


def parse_duration(text: str) -> int:
    """A ``--timeout`` value in milliseconds: a bare number is milliseconds (``5000``);
    ``500ms``, ``5s``, ``1.5s`` and ``2m`` are accepted too. ValueError otherwise."""
    m = _DURATION.fullmatch(text.strip().lower())
    if m is None:
        raise ValueError(f"{text!r} is not a duration; give milliseconds (5000) or 500ms, 5s, 2m")
    ms = float(m.group(1)) * _UNIT_MS[m.group(2)]
    if ms < 1 or ms > 7 * 86_400_000:
        raise ValueError(f"{text!r}: give a duration between 1 ms and 7 days")
    return int(ms)


PUSH_KINDS = ("text", "image", "voice", "video", "file", "mixed")


def parse_push(args: list[str]) -> tuple[str, dict[str, Any]] | None:
    """``(kind, keyword arguments of push_run.push)`` for a well-formed push line, the
    very values typer would pass; None when typer should parse the line."""
    walked = walk(args, strict=True)
    if walked is None or len(walked.path) != 2 or walked.path[0] != "push":
        return None
    cmd = COMMANDS[walked.path]
    given = walked.values[walked.path]
    kwargs: dict[str, Any] = {}
    for arg in cmd.arguments:  # every push argument takes one value
        kwargs[arg.dest] = walked.positionals.pop(0) if walked.positionals else None
        if arg.required and kwargs[arg.dest] is None:
            return None  # "Missing argument 'SOURCE'."
    if walked.positionals:
        return None  # "Got unexpected extra argument (…)"
    for opt in cmd.options:
        value = given.get(opt.dest)
        if opt.kind == "int" and value is not None:
            try:
                value = int(value)  # click's INT: int(str)
            except ValueError:
                return None  # "Invalid value for '--timeout': 'x' is not a valid integer."
        elif opt.kind == "duration" and value is not None:
            try:
                value = parse_duration(value)
            except ValueError:
                return None  # typer says what is wrong with it
        elif opt.kind == "flag":
            value = bool(value)
        elif opt.kind == "count":
            value = int(value or 0)
        kwargs[opt.dest] = value
    # --profile on the subcommand wins over the one before it (app.profile_of)
    kwargs["profile"] = kwargs["profile"] or walked.values[()].get("profile")
    return walked.path[1], kwargs
