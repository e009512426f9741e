"""Shell completion: the committed scripts, what they complete, the fast path."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from imcli.cli import complete
from tests.conftest import ROOT

COMPLETIONS = ROOT / "completions"

PROFILE = """\
[accounts.work]
platform = "telegram"
token = "123:abc"
default = true

[accounts.team]
platform = "slack"
token = "xoxb-1"

[accounts.bot]
platform = "feishu"
app_id = "cli_a"
app_secret = "s"

[recipients.bob]
targets = ["slack:user:U1"]
"""


@pytest.fixture
def profile(isolated_env: Path) -> Path:
    path = Path(os.environ["IMCLI_PROFILE"])
    path.write_text(PROFILE)
    return path


def _env(shell: str, line: str, extra: dict[str, str] | None = None, action: str = "get-args"):
    """The variables a shell's script sets to ask for completions of ``line``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMP_", "_TYPER_"))}
    env["PYTHONPATH"] = str(ROOT)
    env["_IMCLI_COMPLETE"] = f"complete_{shell}"
    if shell == "bash":
        # bash: the words and the index of the one under the cursor
        words = line.split(" ")
        env["COMP_WORDS"] = " ".join(words)
        env["COMP_CWORD"] = str(len(words) - 1)
    else:
        env["_TYPER_COMPLETE_ARGS"] = line
        if shell == "fish":
            env["_TYPER_COMPLETE_FISH_ACTION"] = action
    env.update(extra or {})
    return env


def run_complete(shell: str, line: str, extra: dict[str, str] | None = None, **kw):
    """``imcli`` as the completion script calls it."""
    return subprocess.run(
        [sys.executable, "-m", "imcli"],
        env=_env(shell, line, extra, **kw),
        capture_output=True,
        text=True,
        cwd=str(ROOT),
        timeout=60,
    )


def typer_complete(shell: str, line: str, extra: dict[str, str] | None = None, **kw):
    """The same request answered by typer's machinery alone (no fast path)."""
    code = "import sys\nfrom imcli.cli.complete import typer_path\nsys.exit(typer_path([]))\n"
    return subprocess.run(
        [sys.executable, "-c", code],
        env=_env(shell, line, extra, **kw),
        capture_output=True,
        text=True,
        cwd=str(ROOT),
        timeout=60,
    )


def words(line: str) -> list[str]:
    return run_bash(line)


def run_bash(line: str, extra: dict[str, str] | None = None) -> list[str]:
    proc = run_complete("bash", line, extra)
    assert proc.returncode == 0 and proc.stderr == "", proc
    return proc.stdout.split()


# -- the scripts -------------------------------------------------------------------------


@pytest.mark.parametrize("shell", sorted(complete.SCRIPTS))
def test_committed_scripts_are_current(shell):
    path = COMPLETIONS / complete.SCRIPTS[shell]
    assert path.read_text("utf-8") == complete.script(shell), (
        f"{path} is stale: run python -m imcli.cli.complete --write completions/"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "imcli"],
        env={**os.environ, "_IMCLI_COMPLETE": f"source_{shell}"},
        capture_output=True,
        text=True,
        cwd=str(ROOT),
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, path.read_text("utf-8"), "")


def test_the_scripts_call_imcli_back():
    bash = (COMPLETIONS / "imcli.bash").read_text()
    assert "_IMCLI_COMPLETE=complete_bash" in bash and "IFS=$'\\n'" in bash
    assert "complete -o default -F _imcli_completion imcli" in bash  # files when no words
    zsh = (COMPLETIONS / "_imcli").read_text()
    assert zsh.startswith("#compdef imcli\n") and "_IMCLI_COMPLETE=complete_zsh" in zsh
    assert "loadautofunc" in zsh  # works autoloaded from $fpath and sourced
    fish = (COMPLETIONS / "imcli.fish").read_text()
    assert "_IMCLI_COMPLETE=complete_fish" in fish and "is-args" in fish


def test_generator_writes_and_checks(tmp_path):
    def gen(*args):
        return subprocess.run(
            [sys.executable, "-m", "imcli.cli.complete", *args],
            capture_output=True, text=True, cwd=str(ROOT),
        )  # fmt: skip

    assert gen("--check", str(COMPLETIONS)).returncode == 0
    out = tmp_path / "out"
    assert gen("--check", str(out)).returncode == 1
    assert gen("--write", str(out)).returncode == 0
    for shell, name in complete.SCRIPTS.items():
        assert (out / name).read_text() == (COMPLETIONS / name).read_text(), shell
    assert gen("--check", str(out)).returncode == 0


