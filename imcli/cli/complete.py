"""Shell completion: account names are completed from the profile before typer loads."""

from __future__ import annotations


def fast_path() -> int | None:
    return None
