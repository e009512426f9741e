"""The benchmark scenarios; run through ``python3 bench/run.py`` (which prepares bench/.env).

Every figure is a whole ``imcli`` process (the console script of bench/.env), spawned and
reaped with :func:`os.wait4` by bench/_spawn.py, so wall time covers interpreter start-up to
exit and peak memory is the child's own ``ru_maxrss``. The fake platform servers of
tests/fakes/ run in this process on 127.0.0.1, each in its own threads.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform as platform_mod
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / ".data"
RESULTS = HERE / "results"
MIB = 1 << 20

TG_TOKEN = "123456:TEST-fake-telegram-token"
SLACK_TOKEN = "xoxb-test-token"
LARK_APP_ID, LARK_SECRET = "cli_test_app", "test-app-secret"
QQ_GROUPS = list(range(50001, 50201))  # 200 groups
TG_CHATS = list(range(2001, 2101))  # 100 chats
ONEBOT_LATENCY = 0.020
TG_RATE = 30


# -- measuring one process ---------------------------------------------------------------------
@dataclass
class Sample:
    wall: float  # seconds, spawned to reaped
    rss_kib: int  # the child's peak resident set (ru_maxrss)
    rc: int
    out: str
    err: str
    started: float  # time.monotonic() just before the spawn (one clock for all processes)


SPAWN = HERE / "_spawn.py"


def run_proc(
    cmd: Sequence[str], env: dict[str, str], timeout: float = 120.0, cwd: Path | None = None
) -> Sample:
    """Run ``cmd`` through bench/_spawn.py, which measures it (see that file for why)."""
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile("r", suffix=".spawn") as res,
    ):
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", str(SPAWN), res.name, *cmd],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=env,
            cwd=str(cwd or ROOT),
            start_new_session=True,
        )
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
            raise BenchError(f"{' '.join(cmd[:4])} …: no exit within {timeout:.0f} s") from None
        fields = res.read().split()
        if len(fields) != 4:
            raise BenchError(f"{cmd[0]}: launcher failed (exit {proc.returncode})")
        out.seek(0)
        err.seek(0)
        return Sample(
            wall=float(fields[1]),
            rss_kib=int(fields[2]),
            rc=int(fields[3]),
            out=out.read().decode("utf-8", "replace"),
            err=err.read().decode("utf-8", "replace"),
            started=float(fields[0]),
        )


class BenchError(Exception):
    """A scenario that could not be measured (the reason goes into the table)."""


def check(sample: Sample, what: str, expect_out: str | None = None) -> Sample:
    if "adapter is not built" in sample.err:
        raise BenchError(f"n/a: {sample.err.strip().splitlines()[-1]}")
    if sample.rc != 0 or (expect_out is not None and sample.out.strip() != expect_out):
        tail = " | ".join((sample.err.strip() or sample.out.strip()).splitlines()[-3:])
        raise BenchError(f"{what} failed (exit {sample.rc}, stdout {sample.out.strip()!r}): {tail}")
    return sample


# -- statistics and the table -------------------------------------------------------------------
def med(xs: Sequence[float]) -> float:
    return statistics.median(xs)


@dataclass
class Row:
    key: str
    scenario: str
    value: str = ""  # the median, formatted
    spread: str = ""  # min–max, formatted
    rss: str = ""  # peak RSS (median)
    peer: str = ""
    ratio: str = ""
    target: str = ""
    verdict: str = ""  # PASS / FAIL / n/a / ""
    notes: list[str] = field(default_factory=list)


def fmt_s(x: float) -> str:
    return f"{x * 1000:.0f} ms" if x < 1 else f"{x:.2f} s"


def fmt_spread(xs: Sequence[float], f: Callable[[float], str] = fmt_s) -> str:
    if len(xs) < 2:
        return f"n={len(xs)}"
    return f"{f(min(xs))}–{f(max(xs))} (n={len(xs)})"


def fmt_mib(kib: float) -> str:
    return f"{kib / 1024:.1f} MiB"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


COLUMNS = (
    "#",
    "scenario",
    "median",
    "spread (min–max)",
    "peak RSS",
    "peer median",
    "ratio",
    "target",
    "result",
)


def table_cells(rows: list[Row]) -> list[list[str]]:
    return [
        [r.key, r.scenario, r.value, r.spread, r.rss, r.peer, r.ratio, r.target, r.verdict]
        for r in rows
    ]


def render_plain(rows: list[Row]) -> str:
    cells = [list(COLUMNS), *table_cells(rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(COLUMNS))]
    lines = []
    for n, c in enumerate(cells):
        lines.append("  ".join(v.ljust(w) for v, w in zip(c, widths, strict=False)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render_md(rows: list[Row]) -> str:
    def esc(v: str) -> str:
        return v.replace("|", "\\|")

    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for c in table_cells(rows):
        lines.append("| " + " | ".join(esc(v) for v in c) + " |")
    return "\n".join(lines)


# -- the world the processes see ------------------------------------------------------------------
class World:
    """A temporary HOME, profile and token cache; the fake servers; the child environment."""

    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="imcli-bench-"))
        (self.tmp / "home").mkdir()
        self.profile = self.tmp / "profile.toml"
        self.cache = self.tmp / "cache"
        bindir = Path(sys.prefix) / "bin"
        self.imcli = str(bindir / "imcli")
        self.apprise = str(bindir / "apprise")
        self.env = {
            "PATH": f"{bindir}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.tmp / "home"),
            "XDG_CONFIG_HOME": str(self.tmp / "home/.config"),
            "XDG_CACHE_HOME": str(self.tmp / "home/.cache"),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "IMCLI_PROFILE": str(self.profile),
            "IMCLI_CACHE_DIR": str(self.cache),
            "NO_PROXY": "127.0.0.1,localhost",
            "TERM": "dumb",
        }
        self.servers: list[Any] = []
        self.accounts: dict[str, str] = {}

    def add_account(self, name: str, body: str) -> None:
        self.accounts[name] = body
        text = "".join(f"[accounts.{n}]\n{b.strip()}\n\n" for n, b in self.accounts.items())
        self.profile.write_text(text, encoding="utf-8")
        self.profile.chmod(0o600)

    def serve(self, server: Any) -> Any:
        server.start()
        self.servers.append(server)
        return server

    def close(self) -> None:
        for s in self.servers:
            s.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run(self, *args: str, timeout: float = 120.0, env: dict[str, str] | None = None) -> Sample:
        full = dict(self.env)
        full.update(env or {})
        return run_proc([self.imcli, *args], full, timeout)


def _fakes() -> Any:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import tests.fakes.base as base

    return base


def timed_fake(cls: type) -> type:
    """A subclass of a fake that notes when each answer leaves (arrival + handling + latency)."""

    class Timed(cls):  # type: ignore[misc, valid-type]
        def __init__(self, *a: Any, **kw: Any) -> None:
            super().__init__(*a, **kw)
            self.answered: list[float] = []
            self.handling: list[float] = []  # the fake's own time per request (no latency)

        def handle(self, req: Any) -> Any:
            reply = super().handle(req)
            now = time.monotonic()
            self.answered.append(now + reply.delay + self.latency)
            self.handling.append(now - req.arrived)
            return reply

        def reset(self) -> None:
            super().reset()
            self.answered.clear()
            self.handling.clear()

        def span(self) -> tuple[float, float]:
            """(first request's arrival, last answer's departure), monotonic seconds."""
            first = min(r.arrived for r in self.requests)
            return first, max(self.answered)

    Timed.__name__ = f"Timed{cls.__name__}"
    return Timed


# -- the scenarios ----------------------------------------------------------------------------------
def httpx_check(
    world: World, args: list[str], env: dict[str, str] | None = None
) -> tuple[bool, str]:
    """Does this command import httpx? (PYTHONPROFILEIMPORTTIME lists every import.)"""
    e = {"PYTHONPROFILEIMPORTTIME": "1", **(env or {})}
    s = world.run(*args, env=e)
    mods = [
        line.rsplit("|", 1)[-1].strip() for line in s.err.splitlines() if "import time:" in line
    ]
    heavy = sorted(
        {m.split(".")[0].strip() for m in mods}
        & {"httpx", "httpcore", "anyio", "typer", "click", "rich", "asyncio", "ssl"}
    )
    return any(m.strip() == "httpx" for m in mods), ",".join(heavy) or "-"


def completion_env() -> dict[str, str]:
    # click's protocol (typer uses click): complete the value of `push text -a `
    return {
        "_IMCLI_COMPLETE": "complete_bash",
        "COMP_WORDS": "imcli push text -a ",
        "COMP_CWORD": "4",
    }


def scenario_startup(world: World, n: int, rows: list[Row]) -> dict[str, float]:
    # an account for the completion row to offer (it never sends)
    world.add_account(
        "ops-bot", f'platform = "telegram"\ntoken = "{TG_TOKEN}"\nbase_url = "http://127.0.0.1:9"'
    )
    cmds: dict[str, tuple[list[str], dict[str, str] | None]] = {
        "imcli --version": (["--version"], None),
        "imcli --help": (["--help"], None),
        "imcli platforms": (["platforms"], None),
        "completion: push text -a <TAB>": ([], completion_env()),
    }
    samples: dict[str, list[Sample]] = {k: [] for k in cmds}
    samples["apprise --version"] = []
    apprise_cmd = [world.apprise, "--version"]
    for _ in range(2):  # warm-up: bytecode caches, page cache
        for args, env in cmds.values():
            world.run(*args, env=env)
        run_proc(apprise_cmd, world.env)
    for _ in range(n):  # interleaved, so drift hits every command alike
        for name, (args, env) in cmds.items():
            samples[name].append(world.run(*args, env=env))
        samples["apprise --version"].append(run_proc(apprise_cmd, world.env))
    for s in samples["apprise --version"]:
        if s.rc != 0:
            raise BenchError(f"apprise --version: exit {s.rc}: {s.err.strip()[-300:]}")
    medians = {k: med([s.wall for s in v]) for k, v in samples.items()}
    peer = medians["apprise --version"]
    for i, (name, (args, env)) in enumerate(cmds.items()):
        ss = samples[name]
        walls = [s.wall for s in ss]
        imports_httpx, heavy = httpx_check(world, args, env)
        row = Row(
            key=f"1{'abcd'[i]}",
            scenario=name,
            value=fmt_s(med(walls)),
            spread=fmt_spread(walls),
            rss=fmt_mib(med([s.rss_kib for s in ss])),
            peer=f"httpx: {'YES' if imports_httpx else 'no'}; loads: {heavy}",
            target="no httpx import",
        )
        ok = not imports_httpx
        failed = [s for s in ss if s.rc != 0]
        if failed:
            ok = False
            row.notes.append(f"exit {failed[0].rc}: {failed[0].err.strip()[-200:]}")
        elif name.startswith("completion") and "ops-bot" not in ss[0].out:
            ok = False
            row.notes.append(f"completion did not offer the account: {ss[0].out.strip()[:80]!r}")
        if name == "imcli --version":
            ratio = med(walls) / peer
            row.peer = f"apprise {fmt_s(peer)}; httpx: {'YES' if imports_httpx else 'no'}"
            row.ratio = f"{ratio:.2f}×"
            row.target = "≤ 0.30× apprise; no httpx"
            ok = ok and ratio <= 0.30
        row.verdict = verdict(ok) + ("" if not imports_httpx else " (imports httpx)")
        rows.append(row)
    a = samples["apprise --version"]
    rows.append(
        Row(
            key="1p",
            scenario="  peer: apprise --version",
            value=fmt_s(peer),
            spread=fmt_spread([s.wall for s in a]),
            rss=fmt_mib(med([s.rss_kib for s in a])),
        )
    )
    return medians


def scenario_push_one(world: World, n: int, rows: list[Row]) -> None:
    base = _fakes()
    from tests.fakes.telegram import FakeTelegram

    class JsonEndpoint(base.FakeServer):
        def handle(self, req: Any) -> Any:
            return base.Reply(200, json={"ok": True})

    tg = world.serve(FakeTelegram())
    hook = world.serve(JsonEndpoint())
    world.add_account(
        "tg", f'platform = "telegram"\ntoken = "{TG_TOKEN}"\nbase_url = "{tg.api_url}"'
    )
    imcli_args = ["push", "text", "-a", "tg", "-u", "1001", "bench: one push"]
    apprise_cmd = [world.apprise, "-b", "bench: one push", f"json://127.0.0.1:{hook.port}/notify"]
    for _ in range(2):
        check(world.run(*imcli_args), "imcli push text", "1")
        check(run_proc(apprise_cmd, world.env), "apprise json://")
    tg.reset()
    hook.reset()
    mine, theirs = [], []
    for _ in range(n):
        mine.append(check(world.run(*imcli_args), "imcli push text", "1"))
        theirs.append(check(run_proc(apprise_cmd, world.env), "apprise json://"))
    if len(tg.sent_messages()) != n or len(hook.requests) != n:
        raise BenchError(
            f"deliveries: telegram {len(tg.sent_messages())}, apprise {len(hook.requests)}, expected {n}"
        )
    mw, tw = [s.wall for s in mine], [s.wall for s in theirs]
    ratio = med(mw) / med(tw)
    rows.append(
        Row(
            key="2",
            scenario="imcli push text → fake Telegram",
            value=fmt_s(med(mw)),
            spread=fmt_spread(mw),
            rss=fmt_mib(med([s.rss_kib for s in mine])),
            peer=f"apprise json:// {fmt_s(med(tw))}",
            ratio=f"{ratio:.2f}×",
            target="≤ 0.60× apprise",
            verdict=verdict(ratio <= 0.60),
        )
    )
    rows.append(
        Row(
            key="2p",
            scenario="  peer: apprise -b … json://127.0.0.1",
            value=fmt_s(med(tw)),
            spread=fmt_spread(tw),
            rss=fmt_mib(med([s.rss_kib for s in theirs])),
        )
    )


def _span_rows(
    key: str,
    title: str,
    samples: list[Sample],
    spans: list[tuple[float, float]],
    target: str,
    ok: Callable[[float], bool],
    extra: str = "",
) -> list[Row]:
    push = [last - first for first, last in spans]
    to_first = [first - s.started for s, (first, _) in zip(samples, spans, strict=False)]
    after = [s.started + s.wall - last for s, (_, last) in zip(samples, spans, strict=False)]
    whole = [s.wall for s in samples]
    m = med(push)
    main = Row(
        key=key,
        scenario=title + ": the push itself †",
        value=fmt_s(m),
        spread=fmt_spread(push),
        rss=fmt_mib(med([s.rss_kib for s in samples])),
        target=target,
        verdict=verdict(ok(m)),
    )
    if extra:
        main.ratio = extra
    context = Row(
        key=key + "w",
        scenario="  the whole process",
        value=fmt_s(med(whole)),
        spread=fmt_spread(whole),
        peer=f"start→1st request {fmt_s(med(to_first))}; last answer→exit {fmt_s(med(after))}",
    )
    return [main, context]


def scenario_fanout_qq(world: World, n: int, rows: list[Row]) -> None:
    _fakes()
    from tests.fakes.onebot import FakeOneBot

    ob = world.serve(timed_fake(FakeOneBot)(groups=QQ_GROUPS))
    ob.latency = ONEBOT_LATENCY
    world.add_account("qq", f'platform = "qq"\nbase_url = "{ob.base_url}"\nrate = 0')
    args = [
        "push",
        "text",
        "-a",
        "qq",
        *[x for g in QQ_GROUPS for x in ("-g", str(g))],
        "bench: fan-out",
    ]
    check(world.run(*args), "imcli push text -p qq (200 groups)", "200")  # warm-up
    samples, spans, handling = [], [], []
    for _ in range(n):
        ob.reset()
        before = len(ob.sent())
        s = check(world.run(*args), "imcli push text -p qq (200 groups)", "200")
        got = len(ob.sent()) - before
        if got != len(QQ_GROUPS):
            raise BenchError(f"fake OneBot got {got} messages, expected {len(QQ_GROUPS)}")
        samples.append(s)
        spans.append(ob.span())
        handling.extend(ob.handling)
    notes = [
        f"fake OneBot's own handling: median {med(handling) * 1000:.2f} ms, "
        f"max {max(handling) * 1000:.1f} ms per request (plus the 20 ms latency)"
    ]
    rows.extend(
        _span_rows(
            "3",
            "fan-out → 200 QQ groups, 20 ms/answer, rate=0",
            samples,
            spans,
            "≤ 0.60 s",
            lambda m: m <= 0.60,
        )
    )
    rows[-2].notes.extend(notes)


def scenario_fanout_tg(world: World, n: int, rows: list[Row]) -> None:
    _fakes()
    from tests.fakes.telegram import FakeTelegram

    tg = world.serve(timed_fake(FakeTelegram)(enforce_rate=True))
    world.add_account(
        "tg-flood", f'platform = "telegram"\ntoken = "{TG_TOKEN}"\nbase_url = "{tg.api_url}"'
    )
    args = [
        "push",
        "text",
        "-a",
        "tg-flood",
        *[x for c in TG_CHATS for x in ("-u", str(c))],
        "bench: fan-out",
    ]
    ideal = len(TG_CHATS) / TG_RATE
    samples, spans, too_many = [], [], []
    for _ in range(n):
        tg.reset()
        time.sleep(1.2)  # let the fake's flood window empty
        s = check(world.run(*args, timeout=300), "imcli push text -p telegram (100 chats)", "100")
        samples.append(s)
        spans.append(tg.span())
        too_many.append(tg.too_many)
    m_push = med([b - a for a, b in spans])
    out = _span_rows(
        "4",
        "fan-out → 100 Telegram chats, 30/s enforced",
        samples,
        spans,
        f"0 × 429; ≤ {ideal * 1.15:.2f} s (100/30 s + 15%)",
        lambda m: m <= ideal * 1.15 and max(too_many) == 0,
        extra=f"{m_push / ideal:.2f}× ideal; 429s: {sum(too_many)}",
    )
    out[0].notes.append(f"429s per run: {too_many} (ideal 100/30 s = {ideal:.2f} s)")
    rows.extend(out)


TG_BROADCAST = 10_000  # chats in the broadcast row (7)


def scenario_broadcast_tg(world: World, rows: list[Row]) -> None:
    """One text to 10,000 Telegram chats read from `-u @FILE`, the fake enforcing 30/s."""
    _fakes()
    from tests.fakes.telegram import FakeTelegram

    tg = world.serve(timed_fake(FakeTelegram)(enforce_rate=True))
    world.add_account(
        "tg-broadcast",
        f'platform = "telegram"\ntoken = "{TG_TOKEN}"\nbase_url = "{tg.api_url}"',
    )
    ids = world.tmp / "broadcast-ids.txt"
    ids.write_text("".join(f"{3_000_000 + i}\n" for i in range(TG_BROADCAST)), encoding="utf-8")
    ideal = TG_BROADCAST / TG_RATE
    time.sleep(1.2)  # the fake's flood window empties
    s = check(
        world.run("push", "text", "-a", "tg-broadcast", "-u", f"@{ids}", "bench: broadcast",
                  "--timeout", str(int(ideal * 2 * 1000)), timeout=ideal * 2 + 60),
        f"imcli push text -u @FILE ({TG_BROADCAST} chats)",
        str(TG_BROADCAST),
    )  # fmt: skip
    got = len({m.chat_id for m in tg.sent_messages()})
    if got != TG_BROADCAST:
        raise BenchError(f"fake Telegram got {got} chats, expected {TG_BROADCAST}")
    first, last = tg.span()
    push = last - first
    rows.append(
        Row(
            key="7",
            scenario=f"broadcast → {TG_BROADCAST:,} Telegram chats from -u @FILE, 30/s enforced †",
            value=fmt_s(push),
            spread="1 run",
            rss=fmt_mib(s.rss_kib),
            ratio=f"{push / ideal:.3f}× ideal; 429s: {tg.too_many}",
            target=f"0 × 429; ≤ {ideal * 1.05:.0f} s (+5%); < 60 MiB",
            verdict=verdict(push <= ideal * 1.05 and tg.too_many == 0 and s.rss_kib < 60 * 1024),
            notes=[f"whole process {fmt_s(s.wall)}; ideal {TG_BROADCAST}/30 s = {ideal:.1f} s"],
        )
    )


def make_file(size: int) -> tuple[Path, str]:
    DATA.mkdir(exist_ok=True)
    path = DATA / f"upload-{size // MIB}MiB.bin"
    digest = hashlib.sha256()
    block = os.urandom(MIB)
    with open(path, "wb") as fh:
        for i in range(size // MIB):
            # distinct blocks, cheaply: a counter prefix on one random MiB
            chunk = i.to_bytes(8, "big") + block[8:]
            digest.update(chunk)
            fh.write(chunk)
    return path, digest.hexdigest()


def scenario_upload(world: World, n: int, sizes: list[int], rows: list[Row]) -> None:
    _fakes()
    from tests.fakes.slack import FakeSlack
    from tests.fakes.telegram import FakeTelegram

    slack = world.serve(FakeSlack())
    tgl = world.serve(FakeTelegram(local_server=True))
    world.add_account(
        "slack", f'platform = "slack"\ntoken = "{SLACK_TOKEN}"\nbase_url = "{slack.url}/api"'
    )
    world.add_account(
        "tg-local",
        f'platform = "telegram"\ntoken = "{TG_TOKEN}"\nbase_url = "{tgl.api_url}"\nlocal_server = true',
    )
    # context: the same process sending a text (what a push costs without any file)
    base_rss = [
        check(world.run("push", "text", "-a", "tg-local", "-u", "1001", "x"), "push text").rss_kib
        for _ in range(3)
    ]
    results: dict[tuple[str, int], list[Sample] | BenchError] = {}
    for size in sizes:
        path, digest = make_file(size)
        try:
            for dest in ("slack", "telegram-local"):
                got: list[Sample] = []
                try:
                    for _ in range(n):
                        if dest == "slack":
                            slack.reset()
                            seen = set(slack.uploaded_files())
                            s = check(
                                world.run(
                                    "push",
                                    "file",
                                    "-a",
                                    "slack",
                                    "-g",
                                    "C0BENCH",
                                    str(path),
                                    timeout=1200,
                                ),
                                "slack push file",
                                "1",
                            )
                            files = [
                                f
                                for i, f in slack.uploaded_files().items()
                                if f.uploaded and i not in seen
                            ]
                            hashes = [f.sha256 for f in files]
                        else:
                            tgl.reset()
                            s = check(
                                world.run(
                                    "push",
                                    "file",
                                    "-a",
                                    "tg-local",
                                    "-u",
                                    "1001",
                                    str(path),
                                    timeout=1200,
                                ),
                                "telegram push file",
                                "1",
                            )
                            hashes = [p.sha256 for r in tgl.requests for p in r.files.values()]
                        if hashes != [digest]:
                            raise BenchError(
                                f"bytes arrived damaged: sha256 {hashes} != {digest[:12]}…"
                            )
                        got.append(s)
                    results[(dest, size)] = got
                except BenchError as exc:
                    results[(dest, size)] = exc
        finally:
            path.unlink(missing_ok=True)
    for dest, label in (("slack", "Slack"), ("telegram-local", "Telegram local_server")):
        by_size: dict[int, float] = {}
        for size in sizes:
            res = results[(dest, size)]
            key = f"5{'s' if dest == 'slack' else 't'}{size // MIB}"
            title = f"push file {size // MIB} MiB → {label}"
            if isinstance(res, BenchError):
                rows.append(
                    Row(
                        key=key,
                        scenario=title,
                        verdict="n/a" if str(res).startswith("n/a") else "FAIL",
                        notes=[str(res)],
                    )
                )
                continue
            rss = [s.rss_kib for s in res]
            walls = [s.wall for s in res]
            by_size[size] = med(rss)
            ok = med(rss) <= 80 * 1024
            row = Row(
                key=key,
                scenario=title + " (sha256 ok)",
                value=fmt_mib(med(rss)),
                spread=fmt_spread(rss, lambda k: f"{k / 1024:.1f}"),
                rss=fmt_mib(med(rss)),
                peer=f"wall {fmt_s(med(walls))} ({size / MIB / med(walls):.0f} MiB/s)",
                target="≤ 80 MiB, flat",
            )
            if len(by_size) > 1:
                lo = by_size[min(by_size)]
                growth = (med(rss) - lo) / 1024
                row.ratio = f"{growth:+.1f} MiB vs {min(by_size) // MIB} MiB"
                ok = ok and growth <= 5
            row.verdict = verdict(ok)
            rows.append(row)
    rows.append(
        Row(
            key="5c",
            scenario="  context: push text, no file",
            value=fmt_mib(med(base_rss)),
            rss=fmt_mib(med(base_rss)),
            spread=fmt_spread(base_rss, lambda k: f"{k / 1024:.1f}"),
        )
    )


def scenario_tokens(world: World, runs: int, rows: list[Row]) -> None:
    _fakes()
    from tests.fakes.lark import FakeLark

    lark = world.serve(FakeLark(app_id=LARK_APP_ID, app_secret=LARK_SECRET))
    world.add_account(
        "lark",
        f'platform = "lark"\napp_id = "{LARK_APP_ID}"\napp_secret = "{LARK_SECRET}"\nbase_url = "{lark.url}"',
    )
    shutil.rmtree(world.cache, ignore_errors=True)  # a cold cache: the first run must fetch
    samples = [
        check(
            world.run("push", "text", "-a", "lark", "-g", "oc_bench0001", f"run {i}"),
            "imcli push text -p lark",
            "1",
        )
        for i in range(runs)
    ]
    walls = [s.wall for s in samples]
    sent = len(lark.sent_messages())
    rows.append(
        Row(
            key="6",
            scenario=f"token reuse: {runs} × push text → fake Lark",
            value=f"{lark.token_requests} token req.",
            spread=f"per run {fmt_s(med(walls))} ({fmt_s(min(walls))}–{fmt_s(max(walls))})",
            rss=fmt_mib(med([s.rss_kib for s in samples])),
            target="exactly 1",
            verdict=verdict(lark.token_requests == 1 and sent == runs),
            notes=[f"messages delivered: {sent}/{runs}"],
        )
    )


# -- main -------------------------------------------------------------------------------------------
SCENARIOS = ("1", "2", "3", "4", "5", "6", "7")

FOOTNOTES = """\
Every figure is a whole process (interpreter start to exit; spawned and reaped with
os.wait4 by bench/_spawn.py) unless
marked †; peak RSS is the child's ru_maxrss. Spread is min–max over n runs; commands
compared with a peer run interleaved with it in the same run.
† "the push itself" is measured at the fake server: from the arrival of imcli's first
  request to the moment the last answer leaves (its arrival + handling + the fake's
  latency). It leaves out the start-up before the first request (interpreter, imports,
  profile) and the tear-down after the last answer; both are shown on the "whole process"
  row below it.