def test_value_options_table_matches_the_app():
    """The fast path's table of options taking a value is the app's, command by command."""
    import typer

    from imcli.cli.app import app

    seen = {}

    def walk(cmd, path):
        opts = set()
        for p in cmd.params:
            if p.param_type_name == "option" and not (p.is_flag or p.count):
                opts.update(p.opts + p.secondary_opts)
        seen[path] = frozenset(opts)
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, (*path, name))

    walk(typer.main.get_command(app), ())
    assert seen == complete.VALUE_OPTIONS


# -- what is completed -------------------------------------------------------------------


def test_subcommands_and_options():
    assert {"push", "accounts", "platforms"} <= set(words("imcli "))
    assert words("imcli pu") == ["push"]
    assert set(words("imcli push ")) == {"text", "image", "voice", "video", "file", "mixed"}
    assert set(words("imcli accounts ")) == {
        "list", "add", "set", "show", "remove", "default", "test"
    }  # fmt: skip
    opts = words("imcli push text --")
    assert {"--platform", "--account", "--group", "--markdown", "--profile"} <= set(opts)
    assert "--filename" in words("imcli push image --f")


def test_platform_names_and_aliases():
    assert words("imcli push text -p t") == ["telegram", "tg"]
    assert words("imcli push image --platform w") == [
        "wechat", "wecom", "wecom-robot", "weixin", "wx", "wxwork",
    ]  # fmt: skip
    assert words("imcli accounts add x -p fe") == ["feishu", "feishu-robot"]
    every = words("imcli push file -p ")
    assert {"telegram", "tg", "lark", "feishu", "fs", "slack", "qq", "onebot"} <= set(every)
    assert "discord" not in every  # refused platforms are not offered
    # bash splits `--platform=te` at the `=`
    assert words("imcli push text --platform = te") == ["telegram"]


