"""The outbox: pushes that could not go out now, kept on disk to be sent later.

Layout, under ``platformdirs.user_data_dir("imcli")/outbox`` (folders 0700, files 0600):

- ``entries/ID.json``: one entry per (push, target) that waits: the platform, the
  account's *name* (never a secret), the target, the message, its state (``pending``:
  surely not delivered; ``uncertain``: may have been delivered, re-sent only when asked),
  why it waits and how many tries it had. Written whole (temporary file + rename).
- ``sending/ID.json``: an entry a flush is sending right now. It is moved here (a rename)
  under the entry's lock before its send, and removed once the send is confirmed. One
  found here whose lock is free belongs to a flush that died (kill -9): its fate is
  unknown, so it goes back as ``uncertain`` -- never resent silently, never lost.
- ``media/PUSH/N``: copies of a push's local media, shared by that push's entries
  (a URL stays a URL); removed with the last entry of the push.
- ``corrupt/ID.json``: an entry that cannot be read, set aside (``outbox list`` shows it).
- ``locks/ID.lock``: the per-entry lock (``filelock``): two flushes never send one entry.

IDs sort by age: ``PUSH-NNNNNN``, PUSH being a time stamp (base 36, fixed width) and a
random tail, NNNNNN the target's position in the push.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from imcli import _fs
from imcli.errors import ConfigError, ImcliError, UsageError
from imcli.models import Item, Message, Target, TargetResult

if TYPE_CHECKING:
    from imcli.media import MediaSource
    from imcli.profile import Profile

VERSION = 1
#: local media copied into the outbox for one push, at most (a URL is kept as a URL)
MAX_MEDIA = 50 << 20
#: entries older than this many seconds are dropped by a flush (``outbox_max_age``)
DEFAULT_MAX_AGE = 7 * 86400
#: an entry file bigger than this is not an entry (set aside unread)
MAX_ENTRY = 8 << 20
STATES = ("pending", "uncertain")


def default_root() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("imcli")) / "outbox"


def _b36(n: int, width: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out.rjust(width, "0")[-width:]


def new_push_id() -> str:
    """Sortable by time (ms, base 36, 9 digits) with a random tail."""
    return _b36(time.time_ns() // 1_000_000, 9) + secrets.token_hex(2)


# -- the message as JSON --------------------------------------------------------------


def _media_to_json(src: MediaSource, copy: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "origin": "url" if src.is_url else "copy",
        "spec": src.spec,
        "kind": src.kind,
        "filename": src.filename,
        "mime": src.mime,
        "size": src.size,
    }
    if src.is_url:
        out["url"] = src.url
    else:
        out["copy"] = copy
    return out


def _media_from_json(d: dict[str, Any], root: Path) -> MediaSource:
    from imcli.media import MediaSource

    if d["origin"] == "url":
        return MediaSource(
            origin="url", spec=str(d["spec"]), kind=str(d["kind"]), url=str(d["url"]),
            filename=str(d.get("filename") or ""), mime=d.get("mime"), size=d.get("size"),
        )  # fmt: skip
    path = root / str(d["copy"])
    if not path.is_file():
        raise ValueError(f"its media copy {d['copy']} is missing")
    return MediaSource(
        origin="file", spec=str(d["spec"]), kind=str(d["kind"]), path=path,
        filename=str(d.get("filename") or ""), mime=d.get("mime"), size=path.stat().st_size,
    )  # fmt: skip


def message_to_json(message: Message, copies: dict[int, str]) -> dict[str, Any]:
    """``copies``: id(MediaSource) → its copy's path, relative to the outbox."""

    def media(src: MediaSource | None) -> dict[str, Any] | None:
        return None if src is None else _media_to_json(src, copies.get(id(src)))

    return {
        "kind": message.kind,
        "title": message.title,
        "text": message.text,
        "markdown": message.markdown,
        "extra": message.extra,
        "media": media(message.media),
        "items": [
            {"type": it.type, "text": it.text, "caption": it.caption, "media": media(it.media)}
            for it in message.items
        ],
    }