1: the httpx check runs the command once with PYTHONPROFILEIMPORTTIME=1; "loads"
   lists which of httpx/httpcore/anyio/typer/click/rich/asyncio/ssl loaded.
   The completion row asks the CLI to complete `imcli push text -a ` (account names).
4: the fake Telegram counts sends per bot in a 1 s sliding window and answers the 31st
   with 429 + retry_after; the ideal is 100/30 s = 3.33 s.
5: memory is the imcli process's peak RSS; the fakes hash what they receive and the
   row passes only if the sha256 matches the file's; "flat" = the 800 MiB peak at most
   5 MiB above the 100 MiB peak.
6: the token cache starts empty (a fresh $IMCLI_CACHE_DIR), so exactly one request is
   the best possible.
7: only with --broadcast or --only 7 (it takes ~6 min): 10,000 chat ids streamed from
   `-u @FILE`, the fake enforcing 30 sends/s per bot (429 above it); one run."""


def main() -> int:
    ap = argparse.ArgumentParser(
        prog="bench/run.py", description="imcli's speed and memory benchmark"
    )
    ap.add_argument("--quick", action="store_true", help="fewer repetitions, 100 MiB uploads only")
    ap.add_argument(
        "-n",
        "--runs",
        type=int,
        default=None,
        help="repetitions for start-up and one-push rows (default 15; --quick 5)",
    )
    ap.add_argument(
        "--heavy-runs",
        type=int,
        default=None,
        help="repetitions for fan-out and upload rows (default 3; --quick 1)",
    )
    ap.add_argument("--only", default="", help="comma-separated scenario numbers, e.g. 1,2")
    ap.add_argument(
        "--sizes", default="", help="upload sizes in MiB (default 100,800; --quick 100)"
    )
    ap.add_argument("--no-write", action="store_true", help="do not write bench/results/latest.md")
    ap.add_argument(
        "--broadcast",
        action="store_true",
        help="also run row 7 (10,000 Telegram chats at 30/s: ~6 min); --only 7 runs it alone",
    )
    opts = ap.parse_args()
    n = opts.runs or (5 if opts.quick else 15)
    heavy = opts.heavy_runs or (1 if opts.quick else 3)
    sizes = [int(s) * MIB for s in (opts.sizes or ("100" if opts.quick else "100,800")).split(",")]
    only = set(opts.only.split(",")) - {""} or set(SCENARIOS)

    world = World()
    rows: list[Row] = []
    started = time.time()

    def guarded(key: str, title: str, fn: Callable[[], Any]) -> None:
        if key not in only:
            return
        print(f"bench: {title} …", file=sys.stderr, flush=True)
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - one broken row must not hide the others
            msg = str(exc) if isinstance(exc, BenchError) else f"bench error: {exc!r}"
            if not isinstance(exc, BenchError):
                import traceback

                traceback.print_exc()
            rows.append(
                Row(
                    key=key,
                    scenario=title,
                    verdict="n/a" if msg.startswith("n/a") else "FAIL",
                    notes=[msg],
                )
            )

    try:
        guarded("1", "start-up", lambda: scenario_startup(world, n, rows))
        guarded("2", "one push vs apprise", lambda: scenario_push_one(world, n, rows))
        guarded("3", "fan-out: 200 QQ groups", lambda: scenario_fanout_qq(world, heavy, rows))
        guarded(
            "4",
            "fan-out: 100 Telegram chats under 30/s",
            lambda: scenario_fanout_tg(world, heavy, rows),
        )
        guarded("5", "upload memory", lambda: scenario_upload(world, heavy, sizes, rows))
        guarded("6", "token reuse", lambda: scenario_tokens(world, 50, rows))
        if "7" in only and (opts.only or opts.broadcast):
            guarded(
                "7", "broadcast: 10,000 Telegram chats", lambda: scenario_broadcast_tg(world, rows)
            )
    finally:
        world.close()
        if DATA.exists() and not any(DATA.iterdir()):
            DATA.rmdir()

    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as _version

    def version(name: str) -> str:
        try:
            return _version(name)
        except PackageNotFoundError:  # e.g. row 7 alone, run from the test virtualenv
            return "(not installed)"

    true = shutil.which("true")
    floor = run_proc([true], world.env).rss_kib if true else 0

    head = (
        f"imcli {version('imcli')} vs apprise {version('apprise')} — Python {platform_mod.python_version()}, "
        f"{platform_mod.system()} {platform_mod.machine()}, {os.cpu_count()} CPUs — "
        f"{time.strftime('%Y-%m-%d %H:%M')} — {time.time() - started:.0f} s — "
        f"peak RSS floor of the launcher: {fmt_mib(floor)}"
    )
    notes = [f"{r.key}: {note}" for r in rows for note in r.notes]
    plain = "\n".join([head, "", render_plain(rows), "", *notes, "", FOOTNOTES])
    print(plain)
    if not opts.no_write:
        RESULTS.mkdir(exist_ok=True)
        md = "\n".join(
            [
                "# imcli benchmark",
                "",
                head,
                "",
                "Command: `python3 bench/run.py "
                + " ".join(sys.argv[1:])
                + "`".replace("  `", "`"),
                "",
                render_md(rows),
                "",
                *[f"- {x}" for x in notes],
                "",
                "```",
                FOOTNOTES,
                "```",
                "",
            ]
        )
        (RESULTS / "latest.md").write_text(md, encoding="utf-8")
    return 0 if not any(r.verdict.startswith("FAIL") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
