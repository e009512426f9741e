"""The completion scripts in real, interactive shells (bash, zsh, fish) on a pty: Tab is
pressed and what the shell inserts or lists is read back. Also typer's
``--show-completion`` and ``--install-completion``, which give the same scripts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests._pty import Terminal
from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a pty")

COMPLETIONS = ROOT / "completions"

PROFILE = """\
[accounts.work]
platform = "telegram"
token = "123:abc"

[accounts.team]
platform = "slack"
token = "xoxb-1"

[accounts.tgalt]
platform = "telegram"
token = "456:def"
"""


@pytest.fixture
def shell_env(isolated_env: Path, tmp_path: Path) -> dict[str, str]:
    """A PATH whose ``imcli`` runs this checkout, a profile, and a quiet HOME."""
    Path(os.environ["IMCLI_PROFILE"]).write_text(PROFILE)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    shim = bindir / "imcli"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m imcli "$@"\n')
    shim.chmod(0o755)
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    keep = ("IMCLI_PROFILE", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "LANG", "LC_ALL")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.update(
        PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}",
        PYTHONPATH=str(ROOT),
        HOME=str(home),
        TERM="dumb",
    )
    return env


def _need(shell: str) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed (Debian package {shell!r})")


def _interactive(argv: list[str], env: dict[str, str], setup: str) -> Terminal:
    term = Terminal(argv, env)
    term.send(f"{setup}; echo READY-$((6*7))\n")
    term.expect("READY-42")
    return term


# -- bash ----------------------------------------------------------------------------------


def test_bash_tab_completes_push_t_to_text_and_lists_the_platforms(shell_env):
    _need("bash")
    term = _interactive(
        ["bash", "--norc", "--noprofile", "-i"],
        shell_env,
        f"PS1='$ '; source '{COMPLETIONS / 'imcli.bash'}'",
    )
    try:
        term.send("imcli push t\t")
        assert "imcli push text" in term.expect("imcli push text")
        term.send("\x15imcli push text -p \t\t")  # ^U clears the line; two Tabs list
        listed = term.expect("wecom") + term.settle()
        for name in ("telegram", "tg", "slack", "lark", "feishu", "qq", "wechat"):
            assert name in listed.split(), listed
        term.send("\x15imcli push text -a tg\t")
        assert "-a tgalt" in term.expect("tgalt")
    finally:
        term.close()


# -- zsh -----------------------------------------------------------------------------------


def test_zsh_autoloads_the_script_from_fpath_and_completes(shell_env):
    _need("zsh")
    term = _interactive(
        ["zsh", "-f", "-i"],
        shell_env,
        f"PS1='%% '; fpath=('{COMPLETIONS}' $fpath); autoload -Uz compinit; compinit -u -D",
    )
    try:
        term.send("imcli push t\t")  # the first Tab after loading completes at once
        assert "imcli push text" in term.expect("imcli push text")
        term.send("\x15imcli push text -p \t\t")
        listed = term.expect("wecom") + term.settle()
        assert "-- Telegram" in listed and "-- Slack" in listed, listed
        for name in ("telegram", "tg", "slack", "feishu", "wechat"):
            assert name in listed.split(), listed
        term.send("\x15imcli accounts remove te\t")
        assert "imcli accounts remove team" in term.expect("remove team")
    finally:
        term.close()


def test_zsh_sourced_script_registers_with_compdef(shell_env):
    _need("zsh")
    proc = subprocess.run(
        ["zsh", "-f", "-c",
         f"autoload -Uz compinit; compinit -u -D; source '{COMPLETIONS / '_imcli'}'; "
         "print -r -- $_comps[imcli]"],
        env=shell_env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert (proc.returncode, proc.stdout.strip(), proc.stderr) == (0, "_imcli_completion", "")


# -- fish ----------------------------------------------------------------------------------


def _fish_complete(env: dict[str, str], line: str) -> list[str]:
    proc = subprocess.run(
        ["fish", "--no-config", "-c",
         f"source '{COMPLETIONS / 'imcli.fish'}'; complete -C '{line}'"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0 and proc.stderr == "", proc
    return [row.split("\t")[0] for row in proc.stdout.splitlines()]


def test_fish_completes_subcommands_platforms_and_accounts(shell_env):
    _need("fish")
    assert _fish_complete(shell_env, "imcli push t") == ["text"]
    platforms = _fish_complete(shell_env, "imcli push text -p ")
    assert {"telegram", "tg", "slack", "lark", "feishu", "qq", "wecom", "wechat"} <= set(platforms)
    assert sorted(_fish_complete(shell_env, "imcli push text -p tg -a ")) == ["tgalt", "work"]
    assert sorted(_fish_complete(shell_env, "imcli accounts test t")) == ["team", "tgalt"]


# -- typer's --show-completion and --install-completion ----------------------------------


@pytest.mark.parametrize(
    ("shell", "name"), [("bash", "imcli.bash"), ("zsh", "_imcli"), ("fish", "imcli.fish")]
)
def test_show_completion_prints_the_committed_script(shell_env, shell, name):
    _need(shell)
    # typer detects the shell from the parent process: run imcli under that shell
    status = "$status" if shell == "fish" else "$?"
    proc = subprocess.run(
        [shell, "-c", f"imcli --show-completion; exit {status}"],
        env=shell_env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc
    assert proc.stdout.rstrip("\n") == (COMPLETIONS / name).read_text().rstrip("\n")


def test_install_completion_for_bash_writes_our_script_and_sources_it(shell_env):
    _need("bash")
    home = Path(shell_env["HOME"])
    proc = subprocess.run(
        ["bash", "-c", "imcli --install-completion; exit $?"],
        env=shell_env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc
    installed = home / ".bash_completions" / "imcli.sh"
    assert "bash completion installed in" in proc.stdout
    assert installed.read_text().rstrip("\n") == (
        (COMPLETIONS / "imcli.bash").read_text().rstrip("\n")
    )
    assert f"source '{installed}'" in (home / ".bashrc").read_text()
    # and the installed script works in an interactive bash that reads ~/.bashrc
    term = _interactive(["bash", "-i"], shell_env, "PS1='$ '")
    try:
        term.send("imcli push t\t")
        assert "imcli push text" in term.expect("imcli push text")
    finally:
        term.close()
