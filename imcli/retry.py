"""When to ask again: the retry rule, the backoff, the time budget and the state of one
request's tries.

:func:`decide` is the whole rule, a pure function of the kind of request and what
happened to it (the table in its docstring). In short:

* a request that sends no message (token, identity, upload) is retried after any
  transient error: connection failure, timeout, 429, 5xx, a busy code;
* a send request is retried only when it surely did not arrive (the connection failed
  before the request was written, its body was cut short, or the platform answered 429,
  503 or a busy code); a send whose fate is unknown (no answer, a broken connection, a
  500/502/504 from a gateway that may have passed it on, a garbled 2xx) is reported as
  "may have been delivered" and never resent -- unless the platform drops duplicates
  itself (an idempotent send, e.g. Lark's per-send ``uuid``) or the user chose
  ``resend_uncertain`` (then the resend is marked);
* a definite error is never retried.

:class:`Retry` holds what one request has been through (its tries, whether an earlier
try may have been delivered) and answers the request loop after each failed try: the
wait before the next one, or the error to report. It sleeps and sends nothing itself.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from imcli.errors import AccountOffline, MaybeDeliveredError, PlatformError, RetryableError
from imcli.ratelimit import Clock, default_clock

#: a connection that cannot be made is tried this many times at most
CONNECT_ATTEMPTS = 3
#: any other retryable failure: this many retries at most, unless the error says otherwise
MAX_RETRIES = 8
BACKOFF_BASE = 0.25
BACKOFF_CAP = 8.0

#: what a request is: ``call`` sends no message (token, identity, upload); ``send`` sends
#: one; ``idempotent`` sends one the platform itself never delivers twice (Lark ``uuid``)
RequestKind = Literal["call", "send", "idempotent"]
#: what happened to one try of a request
Outcome = Literal[
    "connect_failed",  # no connection: the request was never written
    "cut_short",  # the connection broke while the body was still being written
    "no_answer",  # written whole, no answer within the time left
    "broken",  # written whole, the connection broke before the answer
    "later",  # 429, 503, the platform's rate-limit or busy code: surely not acted on
    "gateway",  # 500, 502, 504 (any 5xx but 503): a gateway may have passed it on
    "garbled",  # a 2xx answer that is not JSON (cut short, a proxy's page)
    "too_large",  # an answer larger than the most imcli reads, not read
    "definite",  # the platform's own refusal
]
#: what to do about it: ask again; report the error; report "may have been delivered";
#: ask again although the first may have arrived (the user chose duplicates over losses)
Decision = Literal["retry", "fail", "uncertain", "resend"]

#: outcomes after which a message may be at the platform
UNKNOWN_FATE: frozenset[str] = frozenset({"no_answer", "broken", "gateway", "garbled", "too_large"})


def decide(kind: RequestKind, outcome: Outcome, *, resend_uncertain: bool = False) -> Decision:
    """The retry rule, as a pure function.

    ============== ========== ========================== =================================
    outcome        call       send                       idempotent send
    ============== ========== ========================== =================================
    connect_failed retry      retry                      retry
    cut_short      retry      retry                      retry
    later          retry      retry                      retry
    no_answer      retry      uncertain (resend [1])     retry
    broken         retry      uncertain (resend [1])     retry
    gateway        retry      uncertain (resend [1])     retry
    garbled        retry      uncertain (resend [1])     retry
    too_large      fail       uncertain (resend [1])     uncertain
    definite       fail       fail                       fail
    ============== ========== ========================== =================================

    [1] with ``resend_uncertain``: "resend" (retried, and the target marked ``resent``).
    """
    if outcome == "definite":
        return "fail"
    if outcome in ("connect_failed", "cut_short", "later"):
        return "retry"
    if kind == "call":
        return "fail" if outcome == "too_large" else "retry"
    if kind == "idempotent" and outcome != "too_large":
        return "retry"
    return "resend" if resend_uncertain and kind == "send" else "uncertain"


def retryable_outcome(exc: RetryableError) -> Outcome:
    """A "come back later" answer: a 5xx other than 503 came from something that may
    have acted on the request; 429, 503 and busy codes say it was not."""
    status = exc.status or 0
    return "gateway" if status >= 500 and status != 503 else "later"


def backoff(attempt: int) -> float:
    """The wait before try ``attempt + 1``: exponential, capped, with jitter."""
    return min(BACKOFF_CAP, BACKOFF_BASE * 2.0**attempt) * (0.5 + random.random() / 2)


class Budget:
    """The whole command's time budget (``--timeout``), shared by every request."""

    def __init__(self, seconds: float, *, clock: Clock | None = None) -> None:
        self.clock = clock or default_clock()
        self.seconds = seconds
        self.deadline = self.clock.now() + seconds

    def remaining(self) -> float:
        return self.deadline - self.clock.now()


