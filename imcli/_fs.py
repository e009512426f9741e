"""Files and folders imcli creates: folders 0700 and files 0600 whatever the umask
(another local user must not swap in a profile or read a token), lock files included."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

DIR_MODE = 0o700
FILE_MODE = 0o600


def make_dirs(path: Path) -> None:
    """Create ``path`` and every missing folder above it, each 0700 (``mkdir -p`` would
    give the parents 0777 minus the umask: 0777 under ``umask 000``)."""
    missing: list[Path] = []
    p = path
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue  # made meanwhile by another run
        os.chmod(folder, DIR_MODE)  # mkdir's mode is reduced by the umask, never widened


def file_lock(path: Path | str, timeout: float) -> Any:
    """A ``filelock.FileLock`` whose lock file is created 0600."""
    from filelock import FileLock

    return FileLock(str(path), timeout=timeout, mode=FILE_MODE, thread_local=False)
