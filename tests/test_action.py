"""The GitHub Action (action.yml at the repository root) runs its steps against the fakes.

The steps are read from action.yml and run as GitHub's runner would run them: every
``${{ inputs.NAME }}`` replaced by the input's value (or its default), the ``run:``
script given to bash with the step's ``env``. ``uses:`` steps (setup-python) are the
runner's business and are skipped; the install step runs with a ``python`` on PATH that
records ``python -m pip install …`` instead of installing (imcli is installed in the test
environment already) and checks that it installs the action's own checkout. Any other
``${{ … }}`` expression fails the test: these tests could not evaluate it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, TG_TOKEN

yaml = pytest.importorskip("yaml")  # the test extra installs PyYAML

EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def action() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "action.yml").read_text("utf-8"))
    assert isinstance(data, dict)
    return data


def substitute(text: str, inputs: dict[str, str]) -> str:
    def one(m: re.Match[str]) -> str:
        expr = m.group(1)
        if expr.startswith("inputs."):
            return inputs[expr[len("inputs.") :]]
        raise AssertionError(f"action.yml uses ${{{{ {expr} }}}}, which this test cannot evaluate")

    return EXPR.sub(one, text)


def run_action(
    given: dict[str, str], env: dict[str, str], tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    spec = action()
    declared = spec["inputs"]
    unknown = set(given) - set(declared)
    assert not unknown, f"not inputs of the action: {unknown}"
    for name, decl in declared.items():
        if decl.get("required") and name not in given:
            raise AssertionError(f"input {name} is required")
    inputs = {name: str(decl.get("default", "")) for name, decl in declared.items()}
    inputs.update(given)
    shim = tmp_path / "shim"
    shim.mkdir(exist_ok=True)
    pip_log = tmp_path / "pip.log"
    (shim / "python").write_text(
        "#!/bin/sh\n"
        f'if [ "$1 $2 $3" = "-m pip install" ]; then echo "$@" >> "{pip_log}"; exit 0; fi\n'
        f'exec "{sys.executable}" "$@"\n'
    )
    (shim / "python").chmod(0o755)
    base_env = dict(env)
    base_env["PATH"] = f"{shim}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    base_env["GITHUB_ACTION_PATH"] = str(ROOT)
    assert spec["runs"]["using"] == "composite"
    result: subprocess.CompletedProcess[str] | None = None
    for step in spec["runs"]["steps"]:
        if "uses" in step:
            assert step["uses"].startswith("actions/setup-python@")
            for value in (step.get("with") or {}).values():
                substitute(str(value), inputs)
            continue
        assert step["shell"] == "bash"
        step_env = dict(base_env)
        for key, value in (step.get("env") or {}).items():
            step_env[key] = substitute(str(value), inputs)
        script = substitute(step["run"], inputs)
        result = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
            env=step_env, capture_output=True, text=True, timeout=60, cwd=str(tmp_path),
        )  # fmt: skip
        if result.returncode != 0:
            break
    assert pip_log.read_text().split() == ["-m", "pip", "install", "--quiet",
                                           "--disable-pip-version-check", str(ROOT)]  # fmt: skip
    assert result is not None
    return result


@pytest.fixture
def ci_env(telegram: Any, tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        IMCLI_TELEGRAM_TOKEN=TG_TOKEN,  # as `env:` on the step that uses the action
        IMCLI_TELEGRAM_BASE_URL=telegram.api_url,
        IMCLI_PROFILE=str(tmp_path / "no-profile.toml"),
        GITHUB_WORKFLOW="CI",
        GITHUB_JOB="build",
        TMPDIR=str(tmp_path),
    )
    return env


def test_the_action_declares_its_inputs_and_runs_on_python():
    spec = action()
    assert {"platform", "user", "group", "command", "text", "title", "on", "attach-log",
            "max-runtime", "tail", "args"} <= set(spec["inputs"])  # fmt: skip
    assert spec["inputs"]["on"]["default"] == "failure"
    for step in spec["runs"]["steps"]:  # inputs reach scripts only through env
        assert "inputs." not in step.get("run", "")


def test_the_action_runs_a_failing_command_and_pushes_its_outcome(ci_env, telegram, tmp_path):
    r = run_action(
        {"platform": "telegram", "group": "-1001", "command": "echo compiling; false; echo never"},
        ci_env, tmp_path,
    )  # fmt: skip
    assert r.returncode == 1, r.stderr  # the step fails as the command did
    assert r.stdout == "compiling\n"
    [m] = telegram.sent_messages()
    assert m.chat_id == -1001
    assert m.fields["text"].startswith("<b>✗ CI / build failed (exit 1) after ")
    assert "<pre>compiling</pre>" in m.fields["text"]


def test_the_action_reports_success_when_asked(ci_env, telegram, tmp_path):
    r = run_action(
        {"platform": "tg", "user": "1 2", "command": "echo ok", "on": "always",
         "title": "deploy", "args": "-o disable_notification=true"},
        ci_env, tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    msgs = telegram.sent_messages()
    assert sorted(m.chat_id for m in msgs) == [1, 2]
    assert all(m.fields["text"].startswith("<b>✓ deploy succeeded after ") for m in msgs)
    assert all(m.fields["disable_notification"] is True for m in msgs)


def test_the_action_pushes_a_text_without_a_command(ci_env, telegram, tmp_path):
    r = run_action(
        {"platform": "telegram", "user": "42", "text": "-rc1 is out", "title": "Release"},
        ci_env, tmp_path,
    )  # fmt: skip
    assert (r.returncode, r.stdout) == (0, "1\n"), r.stderr
    [m] = telegram.sent_messages()
    assert m.fields["text"] == "<b>Release</b>\n-rc1 is out"


def test_the_action_fails_the_step_when_the_push_is_refused(ci_env, telegram, tmp_path):
    r = run_action({"platform": "wechat", "user": "o1", "command": "true", "attach-log": "true"},
                   ci_env, tmp_path)  # fmt: skip
    assert r.returncode == 2 and "--attach-log: wechat" in r.stderr