def test_account_names_from_the_profile(profile, tmp_path):
    assert words("imcli push text -a ") == ["work", "team", "bot"]
    assert words("imcli push image --account t") == ["team"]
    assert words("imcli push text -p tg -a ") == ["work"]  # only the platform's accounts
    assert words("imcli push text -p feishu -a ") == ["bot"]
    other = tmp_path / "other.toml"
    other.write_text('[accounts.elsewhere]\nplatform = "slack"\ntoken = "x"\n')
    assert words(f"imcli push text --profile {other} -a ") == ["elsewhere"]
    assert words(f"imcli --profile {other} push text -a ") == ["elsewhere"]
    assert words(f"imcli --profile {profile} push text --profile {other} -a ") == ["elsewhere"]
    # $IMCLI_PROFILE, then the default path
    assert run_bash("imcli push text -a ", {"IMCLI_PROFILE": str(other)}) == ["elsewhere"]
    env = {k: v for k, v in os.environ.items() if k != "IMCLI_PROFILE"}
    proc = subprocess.run(
        [sys.executable, "-c", "from imcli.profile import default_path; print(default_path())"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    default = Path(proc.stdout.strip())
    default.parent.mkdir(parents=True, exist_ok=True)
    default.write_text('[accounts.mine]\nplatform = "tg"\ntoken = "1:a"\n')
    proc = subprocess.run(
        [sys.executable, "-m", "imcli"],
        env={**_env("bash", "imcli push text -a "), "IMCLI_PROFILE": ""},
        capture_output=True, text=True, cwd=str(ROOT),
    )  # fmt: skip
    assert proc.stdout.split() == ["mine"]


def test_environment_accounts(profile):
    extra = {"IMCLI_TELEGRAM_TOKEN": "1:x", "IMCLI_SLACK_TOKEN": "xoxb-2"}
    assert run_bash("imcli push text -a ", extra) == [
        "work", "team", "bot", "env-telegram", "env-slack",
    ]  # fmt: skip
    assert run_bash("imcli push text -a env", extra) == ["env-telegram", "env-slack"]
    assert run_bash("imcli push text -p slack -a ", extra) == ["team", "env-slack"]
    assert run_bash("imcli accounts test ", extra)[-1] == "env-slack"
    # only profile accounts can be removed or made the default
    assert run_bash("imcli accounts remove ", extra) == ["work", "team", "bot"]


def test_account_name_arguments(profile):
    assert words("imcli accounts remove ") == ["work", "team", "bot"]
    assert words("imcli accounts default w") == ["work"]
    assert words("imcli accounts remove work ") == []  # one name only
    assert words("imcli accounts test ") == ["work", "team", "bot"]
    assert words("imcli accounts test work ") == ["team", "bot"]  # not twice
    assert words("imcli accounts test --timeout 500 ") == ["work", "team", "bot"]


def test_source_arguments_are_left_to_the_shell(profile):
    """No words: bash's `-o default`, zsh's `_files` and fish's is-args=1 complete files."""
    assert words("imcli push image -p tg -u 1 ") == []
    assert words("imcli push mixed -p tg -u 1 ") == []
    assert words("imcli --profile ") == []
    assert run_complete("zsh", "imcli push file -p tg -u 1 ").stdout == "_files\n"
    fish = run_complete("fish", "imcli push video -p tg -u 1 ", action="is-args")
    assert (fish.returncode, fish.stdout) == (1, "")


def test_a_broken_profile_completes_nothing_quietly(profile):
    profile.write_text("[accounts.work\nplatform = ")
    for line in ("imcli push text -a ", "imcli accounts remove ", "imcli accounts test "):
        proc = run_complete("bash", line)
        assert (proc.returncode, proc.stdout.strip(), proc.stderr) == (0, "", ""), line
        proc = run_complete("zsh", line)
        assert (proc.returncode, proc.stderr) == (0, ""), line
        assert "Traceback" not in proc.stdout
    profile.write_text('accounts = "nope"\n')
    assert words("imcli push text -a ") == []
    profile.write_text('[accounts.ok]\nplatform = "tg"\n[accounts.weird]\nplatform = 3\n')
    assert words("imcli push text -a ") == ["ok", "weird"]


def test_zsh_and_fish_formats(profile):
    zsh = run_complete("zsh", "imcli push text -a ")
    assert zsh.returncode == 0
    assert zsh.stdout == (
        '_arguments \'*: :(("work":"telegram"\n"team":"slack"\n"bot":"lark"))\'\n'
    )
    zsh = run_complete("zsh", "imcli push text -p t")
    assert zsh.stdout == '_arguments \'*: :(("telegram":"Telegram"\n"tg":"Telegram"))\'\n'
    fish = run_complete("fish", "imcli push text -a ")
    assert (fish.returncode, fish.stdout) == (0, "work\ttelegram\nteam\tslack\nbot\tlark\n")
    assert run_complete("fish", "imcli push text -a ", action="is-args").returncode == 0
    assert run_complete("fish", "imcli push text -a x", action="is-args").returncode == 1
    fish = run_complete("fish", "imcli push text --platform=s")
    assert fish.stdout == "slack\tSlack\nslack-webhook\tSlack incoming webhook\n"
    assert "push" in run_complete("zsh", "imcli ").stdout
    assert "push" in run_complete("fish", "imcli ").stdout


CASES = [
    ("bash", "imcli push text -p t"),
    ("bash", "imcli push text -p "),
    ("bash", "imcli push text -a "),
    ("bash", "imcli push image -g -100 -a w"),
    ("bash", "imcli push text -p tg -a "),
    ("bash", "imcli push text --platform=sl -a "),
    ("bash", "imcli --profile PROFILE push text -a "),
    ("bash", "imcli accounts add x --platform "),
    ("bash", "imcli accounts remove "),
    ("bash", "imcli accounts default --profile PROFILE "),
    ("bash", "imcli accounts test team "),
    ("zsh", "imcli push text -a "),
    ("zsh", "imcli push voice -p w"),
    ("zsh", "imcli push text --platform=te"),
    ("zsh", "imcli accounts test "),
    ("zsh", "imcli push text -a nobody"),
    ("fish", "imcli push text -a "),
    ("fish", "imcli push mixed -p "),
    ("fish", "imcli accounts remove b"),
]


@pytest.mark.parametrize(("shell", "line"), CASES)
def test_the_fast_path_answers_as_typer_would(profile, shell, line):
    line = line.replace("PROFILE", str(profile))
    extra = {"IMCLI_SLACK_TOKEN": "xoxb-env"}
    fast = run_complete(shell, line, extra)
    slow = typer_complete(shell, line, extra)
    assert (fast.returncode, fast.stdout, fast.stderr) == (
        slow.returncode, slow.stdout, slow.stderr
    )  # fmt: skip
    if shell == "fish":
        for action in ("is-args", "get-args"):
            a = run_complete(shell, line, extra, action=action)
            b = typer_complete(shell, line, extra, action=action)
            assert (a.returncode, a.stdout) == (b.returncode, b.stdout)


_IMPORTS = (
    "import sys, runpy\n"
    "sys.argv = ['imcli']\n"
    "try:\n    runpy.run_module('imcli', run_name='__main__')\n"
    "except SystemExit:\n    pass\n"
    "heavy = ('typer', 'click', 'httpx', 'httpcore', 'rich', 'asyncio', 'ssl')\n"
    "print('LOADED', [m for m in heavy if m in sys.modules], file=sys.stderr)\n"
)


@pytest.mark.parametrize(
    ("shell", "line"),
    [
        ("bash", "imcli push text -a "),
        ("bash", "imcli push text -p "),
        ("bash", "imcli accounts remove "),
        ("zsh", "imcli push image -a "),
        ("fish", "imcli push text -p tg -a "),
        ("fish", "imcli accounts add x -p "),
    ],
)
def test_the_fast_path_does_not_load_typer_or_the_http_stack(profile, shell, line):
    proc = subprocess.run(
        [sys.executable, "-c", _IMPORTS],
        env=_env(shell, line, {"IMCLI_TELEGRAM_TOKEN": "1:x"}),
        capture_output=True, text=True, cwd=str(ROOT),
    )  # fmt: skip
    assert proc.stdout.strip(), proc
    assert "LOADED []" in proc.stderr, proc.stderr[-500:]


def _table_completions() -> list[tuple[str, str]]:
    """A line completing each option and argument whose table entry names a completion
    (push: one kind, they share their options; `run` is typer's, see complete.py), with
    the completion's name."""
    from imcli.cli import cmdline

    lines = []
    for path, cmd in cmdline.COMMANDS.items():
        if path == ("run",) or path[:1] == ("push",) and path != ("push", "text"):
            continue
        head = " ".join(("imcli", *path))
        for opt in cmd.options:
            if opt.complete:
                lines.append((f"{head} {opt.names[0]} ", opt.complete))
        for i, arg in enumerate(cmd.arguments):
            if arg.complete:
                given = " team" if arg.nargs == -1 else " x" * i  # one given: left out
                lines.append((f"{head}{given} ", arg.complete))
    return lines


@pytest.mark.parametrize(("line", "completion"), _table_completions())
def test_the_table_drives_the_fast_path(profile, line, completion):
    """Every completion the table names is answered by the fast path, without typer, as
    typer's parameter (which calls complete.complete_<name>) answers it."""
    extra = {"IMCLI_SLACK_TOKEN": "xoxb-env"}
    proc = subprocess.run(
        [sys.executable, "-c", _IMPORTS], env=_env("zsh", line, extra),
        capture_output=True, text=True, cwd=str(ROOT),
    )  # fmt: skip
    assert "LOADED []" in proc.stderr, (completion, proc.stderr[-500:])
    slow = typer_complete("zsh", line, extra)
    one = {"platform": "telegram", "account": "team", "recipient": "bob",
           "profile_account": "team", "accounts_to_test": "work"}[completion]  # fmt: skip
    assert f'"{one}":' in proc.stdout, proc.stdout
    assert proc.stdout == slow.stdout


# -- bash, for real ------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
def test_the_bash_script_completes_in_bash(profile, tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    shim = bindir / "imcli"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m imcli "$@"\n')
    shim.chmod(0o755)
    script = COMPLETIONS / "imcli.bash"

    def complete_in_bash(*typed: str) -> list[str]:
        words = " ".join(f"'{w}'" for w in typed)
        cmd = (
            f"source '{script}'\n"
            "complete -p imcli >&2\n"
            f"COMP_WORDS=({words})\n"
            "COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))\n"
            "_imcli_completion imcli\n"
            'printf "%s\\n" "${COMPREPLY[@]}"\n'
        )
        proc = subprocess.run(
            ["bash", "--norc", "--noprofile", "-c", cmd],
            env={**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}",
                 "PYTHONPATH": str(ROOT)},
            capture_output=True, text=True, cwd=str(tmp_path), timeout=60,
        )  # fmt: skip
        assert proc.returncode == 0, proc
        assert "complete -o default -F _imcli_completion imcli" in proc.stderr
        return [w for w in proc.stdout.split("\n") if w]

    assert complete_in_bash("imcli", "pu") == ["push"]
    assert {"text", "image", "mixed"} <= set(complete_in_bash("imcli", "push", ""))
    assert complete_in_bash("imcli", "push", "text", "-p", "t") == ["telegram", "tg"]
    assert complete_in_bash("imcli", "push", "text", "-a", "") == ["work", "team", "bot"]
    assert complete_in_bash("imcli", "accounts", "remove", "t") == ["team"]
    assert complete_in_bash("imcli", "push", "image", "-p", "tg", "-u", "1", "") == []