def message_from_json(d: dict[str, Any], root: Path) -> Message:
    def media(m: Any) -> MediaSource | None:
        return None if m is None else _media_from_json(m, root)

    return Message(
        kind=str(d["kind"]),
        title=d.get("title"),
        text=d.get("text"),
        markdown=bool(d.get("markdown")),
        media=media(d.get("media")),
        items=[
            Item(
                type=str(it["type"]),
                text=it.get("text"),
                caption=it.get("caption"),
                media=media(it.get("media")),
            )
            for it in d.get("items") or []
        ],  # fmt: skip
        extra=dict(d.get("extra") or {}),
    )


# -- entries ------------------------------------------------------------------------


@dataclass
class Entry:
    id: str
    platform: str
    account: str | None
    target: Target
    state: str
    reason: str
    created: float
    tries: int = 0
    last_try: float | None = None
    message: dict[str, Any] = field(default_factory=dict, repr=False)
    #: the profile the push read (its real path): its account names mean something only
    #: there, and a webhook account is the destination itself
    profile: str | None = None

    @property
    def push(self) -> str:
        return self.id.rsplit("-", 1)[0]

    def to_json(self) -> dict[str, Any]:
        return {
            "v": VERSION,
            "id": self.id,
            "platform": self.platform,
            "account": self.account,
            "target": f"{self.target.kind}:{self.target.id}",
            "state": self.state,
            "reason": self.reason,
            "created": self.created,
            "tries": self.tries,
            "last_try": self.last_try,
            "message": self.message,
            "profile": self.profile,
        }

    @classmethod
    def from_json(cls, d: Any) -> Entry:
        if not isinstance(d, dict) or d.get("v") != VERSION:
            raise ValueError("not an outbox entry of this version")
        kind, _, tid = str(d["target"]).partition(":")
        if kind not in ("user", "group", "webhook") or not tid:
            raise ValueError(f"bad target {d['target']!r}")
        target = Target(kind, tid)  # type: ignore[arg-type]  # checked just above
        if d["state"] not in STATES:
            raise ValueError(f"bad state {d['state']!r}")
        if not isinstance(d["message"], dict):
            raise ValueError("no message")
        return cls(
            id=str(d["id"]), platform=str(d["platform"]),
            account=None if d.get("account") is None else str(d["account"]),
            target=target, state=str(d["state"]), reason=str(d.get("reason") or ""),
            created=float(d["created"]), tries=int(d.get("tries") or 0),
            profile=None if d.get("profile") is None else str(d["profile"]),
            last_try=None if d.get("last_try") is None else float(d["last_try"]),
            message=d["message"],
        )  # fmt: skip

    def age(self, now: float | None = None) -> float:
        return max(0.0, (now if now is not None else time.time()) - self.created)


@dataclass
class Corrupt:
    id: str
    why: str


def _valid_id(value: str) -> bool:
    return bool(value) and all(c.isalnum() or c == "-" for c in value) and len(value) < 80


