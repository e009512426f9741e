#!/usr/bin/env python3
"""imcli's benchmark: ``python3 bench/run.py`` (see bench/README.md).

This file only bootstraps: it makes (or refreshes) the benchmark's own virtualenv in
``bench/.env`` with imcli installed from this checkout plus apprise (the peer) and
python-multipart (the fake servers' form parser), then runs ``bench/suite.py`` with that
environment's interpreter. Standard library only, so any Python 3.10+ can start it.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ENV = HERE / ".env"
#: what the benchmark's environment holds besides imcli itself
EXTRA = ["apprise", "python-multipart>=0.0.9"]


def _env_python() -> Path:
    return ENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _stamp() -> str:
    h = hashlib.sha256()
    h.update((ROOT / "pyproject.toml").read_bytes())
    h.update(" ".join(EXTRA).encode())
    h.update(sys.version.encode())
    return h.hexdigest()


def ensure_env(force: bool = False) -> Path:
    py = _env_python()
    stamp_file = ENV / ".bench-stamp"
    stamp = _stamp()
    if not force and py.exists() and stamp_file.exists() and stamp_file.read_text() == stamp:
        return py
    print(
        f"bench: preparing {ENV.relative_to(ROOT)} (imcli from this checkout + apprise) …",
        file=sys.stderr,
        flush=True,
    )
    if force or not py.exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(ENV)
    pip = [str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-e", str(ROOT), *EXTRA], check=True)
    stamp_file.write_text(stamp)
    return py


def main() -> None:
    args = sys.argv[1:]
    force = "--rebuild-env" in args
    args = [a for a in args if a != "--rebuild-env"]
    if "-h" in args or "--help" in args:
        os.execv(sys.executable, [sys.executable, str(HERE / "suite.py"), "--help"])
    py = ensure_env(force)
    os.execv(str(py), [str(py), str(HERE / "suite.py"), *args])


if __name__ == "__main__":
    main()
