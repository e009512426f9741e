"""imcli's one exception tree; each class maps to one exit status of the CLI.

    ImcliError                      (exit 1)
    ├── UsageError                  (exit 2) bad input found before anything was sent
    ├── ConfigError                 (exit 3) profile, account, credential or ${VAR} problem
    │   └── NoAccountError          (exit 3) no usable account for the platform
    ├── PlatformError               (exit 1) a platform or the network refused a send
    │   ├── RetryableError          the platform said "later" (429, 5xx, busy code)
    │   ├── MaybeDeliveredError     a send timed out waiting for its answer
    │   └── AccountOffline          credentials rejected (3) or account unreachable (1)
    └── Interrupted                 (exit 130 on SIGINT, 143 on SIGTERM)

Every message is passed through the redactor when the exception is made, so no
registered secret (token, app secret, ${VAR} value) can leak through ``str(exc)``.
"""

from __future__ import annotations

from typing import Any

from imcli import _redact


class ImcliError(Exception):
    """Base of every error imcli raises on purpose."""

    exit_code = 1
    #: for a failed push raised by the Python API: the per-target outcome and the count
    result: Any = None
    sent: int = 0
    #: the outbox entries the Python API kept of a failed push (``spool=``)
    kept: tuple[str, ...] = ()

    def __init__(self, message: str, *args: Any) -> None:
        self.message = _redact.redact(str(message))
        super().__init__(self.message, *args)

    def __str__(self) -> str:
        return self.message

    def reword(self, message: str) -> None:
        """Replace the message (redacted, like the first), keeping the class and the
        fields that retry and failover read."""
        self.message = _redact.redact(str(message))
        self.args = (self.message, *self.args[1:])


class UsageError(ImcliError):
    """Bad input, found before any request was made (exit 2)."""

    exit_code = 2


class ConfigError(ImcliError):
    """No usable profile or account, a missing credential or ${VAR} (exit 3)."""

    exit_code = 3


class NoAccountError(ConfigError):
    """No account of the platform could be used."""


class PlatformError(ImcliError):
    """The platform (or the network on the way to it) refused a request (exit 1)."""

    exit_code = 1
    #: surely not delivered, for a reason that may pass (no connection, the platform
    #: busy, the time budget ran out): worth sending again later (``--spool``)
    transient = False

    def __init__(self, message: str, *, code: Any = None, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


class RetryableError(PlatformError):
    """The platform asked us to come back later: 429, 5xx, a busy code."""

    transient = True

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        code: Any = None,
        status: int | None = None,
        retries: int | None = None,
    ) -> None:
        super().__init__(message, code=code, status=status)
        self.retry_after = retry_after
        self.retries = retries  # at most this many retries for this answer (None: the default)


class MaybeDeliveredError(PlatformError):
    """A send was written but its answer never came: it may have been delivered."""

    transient = False


class AccountOffline(PlatformError):
    """The account cannot send: its credentials were rejected or it is unreachable.

    ``reason`` is ``"credentials"`` or ``"unreachable"``.
    """

    def __init__(self, message: str, *, reason: str = "credentials", **kw: Any) -> None:
        super().__init__(message, **kw)
        self.reason = reason
        self.transient = reason == "unreachable"


class Interrupted(ImcliError):
    """SIGINT or SIGTERM stopped the push."""

    def __init__(self, signum: int) -> None:
        super().__init__("interrupted")
        self.exit_code = 128 + signum


def exit_code_for(exc: BaseException) -> int:
    if isinstance(exc, ImcliError):
        return exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        return 130
    return 1