class Outbox:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root if root is not None else default_root()
        self.entries = self.root / "entries"
        self.sending = self.root / "sending"
        self.corrupt = self.root / "corrupt"
        self.media = self.root / "media"
        self.locks = self.root / "locks"

    # -- files ----------------------------------------------------------------------
    def _dirs(self) -> None:
        try:
            for d in (self.entries, self.sending, self.corrupt, self.media, self.locks):
                _fs.make_dirs(d)
        except OSError as exc:
            raise ConfigError(self._cannot(self.root, exc)) from None

    @staticmethod
    def _cannot(path: Path, exc: OSError) -> str:
        return f"outbox {path}: cannot write it ({exc.strerror or type(exc).__name__})"

    @staticmethod
    def _write(path: Path, data: bytes | IO[bytes], *, sync: bool = True) -> None:
        """``path`` whole or not at all (temporary file + rename), 0600. ``data`` may be
        a stream: copied in chunks, so memory does not grow with a media file's size."""
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _fs.FILE_MODE)
        try:
            with os.fdopen(fd, "wb") as fh:
                if isinstance(data, bytes):
                    fh.write(data)
                else:
                    import shutil

                    shutil.copyfileobj(data, fh, 1 << 16)
                if sync:
                    fh.flush()
                    os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def _read(self, path: Path) -> Entry:
        st = path.stat()
        if st.st_size > MAX_ENTRY:
            raise ValueError(f"{st.st_size} bytes: too big for an entry")
        data = json.loads(path.read_bytes().decode("utf-8"))
        entry = Entry.from_json(data)
        if entry.id != path.stem:
            raise ValueError("its id does not match its file name")
        return entry

    def _set_aside(self, path: Path, why: str) -> None:
        try:
            os.replace(path, self.corrupt / path.name)
            self._write(self.corrupt / (path.stem + ".why"), why.encode("utf-8"), sync=False)
        except OSError:
            pass

    # -- spooling -------------------------------------------------------------------
    def spool(
        self,
        platform: str,
        message: Message,
        waiting: list[tuple[Target, str | None, str, str]],
        profile: str | None = None,
    ) -> list[str]:
        """Write one entry per ``(target, account, state, reason)``; returns their ids.
        Local media are copied once for the push (at most MAX_MEDIA bytes: UsageError)."""
        if not waiting:
            return []
        self._dirs()
        push = new_push_id()
        copies: dict[int, str] = {}
        total = sum((s.size or 0) for s in message.media_sources() if not s.is_url)
        if total > MAX_MEDIA:
            raise UsageError(
                f"the outbox keeps at most {MAX_MEDIA >> 20} MB of media per push; "
                f"this one has {total >> 20} MB"
            )
        media_dir = self.media / push
        try:
            for n, src in enumerate(message.media_sources()):
                if src.is_url:
                    continue
                _fs.make_dirs(media_dir)
                dest = media_dir / str(n)
                with src.open() as fh:
                    self._write(dest, fh)
                copies[id(src)] = f"media/{push}/{n}"
            body = message_to_json(message, copies)
            now = time.time()
            ids = []
            for n, (target, account, state, reason) in enumerate(waiting):
                entry = Entry(
                    id=f"{push}-{n:06d}", platform=platform, account=account, target=target,
                    state=state, reason=reason, created=now, tries=1, last_try=now, message=body,
                    profile=profile,
                )  # fmt: skip
                self._write(
                    self.entries / f"{entry.id}.json",
                    json.dumps(entry.to_json(), ensure_ascii=False).encode("utf-8"),
                    sync=n == len(waiting) - 1,
                )
                ids.append(entry.id)
            _sync_dir(self.entries)
        except OSError as exc:
            raise ConfigError(self._cannot(self.root, exc)) from None
        return ids

    # -- reading --------------------------------------------------------------------
    def scan(self) -> tuple[list[Entry], list[Corrupt]]:
        """Every entry that waits, oldest first, and those set aside. A file that cannot
        be read as an entry is set aside here, never fatal."""
        if not self.root.exists():
            return [], []
        self._dirs()
        self.recover()
        good: list[Entry] = []
        for path in sorted(self.entries.glob("*.json")):
            try:
                good.append(self._read(path))
            except FileNotFoundError:
                continue  # sent meanwhile by a flush
            except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
                self._set_aside(path, f"{type(exc).__name__}: {exc}")
        bad: list[Corrupt] = []
        for path in sorted(self.corrupt.glob("*.json")):
            why_file = self.corrupt / (path.stem + ".why")
            try:
                why = why_file.read_text("utf-8", "replace").strip()
            except OSError:
                why = "unreadable"
            bad.append(Corrupt(path.stem, why))
        return good, bad

    def recover(self) -> None:
        """Entries left in ``sending/`` by a flush that died: back as ``uncertain``."""
        for path in sorted(self.sending.glob("*.json")):
            lock = self.try_lock(path.stem)
            if lock is None:
                continue  # a live flush is sending it
            try:
                if not path.exists():  # sent meanwhile
                    continue
                back = self.entries / path.name
                if back.exists():  # returned already; the rename out was all that was left
                    _unlink(path)
                    continue
                try:
                    entry = self._read(path)
                except FileNotFoundError:
                    continue
                except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
                    self._set_aside(path, f"{type(exc).__name__}: {exc}")
                    continue
                entry.state = "uncertain"
                entry.reason = "a flush stopped while sending it; it may have been delivered"
                self._write(back, json.dumps(entry.to_json(), ensure_ascii=False).encode())
                _unlink(path)
            finally:
                lock.release()

    # -- locks and claims ----------------------------------------------------------
    def try_lock(self, entry_id: str) -> Any:
        """The entry's lock if no one holds it, else None (never waits)."""
        from filelock import Timeout

        lock = _fs.file_lock(self.locks / f"{entry_id}.lock", 0)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            return None
        return lock

    def claim(self, entry: Entry) -> Any:
        """Lock ``entry`` and move it to ``sending/``; None when another flush has it (or
        sent it meanwhile)."""
        lock = self.try_lock(entry.id)
        if lock is None:
            return None
        try:
            os.replace(self.entries / f"{entry.id}.json", self.sending / f"{entry.id}.json")
        except FileNotFoundError:  # sent meanwhile by another flush
            lock.release()
            return None
        except BaseException:
            lock.release()
            raise
        return lock

    def done(self, entry: Entry, lock: Any) -> None:
        """The entry went out (or will never go): remove it, then its lock file."""
        _unlink(self.sending / f"{entry.id}.json")
        _unlink(self.entries / f"{entry.id}.json")
        _unlink(self.locks / f"{entry.id}.lock")
        lock.release()

    def put_back(self, entry: Entry, lock: Any) -> None:
        """The entry waits again (its state, reason and tries updated)."""
        try:
            self._write(
                self.entries / f"{entry.id}.json",
                json.dumps(entry.to_json(), ensure_ascii=False).encode("utf-8"),
            )
            _unlink(self.sending / f"{entry.id}.json")
        finally:
            lock.release()

    def drop(self, entry_id: str) -> bool:
        """Remove a waiting (or set-aside) entry; False when there is none by that id or
        a flush is sending it."""
        lock = self.try_lock(entry_id)
        if lock is None:
            return False
        try:
            found = False
            for d in (self.entries, self.corrupt):
                p = d / f"{entry_id}.json"
                if p.exists():
                    _unlink(p)
                    found = True
            _unlink(self.corrupt / f"{entry_id}.why")
            if found:
                _unlink(self.locks / f"{entry_id}.lock")
            return found
        finally:
            lock.release()

    def collect_media(self) -> None:
        """Remove the media copies of pushes that no entry needs any more."""
        if not self.media.exists():
            return
        alive = set()
        for d in (self.entries, self.sending, self.corrupt):
            for p in d.glob("*.json"):
                alive.add(p.stem.rsplit("-", 1)[0])
        for push_dir in self.media.iterdir():
            if push_dir.name not in alive:
                import shutil

                shutil.rmtree(push_dir, ignore_errors=True)


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _sync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- what waits after a push ----------------------------------------------------------


