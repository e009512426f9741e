"""The suite's own machinery: the secrets sweep adds up over pytest-xdist's workers."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import ROOT

#: three quick tests that run imcli once each, in two files
THREE_RUNS = [
    "tests/test_qq.py::test_platforms_json_shows_qq_with_every_kind",
    "tests/test_wecom.py::test_platforms_json_shows_wecom_for_users_with_every_kind",
    "tests/test_wechat.py::test_platforms_json_shows_wechat_with_all_but_file",
]


def _summary(*args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args, *THREE_RUNS],
        capture_output=True,
        text=True,
        cwd=str(ROOT),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    [line] = [ln for ln in proc.stdout.splitlines() if ln.startswith("secrets check:")]
    return line


def test_the_sweep_summary_adds_up_the_workers():
    in_one = _summary("-n", "0")
    in_two = _summary("-n", "2")
    assert re.match(r"secrets check: 3 outputs, [1-9]\d* bytes scanned, ", in_one), in_one
    assert re.match(r"secrets check: 3 outputs, [1-9]\d* bytes scanned, ", in_two), in_two
    assert in_one.endswith(" 0 leaks") and in_two.endswith(" 0 leaks")