@dataclass
class Failed:
    """One try that did not give an answer to use: what happened, and the error that
    says so."""

    outcome: Outcome
    error: PlatformError


class Retry:
    """The tries of one request (after slack_sdk's retry state): the request loop asks
    it, after each failed try, how long to wait before the next one; it raises instead
    when the rule, the number of tries or the time budget says to stop."""

    def __init__(self, kind: RequestKind, budget: Budget, *, resend_uncertain: bool = False):
        self.kind = kind
        self.budget = budget
        self.resend_uncertain = resend_uncertain
        self.tries = 0  # tries made so far
        self.connect_failures = 0
        self.maybe = False  # an earlier try of this send may have been delivered
        self.last: PlatformError | None = None  # the failure a retry is under way for
        self.resend = False  # the next try repeats a send that may have arrived

    @property
    def send(self) -> bool:
        return self.kind != "call"

    def out_of_time(self, *, waiting: bool = False) -> PlatformError:
        """The error when the budget ends before the next try (``waiting``: while it
        waited for a rate-limit slot): the failure being retried when there is one, not
        the wait that ended its retry."""
        if self.last is not None:
            return transient(gave_up(self.last, self.tries, budget=True, maybe=self.maybe))
        if waiting:
            why = "the --timeout budget ran out while waiting for the rate limit; not sent"
        else:
            why = "the --timeout budget ran out before this request could be made"
        return transient(PlatformError(why))

    def wait_after(self, failed: Failed) -> float:
        """The seconds to wait before trying again after ``failed``; raises the error to
        report when there is no next try."""
        if failed.outcome == "connect_failed":
            return self._wait_after_connect_failure(failed.error)
        err = failed.error
        decision = decide(self.kind, failed.outcome, resend_uncertain=self.resend_uncertain)
        if decision == "fail":
            raise gave_up(err, self.tries + 1, budget=False, maybe=self.maybe)
        if decision == "uncertain":
            raise MaybeDeliveredError(
                f"{err.message}; the message may have been delivered", status=err.status
            )
        if self.send and failed.outcome in UNKNOWN_FATE:
            self.maybe = True  # an earlier try may be at the platform (a retry of it is safe
            # only for an idempotent send, or chosen with resend_uncertain)
        retry_after = getattr(err, "retry_after", None)
        wait = retry_after if retry_after is not None else backoff(self.tries)
        self.tries += 1
        limit = getattr(err, "retries", None)
        out_of_time = wait >= self.budget.remaining()
        if out_of_time or self.tries > (MAX_RETRIES if limit is None else limit):
            raise transient(gave_up(err, self.tries, budget=out_of_time, maybe=self.maybe))
        self.resend = decision == "resend"
        self.last = err
        return wait

    def _wait_after_connect_failure(self, err: PlatformError) -> float:
        """No connection: tried again CONNECT_ATTEMPTS times at most, then the account
        is offline (the next account may be reachable) -- unless an earlier try may have
        been delivered: then the send is uncertain, never handed to another account."""
        self.connect_failures += 1
        wait = backoff(self.tries)
        self.tries += 1
        if self.connect_failures >= CONNECT_ATTEMPTS or wait >= self.budget.remaining():
            tries = "1 try" if self.tries == 1 else f"{self.tries} tries"
            if self.maybe:
                raise MaybeDeliveredError(
                    f"{err.message} (gave up after {tries}); an earlier try may have been delivered"
                )
            raise AccountOffline(f"{err.message} (gave up after {tries})", reason="unreachable")
        return wait


def gave_up(err: PlatformError, tries: int, *, budget: bool, maybe: bool = False) -> PlatformError:
    """``err`` saying why imcli stopped asking again (for a "come back later" answer);
    "may have been delivered" when an earlier try's fate is unknown."""
    if isinstance(err, RetryableError):
        if budget:
            why = "not retried: the time budget (--timeout) ends sooner"
            if tries > 1:
                why = f"gave up after {tries} tries: the time budget ends sooner"
        else:
            why = f"gave up after {tries} tries"
        err.reword(f"{err.message} ({why})")
    if maybe and not isinstance(err, MaybeDeliveredError):
        return MaybeDeliveredError(
            f"{err.message}; an earlier try may have been delivered", status=err.status
        )
    return err


def transient(err: PlatformError) -> PlatformError:
    """``err`` marked as worth trying later: a request the rule said to retry that ran out
    of tries or time surely did not deliver (unless an earlier try may have)."""
    if not isinstance(err, MaybeDeliveredError):
        err.transient = True
    return err
