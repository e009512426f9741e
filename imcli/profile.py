"""The profile: where it is, reading it, ${VAR} expansion, environment accounts, writing it.

Reading keeps the raw values (``${VAR}`` unexpanded); an account's values are expanded
only when the account is used, so an unset variable in an unrelated account never
stops a push, and nothing expanded is ever written back.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imcli import _redact
from imcli.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from imcli.platforms.base import Field, PlatformSpec

#: ``${VAR}``, ``${VAR:-default}`` (unset or empty) and ``${VAR-default}`` (unset)
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}")
#: ``$VAR`` without braces: a shell habit that would be stored and sent literally
_BARE_VAR = re.compile(r"(?<![$\\])\$([A-Za-z_][A-Za-z0-9_]*)")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def default_path() -> Path:
    from platformdirs import user_config_dir

    return Path(user_config_dir("imcli", appauthor=False)) / "profile.toml"


def resolve_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    given = os.fspath(explicit) if explicit else os.environ.get("IMCLI_PROFILE")
    if not given:
        return default_path()
    if "\0" in str(given):
        raise ConfigError(f"profile path {given!r} contains a NUL byte; give a file path")
    try:
        return Path(given).expanduser()
    except RuntimeError:  # ~user of no such user
        raise ConfigError(f"profile path {given!r}: no such user's home directory") from None


#: the next step after an error in the profile file itself, for error messages
FIX_PROFILE = "; fix the profile, then check it with `imcli accounts list`"


def expand(value: Any, where: str) -> Any:
    """Replace ``${VAR}`` in strings (recursively) from the environment.

    ``${VAR:-default}`` takes the default when VAR is unset or empty, ``${VAR-default}``
    when it is unset. A ``${VAR}`` that is unset, or set but empty (what CI gives for an
    unavailable secret), is a configuration error naming it."""
    if isinstance(value, str):

        def sub(m: re.Match[str]) -> str:
            name, op, fallback = m.group(1), m.group(2), m.group(3) or ""
            val = os.environ.get(name)
            if op == ":-" and not (val or "").strip() or op == "-" and val is None:
                _redact.add_secret(fallback)
                return fallback
            if val is None:
                raise ConfigError(
                    f"{where}: environment variable ${{{name}}} is not set "
                    f"(run `export {name}=…`, or change the profile)"
                )
            if not val.strip():
                raise ConfigError(
                    f"{where}: environment variable ${{{name}}} is set but empty "
                    f"(an unavailable CI secret?); give it a value, or write "
                    f"${{{name}:-default}} in the profile"
                )
            _redact.add_secret(val)
            return val

        return _VAR.sub(sub, value)
    if isinstance(value, dict):
        return {k: expand(v, where) for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v, where) for v in value]
    return value


def bare_var(value: Any) -> str | None:
    """The name in a ``$VAR`` written without braces (refused: it would be sent as is)."""
    if isinstance(value, str):
        m = _BARE_VAR.search(_VAR.sub("", value))
        if m:
            return m.group(1)
    return None


def check_table(spec: Any, table: dict[str, Any], where: str, name: str | None = None) -> None:
    """Refuse (UsageError) what `accounts add`/`set` would store that a push would only
    refuse later: ``$VAR`` without braces, a base_url or proxy that is not a usable URL,
    a field set to true without the field it needs (Telegram local_server: base_url), a
    negative or infinite rate, and (given the account's ``name``, a whole table) a webhook
    account whose url or key is not of its platform's shape."""
    for key, val in table.items():
        var = bare_var(val)
        if var is not None:
            raise UsageError(
                f"{where}: {key} contains ${var} without braces, which would be sent as "
                f"written; store a reference as '${{{var}}}' (in single quotes), or give "
                "the value itself"
            )
    for key in ("base_url", "proxy"):
        url = table.get(key)
        if isinstance(url, str) and "${" not in url:
            problem = url_problem(key, url)
            if problem:
                raise UsageError(f"{where}: {problem}")
    for f in spec.all_fields():
        if f.needs and table.get(f.name) is True and not table.get(f.needs):
            raise UsageError(
                f"{where}: {f.name} = true needs {f.needs} (e.g. --set {f.needs}=http://127.0.0.1:8081)"
            )
    rate = table.get("rate")
    number = isinstance(rate, (int, float)) and not isinstance(rate, bool)
    if number and not (0 <= rate < float("inf")):  # type: ignore[operator]  # nan fails too
        raise UsageError(f"{where}: rate must be messages per second, 0 for no limit; got {rate!r}")
    if name is not None and spec.webhook and not any("${" in str(v) for v in table.values()):
        _check_destination(spec, table, name)


def _check_destination(spec: Any, table: dict[str, Any], name: str) -> None:
    """A webhook account's destination, worked out as a push works it out."""
    from imcli import platforms

    adapter: Any = platforms.adapter_class(spec)(Account(name, spec.name, dict(table)), None)  # type: ignore[arg-type]  # no request is made
    try:
        adapter.destination()
    except ConfigError as exc:
        raise UsageError(exc.message.split("; fix it in the profile")[0]) from None


def url_problem(key: str, url: str) -> str | None:
    """Why ``url`` cannot be the account's ``base_url``/``proxy``, or None."""
    from urllib.parse import urlsplit

    schemes = ("http", "https") if key == "base_url" else ("http", "https", "socks5", "socks5h")
    example = "https://host" if key == "base_url" else "http://host:port"
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return f"{key} {url!r} is not a valid URL (e.g. {example})"
    if parts.scheme.lower() not in schemes or not parts.hostname:
        allowed = " or ".join(s + "://" for s in schemes)
        return f"{key} {url!r} must be a URL starting with {allowed} (e.g. {example})"
    return None


@dataclass
class Account:
    """One account: its raw table from the profile (or the environment)."""

    name: str
    platform: str  # canonical platform name
    raw: dict[str, Any]
    source: str = "profile"  # "profile" or "env"
    _expanded: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def is_default(self) -> bool:
        return bool(self.raw.get("default", False))

    def fix_hint(self) -> str:
        """The next step after a bad value in this account, for error messages."""
        if self.source == "env":
            return (
                f"; fix the IMCLI_{self.platform.upper().replace('-', '_')}_… variable, "
                f"then run `imcli accounts test {self.name}`"
            )
        return f"; fix it in the profile, then run `imcli accounts test {self.name}`"

    def values(self) -> dict[str, Any]:
        """The expanded values; registers every secret with the redactor."""
        if self._expanded is None:
            from imcli import platforms

            spec = platforms.get(self.platform)
            where = f"account {self.name!r}"
            expanded = expand(self.raw, where)
            # surrounding whitespace (a newline from `$(cat token.txt)`) is no part of
            # any credential or id
            expanded = {k: v.strip() if isinstance(v, str) else v for k, v in expanded.items()}
            for fname in spec.secret_fields():
                _redact.add_secret(expanded.get(fname))
            _register_url_password(expanded.get("proxy"))
            _register_url_password(expanded.get("base_url"))
            self._expanded = expanded
        return self._expanded

    def get(self, key: str, default: Any = None) -> Any:
        return self.values().get(key, default)

    def check_fields(self) -> None:
        """Refuse an account missing a required field, or with one of the wrong type."""
        from imcli import platforms

        spec = platforms.get(self.platform)
        values = self.values()
        for f in spec.all_fields():
            self._check_field(spec, f, values.get(f.name))
        self._check_one_of(spec, values)
        self._check_rate(values.get("rate"))
        self._check_urls(values)
        for f in spec.all_fields():
            if f.needs and values.get(f.name) is True and not values.get(f.needs):
                raise ConfigError(
                    f"account {self.name!r}: {f.name} = true needs {f.needs}{self.fix_hint()}"
                )

    def _check_field(self, spec: PlatformSpec, f: Field, val: Any) -> None:
        """A required field is set; a set field has its declared type (a secret's value
        is never shown, only its type)."""
        if val is None or val == "":
            if f.required:
                hint = (
                    f"run `export {spec.env_prefix}{f.name.upper()}=…`"
                    if self.source == "env"
                    else f"add {f.name} = … to [accounts.{self.name}] in the profile, "
                    f"then run `imcli accounts test {self.name}`"
                )
                raise ConfigError(f"account {self.name!r} ({spec.name}) has no {f.name}; {hint}")
            return
        if not _type_ok(val, f.type):
            where = (
                f"{spec.env_prefix}{f.name.upper()}"
                if self.source == "env"
                else f"account {self.name!r}: {f.name}"
            )
            shown = type(val).__name__ if f.secret else repr(val)
            raise ConfigError(f"{where} must be {_type_name(f.type)}, got {shown}{self.fix_hint()}")

    def _check_one_of(self, spec: PlatformSpec, values: dict[str, Any]) -> None:
        """One of the fields the platform needs at least one of is set."""
        if spec.one_of and not any(values.get(k) not in (None, "") for k in spec.one_of):
            names = " or ".join(spec.one_of)
            hint = (
                f"run `export {spec.env_prefix}{spec.one_of[0].upper()}=…`"
                if self.source == "env"
                else f"add {spec.one_of[0]} = … to [accounts.{self.name}] in the profile"
            )
            raise ConfigError(f"account {self.name!r} ({spec.name}) has no {names}; {hint}")

    def _check_rate(self, rate: Any) -> None:
        """rate is messages per second: nan, inf and negative numbers (TOML has them all)
        are refused."""
        if (
            isinstance(rate, float)
            and not (rate >= 0 and rate != float("inf"))
            or (isinstance(rate, int) and not isinstance(rate, bool) and rate < 0)
        ):
            raise ConfigError(
                f"account {self.name!r}: rate must be messages per second, 0 for no limit; "
                f"got {rate!r}{self.fix_hint()}"
            )

    def _check_urls(self, values: dict[str, Any]) -> None:
        """base_url and proxy are URLs; base_url is an http(s) one."""
        for key in ("base_url", "proxy"):
            url = values.get(key)
            if isinstance(url, str) and url and "://" not in url:
                raise ConfigError(
                    f"account {self.name!r}: {key} {url!r} must be a URL such as "
                    + ("https://host" if key == "base_url" else "http://host:port")
                    + self.fix_hint()
                )
        url = values.get("base_url")
        if isinstance(url, str) and url and not url.lower().startswith(("http://", "https://")):
            raise ConfigError(
                f"account {self.name!r}: base_url {url!r} must start with http:// or https://"
                + self.fix_hint()
            )


def _register_url_password(url: Any) -> None:
    if isinstance(url, str) and "@" in url:
        from urllib.parse import urlsplit

        _redact.add_secret(urlsplit(url).password)


def _type_ok(val: Any, typ: type) -> bool:
    if typ is bool:
        return isinstance(val, bool)
    if typ is int:
        return (
            isinstance(val, int)
            and not isinstance(val, bool)
            or (isinstance(val, str) and val.strip().lstrip("-").isdigit())
        )
    if typ is float:
        return isinstance(val, (int, float)) and not isinstance(val, bool)
    if typ is dict:
        return isinstance(val, dict)
    return isinstance(val, str)


def _type_name(typ: type) -> str:
    return {bool: "true or false", int: "an integer", float: "a number", dict: "a table"}.get(
        typ, "a string"
    )


@dataclass
class Profile:
    path: Path
    exists: bool
    data: dict[str, Any]
    accounts: list[Account]
    warnings: list[str] = field(default_factory=list)

    @property
    def settings(self) -> dict[str, Any]:
        s = self.data.get("settings", {})
        return s if isinstance(s, dict) else {}

    def account(self, name: str) -> Account | None:
        for acc in self.accounts:
            if acc.name == name:
                return acc
        return None

    def for_platform(self, platform: str) -> list[Account]:
        return [a for a in self.accounts if a.platform == platform]


def _tomllib() -> Any:
    """tomllib, or tomli before Python 3.11 (imported when a profile is read)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib
    return tomllib


def read_toml(path: Path) -> dict[str, Any]:
    """The profile's TOML as a dict; ConfigError (naming the file) when it cannot be read."""
    tomllib = _tomllib()
    try:
        with open(path, "rb") as fh:
            data: dict[str, Any] = tomllib.load(fh)
            return data
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"profile {path}: invalid TOML: {exc}{FIX_PROFILE}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"profile {path}: not UTF-8 text: {exc}{FIX_PROFILE}") from None
    except RecursionError:
        raise ConfigError(
            f"profile {path}: invalid TOML: arrays or tables nested too deeply{FIX_PROFILE}"
        ) from None
    except OSError as exc:
        raise ConfigError(f"profile {path}: cannot read it: {exc.strerror}") from None


def load(explicit: str | os.PathLike[str] | None = None, *, with_env: bool = True) -> Profile:
    """Read the profile (a missing file is an empty profile) and the environment accounts."""
    path = resolve_path(explicit)
    exists = _is_profile_file(path, explicit)
    data = read_toml(path) if exists else {}
    accounts = _profile_accounts(path, data)
    if with_env:
        accounts.extend(_env_accounts({a.platform for a in accounts if a.is_default}))
    _check_settings(path, data)
    warnings: list[str] = []
    if exists:
        warnings.extend(_permission_warning(path, accounts))
        warnings.extend(unknown_keys(path, data))
    if with_env:
        warnings.extend(unknown_env_vars())
    return Profile(path=path, exists=exists, data=data, accounts=accounts, warnings=warnings)


def _is_profile_file(path: Path, explicit: str | os.PathLike[str] | None) -> bool:
    """Whether the profile file exists; a directory (or anything else that is not a file)
    given as the profile is an error, and so is a path that cannot be looked at."""
    try:
        exists = path.is_file()
        if not exists and path.exists() and (explicit or path.is_dir()):
            raise ConfigError(f"profile {path} is not a file; give the path of a TOML file")
    except OSError as exc:  # e.g. a name too long, a directory on the way not searchable
        raise ConfigError(f"profile {path}: cannot read it: {exc.strerror}") from None
    return exists


def _profile_accounts(path: Path, data: dict[str, Any]) -> list[Account]:
    """The ``[accounts.NAME]`` tables as accounts, with at most one default per platform."""
    tables = data.get("accounts", {})
    if not isinstance(tables, dict):
        raise ConfigError(
            f"profile {path}: [accounts] must be a table of [accounts.NAME] tables{FIX_PROFILE}"
        )
    accounts: list[Account] = []
    defaults: dict[str, str] = {}
    for name, table in tables.items():
        acc = _profile_account(path, name, table)
        if acc.is_default:
            if acc.platform in defaults:
                raise ConfigError(
                    f"profile {path}: both {defaults[acc.platform]!r} and {name!r} are the "
                    f"default {acc.platform} account; keep default = true on one" + FIX_PROFILE
                )
            defaults[acc.platform] = name
        accounts.append(acc)
    return accounts


def _profile_account(path: Path, name: str, table: Any) -> Account:
    """One ``[accounts.NAME]`` table as an account of a known platform."""
    from imcli import platforms

    if not isinstance(table, dict):
        raise ConfigError(f"profile {path}: accounts.{name} must be a table{FIX_PROFILE}")
    pname = table.get("platform")
    if not isinstance(pname, str) or not pname:
        raise ConfigError(
            f'profile {path}: [accounts.{name}] has no platform = "…" '
            "(e.g. telegram, slack, lark, qq, wecom, wechat)" + FIX_PROFILE
        )
    spec = platforms.find(pname)
    if spec is None:
        raise ConfigError(
            f"profile {path}: [accounts.{name}] has unknown platform {pname!r} "
            "(see `imcli platforms`)"
        )
    return Account(name=name, platform=spec.name, raw=dict(table))


def _check_settings(path: Path, data: dict[str, Any]) -> None:
    """settings.proxy is a URL string; its password (when written out) is a secret."""
    settings = data.get("settings")
    if not isinstance(settings, dict):
        return
    proxy = settings.get("proxy")
    if proxy is not None and not isinstance(proxy, str):
        raise ConfigError(
            f"profile {path}: settings.proxy must be a URL such as http://host:port, "
            f"got {proxy!r}{FIX_PROFILE}"
        )
    if isinstance(proxy, str) and "${" not in proxy:
        _register_url_password(proxy)


def env_values(spec: PlatformSpec) -> dict[str, str]:
    """The ``IMCLI_<PLATFORM>_<FIELD>`` variables set for a platform: field → raw value
    (``default`` is not taken from the environment)."""
    prefix = spec.env_prefix
    out: dict[str, str] = {}
    for f in spec.all_fields():
        val = os.environ.get(prefix + f.name.upper())
        if val is not None and f.name != "default":
            out[f.name] = val
    return out


def env_account_names() -> list[tuple[str, str]]:
    """(name, platform) of each account the environment makes, its values not read (for
    completion, which must not register or coerce secrets)."""
    from imcli import platforms

    return [
        (f"env-{spec.name}", spec.name)
        for spec in platforms.all_specs()
        if spec.supported and env_values(spec)
    ]


#: what a profile may hold besides accounts (an unknown key gets a warning, not an error)
TOP_LEVEL_TABLES = ("settings", "accounts", "recipients")
#: the keys of a ``[recipients.NAME]`` table
RECIPIENT_KEYS = ("targets", "fallback")
SETTINGS_KEYS = (
    "timeout", "proxy", "max_parts", "resend_uncertain",
    "spool", "flush_on_push", "outbox_max_age",  # the outbox (push --spool)
)  # fmt: skip
#: IMCLI_* variables that are not account fields
GENERAL_ENV_VARS = ("IMCLI_PROFILE", "IMCLI_CACHE_DIR")


def unknown_keys(path: Path, data: dict[str, Any]) -> list[str]:
    """One warning per unknown top-level table/key, [settings] key and account key, with
    "did you mean" when a known one is close. Never an error: a push still runs."""
    from imcli import platforms
    from imcli.platforms import did_you_mean

    out: list[str] = []
    for key in data:
        if key not in TOP_LEVEL_TABLES:
            what = f"table [{key}]" if isinstance(data[key], dict) else f"key {key!r}"
            hint = did_you_mean(key, TOP_LEVEL_TABLES)
            out.append(f"warning: profile {path}: unknown {what}, ignored{hint}")
    settings = data.get("settings")
    if isinstance(settings, dict):
        for key in settings:
            if key not in SETTINGS_KEYS:
                hint = did_you_mean(key, SETTINGS_KEYS)
                out.append(
                    f"warning: profile {path}: unknown key {key!r} in [settings], ignored{hint}"
                )
    tables = data.get("accounts")
    if isinstance(tables, dict):
        for name, table in tables.items():
            spec = (
                platforms.find(str(table.get("platform", ""))) if isinstance(table, dict) else None
            )
            if spec is None:
                continue
            known = ["platform", *(f.name for f in spec.all_fields())]
            for key in table:
                if key not in known:
                    hint = did_you_mean(key, known)
                    out.append(
                        f"warning: profile {path}: unknown key {key!r} in [accounts.{name}] "
                        f"({spec.name}), ignored{hint}"
                    )
    recipients = data.get("recipients")
    if isinstance(recipients, dict):  # a misspelt `fallback` would be lost silently
        for name, table in recipients.items():
            for key in table if isinstance(table, dict) else ():
                if key not in RECIPIENT_KEYS:
                    hint = did_you_mean(key, RECIPIENT_KEYS)
                    out.append(
                        f"warning: profile {path}: unknown key {key!r} in "
                        f"[recipients.{name}], ignored{hint}"
                    )
    return out


def env_var_names() -> list[str]:
    """Every IMCLI_* variable imcli reads."""
    from imcli import platforms

    names = list(GENERAL_ENV_VARS)
    for spec in platforms.all_specs():
        if spec.supported:
            names += [f"{spec.env_prefix}{f.name.upper()}" for f in spec.all_fields()
                      if f.name != "default"]  # fmt: skip
    return names


def unknown_env_vars() -> list[str]:
    """One warning per IMCLI_* variable that names no platform or field."""
    from imcli.platforms import did_you_mean

    known = env_var_names()
    out = []
    for var in sorted(os.environ):
        if var.startswith("IMCLI_") and var not in known:
            out.append(
                f"warning: environment variable {var} names no imcli setting, ignored"
                + did_you_mean(var, known)
            )
    return out


def _env_accounts(platforms_with_default: set[str]) -> list[Account]:
    """``IMCLI_<PLATFORM>_<FIELD>`` variables make an account named ``env-<platform>``."""
    from imcli import platforms

    out: list[Account] = []
    for spec in platforms.all_specs():
        if not spec.supported:
            continue
        prefix = spec.env_prefix
        raw: dict[str, Any] = {}
        for name, val in env_values(spec).items():
            f = spec.field(name)
            assert f is not None
            if f.secret:
                _redact.add_secret(val)
            try:
                raw[name] = _coerce(val, f.type, prefix + name.upper())
            except ConfigError:
                raw[name] = val  # refused when this account is used, not on every load
        if not raw:
            continue
        raw["platform"] = spec.name
        if spec.name not in platforms_with_default:
            raw["default"] = True
        out.append(Account(name=f"env-{spec.name}", platform=spec.name, raw=raw, source="env"))
    return out


def _coerce(val: str, typ: type, where: str) -> Any:
    try:
        if typ is bool:
            low = val.strip().lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(val)
        if typ is int:
            return int(val)
        if typ is float:
            return float(val)
        if typ is dict:
            import json

            parsed = json.loads(val)
            if not isinstance(parsed, dict):
                raise ValueError(val)
            return parsed
    except (ValueError, RecursionError):
        raise ConfigError(f"{where}: cannot read {val!r} as {_type_name(typ)}") from None
    return val


def coerce_field(val: str, typ: type, where: str) -> Any:
    """Read a command-line ``--set key=value`` value as the field's type."""
    if typ is dict:
        return _coerce(val, typ, where)
    try:
        return _coerce(val, typ, where)
    except ConfigError as exc:
        raise UsageError(exc.message) from None


def _permission_warning(path: Path, accounts: list[Account]) -> list[str]:
    if os.name != "posix":
        return []
    try:
        mode = path.stat().st_mode
    except OSError:
        return []
    if not mode & (stat.S_IRGRP | stat.S_IROTH):
        return []
    from imcli import platforms

    for acc in accounts:
        if acc.source != "profile":
            continue
        spec = platforms.get(acc.platform)
        for fname in spec.secret_fields():
            val = acc.raw.get(fname)
            if isinstance(val, str) and val and not _VAR.fullmatch(val.strip()):
                return [
                    f"warning: profile {path} holds a secret and others can read it; "
                    f"run: chmod 600 {path}"
                ]
    return []


# -- writing -------------------------------------------------------------------------


#: how long a write waits for another run's lock on the profile before giving up (exit 3)
LOCK_WAIT = 10.0


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[Path]:
    """Hold the profile's lock (``PROFILE.lock``, 0600) while it is re-read and written;
    yields the file to write: a symlinked profile (dotfiles) is written through its link.
    A lock that cannot be made or is held longer than LOCK_WAIT is exit 3 naming it."""
    from filelock import Timeout

    from imcli import _fs

    real = _real_path(path)
    lock_path = real.with_name(real.name + ".lock")
    try:
        _fs.make_dirs(real.parent)
        # a lock file that cannot be made at all (a read-only or /proc folder) is said so
        # at once; filelock would keep trying until its timeout and blame another run
        os.close(os.open(lock_path, os.O_WRONLY | os.O_CREAT, 0o600))
        lock = _fs.file_lock(lock_path, LOCK_WAIT)
        lock.acquire()
    except Timeout:
        raise ConfigError(
            f"profile {path}: another imcli run has held its lock {lock_path} for more than "
            f"{LOCK_WAIT:.0f} s; try again, or remove the lock file if no imcli is running"
        ) from None
    except OSError as exc:
        raise ConfigError(_cannot_write(lock_path, exc)) from None
    try:
        yield real
    finally:
        lock.release()


def _real_path(path: Path) -> Path:
    """The file a (possibly symlinked) profile path names: the link is kept, its target
    updated."""
    try:
        if path.is_symlink():
            return path.resolve()
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop (Python < 3.13)
        pass
    return path


def _cannot_write(path: Path, exc: OSError) -> str:
    why = exc.strerror or type(exc).__name__
    return (
        f"cannot write {path} ({why}); check that its folder is writable "
        "(permissions, a read-only file system, `chattr +i`)"
    )


def _atomic_write(
    path: Path, data: bytes, *, backup: bool, expect: dict[str, Any] | None = None
) -> None:
    """Write ``data`` as ``path`` (temporary file + rename, 0600). With ``expect``, the
    written file is read back and must parse to exactly that before it replaces the
    profile: an edit never leaves a profile that no command can read."""
    from imcli import _fs

    try:
        _fs.make_dirs(path.parent)
    except OSError as exc:
        raise ConfigError(_cannot_write(path.parent, exc)) from None
    _remove_leftovers(path)
    if backup and path.exists():
        try:
            old = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"profile {path}: cannot read it: {exc.strerror}") from None
        _write_replace(path.with_name(path.name + ".bak"), old)
    _write_replace(path, data, expect=expect)


