"""The Python API, with the SDK's signatures; the CLI calls the same core.

Each function returns the number of targets sent (1 when the one target was sent) and
otherwise raises an :mod:`imcli.errors` exception carrying the reason: UsageError (bad
input), ConfigError (no usable account), PlatformError (the platform refused). A failed
push's exception has a ``result`` attribute with the per-target outcome.

``options`` are the CLI's ``-o KEY=VALUE`` pairs, plus ``profile``: the profile file to
read (the CLI's ``--profile``).

``spool=True`` (the CLI's ``--spool``; None, the default: the profile's ``[settings]
spool``) keeps in the outbox the targets that failed for a reason that may pass, for
``imcli outbox flush``; the exception then says so, and its ``kept`` attribute lists the
outbox entries. It is decided before sending, as the CLI decides it (a ``spool`` setting
that is not true or false is a ConfigError); the CLI's ``flush_on_push`` is not done here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from imcli.errors import ConfigError, ImcliError, PlatformError, UsageError
from imcli.models import Message, PushRequest, PushResult, Target

if TYPE_CHECKING:
    from imcli.profile import Profile

__all__ = ["push", "push_image", "push_voice", "push_video", "push_file", "push_mixed"]


def _targets(
    im_type: str, group_code: Any, user_id: Any, to: list[str] | None = None
) -> list[Target]:
    from imcli import platforms

    out = []
    if group_code not in (None, ""):
        out.append(Target("group", str(group_code)))
    if user_id not in (None, ""):
        out.append(Target("user", str(user_id)))
    spec = platforms.find(im_type) if im_type else None
    if (
        not out and not to and not (spec is not None and spec.webhook)
    ):  # a webhook is its own target
        raise UsageError(
            "no target: pass group_code for a group push, user_id for a private one, "
            "or to= a recipient of the profile"
        )
    return out


def _recipient_names(to: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """``to=``: one recipient name or a list of them."""
    if to is None:
        return []
    names = [to] if isinstance(to, str) else list(to)
    if not all(isinstance(n, str) and n for n in names):
        raise UsageError("to= takes a recipient name or a list of recipient names")
    return names


def _run(
    im_type: str,
    group_code: Any,
    user_id: Any,
    message_fn: Any,
    options: dict[str, Any] | None,
    timeout: int | None,
    to: str | list[str] | tuple[str, ...] | None = None,
    spool: bool | None = None,
) -> int:
    from imcli import outbox
    from imcli.core import parse_options, run_push

    names = _recipient_names(to)
    opts = dict(options or {})
    # ``profile`` (the profile file to read) is the API's stand-in for --profile: imcli's
    # own, never sent to the platform as a message field
    profile = opts.pop("profile", None)
    own, extra = parse_options(opts)
    message: Message = message_fn(own)
    message.extra = extra
    req = PushRequest(
        platform=im_type or None,
        targets=_targets(im_type, group_code, user_id, names),
        message=message,
        account=own.get("account"),
        timeout_ms=int(timeout) if timeout is not None else None,
        profile=str(profile) if profile not in (None, "") else None,
    )
    if spool not in (None, True, False):
        raise UsageError("spool= takes True or False")
    # whether to keep what fails is decided before sending, as the CLI decides it (a
    # bad `spool` setting is refused before anything goes out); no flush first: the
    # CLI's `flush_on_push` is the CLI's alone
    prof = _profile_or_none(req.profile)
    keep, note = outbox.wanted(message, spool, prof, option="spool=True")
    if names:  # named recipients, across platforms (the CLI's --to)
        from imcli.recipients import run_to

        multi = _run_coro(run_to(req, names))
        rows = multi.kept() if multi.exit_code and keep else []
        return _multi_count_or_raise(multi, _keep(rows, req, prof, note))
    result = _run_coro(run_push(req))
    rows = []
    if result.exit_code and keep:
        rows = outbox.rows_of(result.platform, outbox.waiting_of(result.results), req.account)
    return _count_or_raise(result, _keep(rows, req, prof, note))


def _profile_or_none(path: str | None) -> Profile | None:
    """The profile, or None when it cannot be read (the push then says why)."""
    from imcli import profile as profile_mod

    try:
        return profile_mod.load(path)
    except ImcliError:
        return None


class _Kept:
    """What the outbox kept of a failed push: the entry ids, or why nothing was."""

    def __init__(self, ids: list[str], error: str | None = None) -> None:
        self.ids = ids
        self.error = error

    def note(self) -> str:
        if self.error:
            return f"outbox: not kept: {self.error}"
        if self.ids:
            return f"outbox: {len(self.ids)} target(s) kept for `imcli outbox flush`"
        return ""


def _keep(rows: list[Any], req: PushRequest, prof: Profile | None, note: str | None) -> _Kept:
    """Spool ``rows`` of a failed push (already chosen by :func:`outbox.wanted`);
    ``note``: why the profile's ``spool = true`` kept nothing."""
    if note:
        return _Kept([], note)
    if not rows or prof is None:
        return _Kept([])
    from imcli import outbox

    return _Kept(*outbox.keep_or_why(rows, req.message, str(prof.path)))