def classify(r: TargetResult) -> tuple[str, str] | None:
    """``(state, reason)`` for a target the outbox keeps, None for one it does not: a
    target that was sent, or that failed definitely (chat not found, bad credentials)."""
    if r.ok:
        return None
    reason = r.error or "not sent"
    if r.maybe_delivered:
        return "uncertain", reason
    if r.message_ids:  # some parts arrived: sending it again repeats them
        return "uncertain", f"{reason} ({len(r.message_ids)} part(s) delivered before)"
    exc = r.error_exc
    if exc is None:  # never tried: interrupted before its turn, the budget gone
        return "pending", reason
    if getattr(exc, "transient", False):
        return "pending", reason
    return None


def waiting_of(results: Iterable[TargetResult]) -> list[tuple[Target, str | None, str, str]]:
    out = []
    for r in results:
        c = classify(r)
        if c is not None:
            out.append((r.target, r.account, c[0], c[1]))
    return out


#: what the outbox keeps of one target: (platform, target, account, state, reason)
Kept = tuple[str, Target, "str | None", str, str]


def rows_of(
    platform: str, waiting: list[tuple[Target, str | None, str, str]], account: str | None
) -> list[Kept]:
    """The outbox rows of a push to one platform (``waiting``: :func:`waiting_of` its
    results), each with the account that tried it, else the one the push asked for."""
    return [(platform, t, acc or account, state, why) for t, acc, state, why in waiting]