#: the temporary files of an interrupted write: ``.NAME.XXXXXXXX`` (tempfile.mkstemp)
_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.[a-z0-9_]{8}$")


def _remove_leftovers(path: Path) -> None:
    """Remove the temporary files (holding secrets) an interrupted earlier write left
    beside the profile or its ``.bak``. Called under the lock: no write is under way."""
    names = {path.name, path.name + ".bak"}
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return
    for entry in entries:
        m = _LEFTOVER.match(entry.name)
        if m and m.group("name") in names and entry.is_file(follow_symlinks=False):
            try:
                os.unlink(entry.path)
            except OSError:
                pass


def _write_replace(path: Path, data: bytes, *, expect: dict[str, Any] | None = None) -> None:
    import tempfile

    try:
        fd, tmp = tempfile.mkstemp(prefix="." + path.name + ".", dir=str(path.parent))
    except OSError as exc:
        raise ConfigError(_cannot_write(path, exc)) from None
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if expect is not None:
            _check_written(Path(tmp), expect, path)
        os.replace(tmp, path)
    except OSError as exc:
        _unlink(tmp)
        raise ConfigError(_cannot_write(path, exc)) from None
    except BaseException:
        _unlink(tmp)
        raise


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _check_written(tmp: Path, expect: dict[str, Any], path: Path) -> None:
    """Read back what was written: it must be valid TOML holding exactly ``expect``."""
    tomllib = _tomllib()
    try:
        got = tomllib.loads(tmp.read_bytes().decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise _Unreadable(f"profile {path}: the edit would not be valid TOML ({exc})") from None
    if got != expect:
        raise _Unreadable(f"profile {path}: the edit did not read back as written")


class _Unreadable(ConfigError):
    """A profile edit that would not read back as intended (nothing was replaced)."""


def check_name(name: str, what: str = "account") -> None:
    if not _NAME.match(name):
        raise UsageError(
            f"{what} name {name!r}: use letters, digits, '-', '_' and '.' (start with a letter or digit)"
        )


def append_account(path: Path, name: str, table: dict[str, Any]) -> str | None:
    """Add ``[accounts.NAME]`` at the end of the file; every other byte stays as it was.

    When ``table`` has ``default = true``, the platform's default until now (read under
    the lock, so two adds at once cannot both leave theirs the default) loses its
    ``default = true`` line: only that line changes, or, when the line is not written in
    a way found here, the profile is rewritten. Either way the previous version is kept
    as ``.bak``. Returns the name of the account that was the default, if any.
    """
    import copy

    import tomli_w

    with _locked(path) as real:
        old = _read_bytes(real)
        current: dict[str, Any] = {}
        if old:
            current = read_toml(real)
            if name in current.get("accounts", {}):
                raise UsageError(
                    f"account {name!r} already exists in {path}; remove it first "
                    f"(imcli accounts remove {name})"
                )
        previous = None
        if table.get("default") is True:
            previous = _default_of(current, str(table.get("platform", "")))
        expect = copy.deepcopy(current)
        if previous is not None:
            expect["accounts"][previous].pop("default", None)
        expect.setdefault("accounts", {})[name] = table
        text: bytes | None = old
        if previous is not None:
            edited = _without_default_line(old.decode("utf-8"), previous)
            text = None if edited is None else edited.encode("utf-8")
        if text is not None:
            block = tomli_w.dumps({"accounts": {name: table}}).encode()
            sep = b""
            if text and not text.endswith(b"\n"):
                sep = b"\n"
            if text.strip():
                sep += b"\n"
            new = text + sep + block
            # what was appended must read back as the profile plus the account (an
            # inline `accounts = {…}` table or dotted keys cannot be extended so)
            try:
                _atomic_write(real, new, backup=previous is not None, expect=expect)
                return previous
            except _Unreadable:
                pass
        # rewritten as plain TOML (comments are lost: the previous version is kept)
        _atomic_write(real, tomli_w.dumps(expect).encode(), backup=True, expect=expect)
        return previous


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes() if path.exists() else b""
    except OSError as exc:
        raise ConfigError(f"profile {path}: cannot read it: {exc.strerror}") from None


def _default_of(data: dict[str, Any], platform: str) -> str | None:
    """The name of ``platform``'s default account in the profile's ``data``."""
    from imcli import platforms

    spec = platforms.find(platform)
    for acc_name, acc in data.get("accounts", {}).items():
        if (
            isinstance(acc, dict)
            and bool(acc.get("default", False))  # as Account.is_default reads it
            and platforms.find(str(acc.get("platform", ""))) is spec
        ):
            return str(acc_name)
    return None


def _without_default_line(text: str, account: str) -> str | None:
    """The profile text without ``default = true`` in ``[accounts.<account>]``."""
    quoted = re.escape(account)
    header = re.compile(
        rf"""^\s*\[\s*accounts\s*\.\s*(?:{quoted}|"{quoted}"|'{quoted}')\s*\]\s*(?:#.*)?$"""
    )
    default = re.compile(r"^\s*default\s*=\s*true\s*(?:#.*)?$")
    lines = text.splitlines(keepends=True)
    inside = False
    for i, line in enumerate(lines):
        if header.match(line):
            inside = True
            continue
        if inside and line.lstrip().startswith("["):
            break
        if inside and default.match(line):
            return "".join(lines[:i] + lines[i + 1 :])
    return None


def rewrite(path: Path, mutate: Any) -> None:
    """Re-read, change with ``mutate(data)``, and write the profile; keep a ``.bak``."""
    import tomli_w

    with _locked(path) as real:
        data = read_toml(real) if real.exists() else {}
        mutate(data)
        _atomic_write(real, tomli_w.dumps(data).encode(), backup=True, expect=data)


def append_table(path: Path, section: str, name: str, table: dict[str, Any], exists: str) -> None:
    """Add ``[<section>.<name>]`` at the end of the file, under the lock; every other
    byte stays as it was. A file that declares ``section`` in a way an appended table
    cannot extend (an inline table, dotted keys) is rewritten as plain TOML instead, its
    previous version kept as ``.bak``: never left invalid. UsageError(``exists``) when the
    name is taken."""
    import copy

    import tomli_w

    with _locked(path) as real:
        old = _read_bytes(real)
        current = read_toml(real) if old else {}
        tables = current.get(section, {})
        if not isinstance(tables, dict):
            raise ConfigError(
                f"profile {path}: {section} must be a table of [{section}.NAME] tables"
                + FIX_PROFILE
            )
        if name in tables:
            raise UsageError(exists)
        expect = copy.deepcopy(current)
        expect.setdefault(section, {})[name] = table
        sep = b"\n" if old and not old.endswith(b"\n") else b""
        if old.strip():
            sep += b"\n"
        new = old + sep + tomli_w.dumps({section: {name: table}}).encode()
        try:  # what was appended must read back as the profile plus the table
            _atomic_write(real, new, backup=False, expect=expect)
            return
        except _Unreadable:
            pass
        # rewritten as plain TOML (comments are lost: the previous version is kept)
        _atomic_write(real, tomli_w.dumps(expect).encode(), backup=True, expect=expect)