def _multi_count_or_raise(result: Any, kept: _Kept | None = None) -> int:
    """As :func:`_count_or_raise`, for a push to named recipients (a MultiResult)."""
    if result.exit_code == 0:
        return int(result.sent)
    reason = "; ".join(
        f"{d.platform} {d.result.target or 'webhook'}: {d.result.error or 'not sent'}"
        for d in result.deliveries
        if not d.result.ok
    )
    kept = kept or _Kept([])
    text = " ".join([reason, *result.notes, kept.note()]).strip()
    exc: ImcliError = ConfigError(text) if result.exit_code == 3 else PlatformError(text)
    exc.result = result
    exc.sent = result.sent
    exc.kept = tuple(kept.ids)
    raise exc


def _run_coro(coro: Coroutine[Any, Any, Any]) -> Any:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    # called from inside an event loop: run in a worker thread with its own loop
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _count_or_raise(result: PushResult, kept: _Kept | None = None) -> int:
    if result.exit_code == 0:
        return result.sent
    kept = kept or _Kept([])
    failed = [r for r in result.results if not r.ok]
    reason = "; ".join(f"{result.platform} {r.target}: {r.error or 'not sent'}" for r in failed)
    exc: ImcliError
    if result.exit_code == 3:
        exc = ConfigError(" ".join([reason, *result.notes, kept.note()]).strip())
    else:
        exc = PlatformError(" ".join([reason, kept.note()]).strip())
    exc.result = result
    exc.sent = result.sent
    exc.kept = tuple(kept.ids)
    raise exc


def push(
    im_type: str,
    group_code: Any,
    user_id: Any,
    title: str | None,
    content: str | None,
    options: dict[str, Any] | None = None,
    timeout: int | None = None,
    *,
    to: str | list[str] | None = None,
    spool: bool | None = None,
) -> int:
    """Push text. When ``content`` is empty the title is the text. ``to``: a named
    recipient of the profile (or a list), besides or instead of the group/user.
    ``spool``: keep what failed for a reason that may pass in the outbox (module doc)."""
    markdown = bool((options or {}).get("markdown"))
    opts = {k: v for k, v in (options or {}).items() if k != "markdown"}

    def build(own: dict[str, Any]) -> Message:
        return Message(kind="text", title=title or None, text=content or "", markdown=markdown)

    return _run(im_type, group_code, user_id, build, opts, timeout, to, spool)


def _media(kind: str) -> Any:
    def send(
        im_type: str,
        group_code: Any,
        user_id: Any,
        title: str | None,
        source: str,
        options: dict[str, Any] | None = None,
        timeout: int | None = None,
        *,
        to: str | list[str] | None = None,
        spool: bool | None = None,
    ) -> int:
        def build(own: dict[str, Any]) -> Message:
            from imcli import media

            src = media.parse(source, kind, filename=own.get("filename"), mime=own.get("mime"))
            return Message(kind=kind, title=title or None, media=src)

        return _run(im_type, group_code, user_id, build, options, timeout, to, spool)

    send.__name__ = f"push_{kind}"
    send.__doc__ = f"Push {'an' if kind[0] in 'aeiou' else 'a'} {kind} from a URL, path, base64:// or data: URI."
    return send


push_image = _media("image")
push_voice = _media("voice")
push_video = _media("video")
push_file = _media("file")


def push_mixed(
    im_type: str,
    group_code: Any,
    user_id: Any,
    title: str | None,
    items: list[dict[str, Any]],
    options: dict[str, Any] | None = None,
    timeout: int | None = None,
    *,
    to: str | list[str] | None = None,
    spool: bool | None = None,
) -> int:
    """Push a mixed message; ``items`` in the SDK's shape (text/markdown/image/voice/video/file)."""

    def build(own: dict[str, Any]) -> Message:
        from imcli.items import parse_items

        return Message(kind="mixed", title=title or None, items=parse_items(items))

    return _run(im_type, group_code, user_id, build, options, timeout, to, spool)


# the SDK's camelCase names
pushImage = push_image  # noqa: N816
pushVoice = push_voice  # noqa: N816
pushVideo = push_video  # noqa: N816
pushFile = push_file  # noqa: N816
pushMixed = push_mixed  # noqa: N816