def keep_or_why(
    rows: list[Kept], message: Message, profile_path: str
) -> tuple[list[str], str | None]:
    """:func:`keep` for the profile at ``profile_path`` (an entry remembers its real
    path): the entry ids, or none and why they could not be kept (never raised: the
    push's own outcome stands, the CLI prints the reason, the API puts it in its error)."""
    import os

    try:
        return keep(rows, message, os.path.realpath(profile_path)), None
    except ImcliError as exc:
        return [], exc.message
    except OSError as exc:
        return [], exc.strerror or str(exc)


def keep(rows: list[Kept], message: Message, profile: str | None) -> list[str]:
    """Spool ``rows``: one outbox push per platform (an entry names its platform; media
    are copied once per platform). Returns the entry ids; ConfigError/UsageError when
    they cannot be kept."""
    by_platform: dict[str, list[tuple[Target, str | None, str, str]]] = {}
    for platform, target, account, state, reason in rows:
        by_platform.setdefault(platform, []).append((target, account, state, reason))
    box = Outbox()
    ids: list[str] = []
    for platform, waiting in by_platform.items():
        ids += box.spool(platform, message, waiting, profile=profile)
    return ids


def setting(prof: Profile, key: str) -> bool:
    """A true-or-false ``[settings]`` key of the outbox (``spool``, ``flush_on_push``),
    false when absent; ConfigError naming it otherwise."""
    value = prof.settings.get(key, False)
    if not isinstance(value, bool):
        raise ConfigError(f"profile {prof.path}: settings.{key} must be true or false")
    return value


def wanted(
    message: Message, asked: bool | None, prof: Profile | None, *, option: str
) -> tuple[bool, str | None]:
    """Whether a push keeps what fails, decided before it sends, for the CLI and the
    Python API alike: ``asked`` (``--spool`` / ``spool=``: True or False; None: not
    said) decides, else ``[settings] spool`` of ``prof`` (None: the profile could not be
    read; the push itself then says why). Returns it and a note when the setting's
    ``true`` is not followed. Media read from standard input never outlives the process
    on disk, so it cannot be kept: asking for it (``option`` names how) is a UsageError,
    the setting keeps nothing. A setting that is not true or false is a ConfigError
    (checked whenever the profile is read, before anything is sent)."""
    from_stdin = any(src.stdin for src in message.media_sources())
    if asked and from_stdin:
        raise UsageError(
            f"{option} cannot keep media read from standard input (it is never left on "
            "disk); give it as a file path"
        )
    if prof is None:
        return bool(asked), None
    configured = setting(prof, "spool")
    keep = asked if asked is not None else configured
    if keep and from_stdin:  # by the setting (asking for it was refused above)
        return False, "spool = true: what fails is not kept (media read from standard input)"
    return keep, None


def select(
    entries: list[Entry], ids: list[str], *, uncertain: bool
) -> tuple[list[Entry], list[str]]:
    """The entries a flush takes: the ``ids`` given (an entry id, or a push id for all of
    that push's entries), else every pending one (and the uncertain ones with
    ``uncertain``). Returns them and the ids that matched nothing."""
    states = ("pending", "uncertain") if uncertain else ("pending",)
    if not ids:
        return [e for e in entries if e.state in states], []
    unknown = [i for i in ids if not any(e.id == i or e.push == i for e in entries)]
    chosen = [e for e in entries if any(e.id == i or e.push == i for i in ids)]
    return [e for e in chosen if e.state in states], unknown


def max_age_of(settings: dict[str, Any], where: Any) -> float:
    """``[settings] outbox_max_age``: seconds, or a duration (``36h``, ``7d``)."""
    value = settings.get("outbox_max_age", DEFAULT_MAX_AGE)
    if isinstance(value, str):
        units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
        text = value.strip().lower()
        try:
            if text and text[-1] in units:
                value = float(text[:-1]) * units[text[-1]]
            else:
                value = float(text)
        except ValueError:
            value = None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
        raise ConfigError(
            f"profile {where}: settings.outbox_max_age must be a positive number of seconds "
            "or a duration such as 36h or 7d"
        )
    return float(value)


def chunks(seq: list[Entry], size: int) -> Iterator[list[Entry]]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]


Reporter = Callable[[str], None]
