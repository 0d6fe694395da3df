"""Hostile-feed benchmark (run by hand): each attack served over real HTTP on 127.0.0.1 to a
real `policybot poll --once` process, with its peak memory and CPU measured.

For every case a fresh temporary directory gets a feeds.yaml naming one feed on the local
server and an empty SQLite database (DATABASE_URL); the feed comes from the config file, so
the operator's rules apply (loopback allowed; feeds added from chat are guarded instead).
Each child's peak RSS and CPU come from wait4's rusage of that child alone; the feed's
status and error are read back from its database afterwards. The bodies are built and served
by a server process of their own: a child's peak RSS counts the pages of the process it was
forked from, so the parent stays small. The target: every case under
300 MB and 10 s of CPU, whatever it does to the feed.

    .venv/bin/python bench/hostile.py [--only NAME ...] [--list]

Loopback only; every server loop is bounded in bytes and seconds, every child is killed after
--child-timeout seconds, and the run stops by itself.
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

MB = 1_000_000
MiB = 1024 * 1024
LIMIT_RSS_MB = 300
LIMIT_CPU_S = 10.0
STREAM_MAX_BYTES = 200 * MiB  # the endless body stops here at the latest
STREAM_MAX_SECONDS = 90.0  # and the endless and dripping bodies after this long


@dataclass
class Case:
    name: str
    what: str
    body: Callable[[], bytes] | None = None  # built lazily: some are tens of MB
    gzip: bool = False
    mode: str = "static"  # static | endless | drip
    headers: dict[str, str] = field(default_factory=dict)


def _rss(items: bytes, head: bytes = b"", title: bytes = b"Hostile feed") -> bytes:
    return (
        b'<?xml version="1.0" encoding="utf-8"?>\n' + head + b"<rss version='2.0'><channel>"
        b"<title>" + title + b"</title><link>http://127.0.0.1/</link>" + items + b"</channel></rss>"
    )


def _item(n: int, title: bytes = b"EU AI Act guidance item", extra: bytes = b"") -> bytes:
    return (
        b"<item><title>%s %d</title><link>http://127.0.0.1/%d</link>"
        b"<guid isPermaLink='false'>g%d</guid>"
        b"<pubDate>Mon, 02 Mar 2026 10:%02d:%02d GMT</pubDate>%s</item>\n"
        % (title, n, n, n, n // 60 % 60, n % 60, extra)
    )


def quadratic(size: int, entity: int) -> bytes:
    decl = b'<!DOCTYPE rss [<!ENTITY a "' + b"x" * entity + b'">]>\n'
    refs = b"&a;" * max(1, (size - entity) // 3)
    return _rss(_item(1, b"&a; in an item"), head=decl, title=refs)


def billion_laughs() -> bytes:
    levels = b"".join(b'<!ENTITY l%d "%s">' % (i, b"&l%d;" % (i - 1) * 10) for i in range(1, 10))
    decl = b'<!DOCTYPE rss [<!ENTITY l0 "lol">' + levels + b"]>\n"
    return _rss(_item(1, b"&l9;"), head=decl, title=b"&l9;")


def big_feed(items: int = 44_000, size: int = 9_900_000) -> bytes:
    # Each item padded so that the whole is just under the 10 MiB body cap.
    bare = len(_rss(b"".join(_item(i) for i in range(items))))
    pad = max(0, (size - bare) // items - len(b"<description></description>"))
    desc = b"<description>" + (b"AI governance news. " * (pad // 20 + 1))[:pad] + b"</description>"
    return _rss(b"".join(_item(i, extra=desc) for i in range(items)))


def huge_title(size: int = 45 * MB) -> bytes:
    return _rss(_item(1), title=b"A" * size)


def inflating_feed(target: int = 48 * MB) -> bytes:
    # Items with some randomness, so that gzip gets ~15x rather than 1000x: a big feed, not a
    # bomb, which only the decompressed-size cap stops.
    rng = random.Random(1)
    words = [b"ai", b"act", b"rules", b"policy", b"model", b"safety", b"law", b"eu", b"us"]
    parts: list[bytes] = []
    size = n = 0
    while size < target:
        text = b" ".join(rng.choice(words) + b"%d" % rng.randrange(1000) for _ in range(30))
        chunk = _item(n, extra=b"<description>" + text + b"</description>")
        parts.append(chunk)
        size += len(chunk)
        n += 1
    return _rss(b"".join(parts))


def compression_bomb() -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(MiB)
    return b"".join(c.compress(zeros) for _ in range(1024)) + c.flush()  # 1 GiB of zeros


def surrogates() -> bytes:
    return _rss(
        _item(1, b"lone high &#xD800; reference")
        + _item(2, b"an emoji &#55357;&#56832; as two references")
        + _item(3, b"lone low &#56832; and &#x0; and \x01 raw")
        + _item(4, b"<![CDATA[in CDATA &#xD800; stays text]]>")
        + _item(5, b"an ordinary item")
    )


def tag_flood() -> bytes:
    return _rss(_item(1), title=b"T" + b"<b/>" * (9 * MB // 4))


def tiny_items() -> bytes:
    return _rss(b"<item></item>" * (9 * MB // 13))


def attribute_flood() -> bytes:
    attrs = b" ".join(b'a%d="v"' % i for i in range(800_000))
    return _rss(b"<item " + attrs + b"><title>x</title></item>" + _item(2))


def line_flood() -> bytes:
    return _rss(_item(1), title=b"T" + b"\n" * (9 * MB))


CASES = [
    Case("baseline", "an ordinary feed of 20 items", lambda: _rss(b"".join(map(_item, range(20))))),
    Case("quadratic", "one 50 KB entity used 20,000 times (1 MB)", lambda: quadratic(MB, 50_000)),
    Case("quadratic-56k", "56 KB expanding to a 100 MB title", lambda: quadratic(56_000, 6_000)),
    Case("billion-laughs", "nested entities, 10^9 'lol'", billion_laughs),
    Case("big-44k", "44,000 items, 9.9 MB", big_feed),
    Case("gzip-title", "gzip holding a 45 MB title", huge_title, gzip=True),
    Case("gzip-48mb", "gzip expanding to 48 MB of items", inflating_feed, gzip=True),
    Case("gzip-bomb", "100 KB of gzip inflating to 1 GiB", compression_bomb, mode="raw-gzip"),
    Case("surrogates", "lone and paired surrogate references", surrogates),
    Case("tag-flood", "9 MB of empty elements in the title", tag_flood),
    Case("tiny-items", "700,000 empty items", tiny_items),
    Case("attributes", "800,000 attributes on one item", attribute_flood),
    Case("line-flood", "9 MB of line breaks in the title", line_flood),
    Case("endless", "a body that never ends (no Content-Length)", mode="endless"),
    Case("drip", "a valid feed, one byte every 0.2 s", lambda: _rss(_item(1)), mode="drip"),
]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    bodies: dict[str, tuple[Case, bytes]]
    stop: threading.Event
    lock: threading.Lock

    def body(self, name: str) -> tuple[Case, bytes] | None:
        with self.lock:
            if name not in self.bodies:
                case = next((c for c in CASES if c.name == name), None)
                if case is None:
                    return None
                self.bodies = {name: (case, _build(case))}  # one at a time: some are big
            return self.bodies[name]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/_size":  # the parent asks, so that the table can show it
            found = self.server.body(self.headers.get("X-Case", ""))
            size = b"%d" % len(found[1]) if found else b"0"
            self.send_response(200)
            self.send_header("Content-Length", str(len(size)))
            self.end_headers()
            self.wfile.write(size)
            return
        found = self.server.body(self.path.lstrip("/"))
        if found is None:
            self.send_error(404)
            return
        case, body = found
        try:
            if case.mode == "endless":
                self._endless()
            elif case.mode == "drip":
                self._drip(body)
            else:
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                if case.gzip or case.mode == "raw-gzip":
                    self.send_header("Content-Encoding", "gzip")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up: what the caps are for

    def _endless(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        self.wfile.write(b"<?xml version='1.0'?><rss version='2.0'><channel><title>E</title>")
        chunk = b"".join(_item(i) for i in range(500))
        sent, started = 0, time.monotonic()
        while sent < STREAM_MAX_BYTES and time.monotonic() - started < STREAM_MAX_SECONDS:
            if self.server.stop.is_set():
                return
            self.wfile.write(chunk)
            sent += len(chunk)

    def _drip(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        started = time.monotonic()
        for i in range(len(body)):
            if time.monotonic() - started > STREAM_MAX_SECONDS or self.server.stop.wait(0.2):
                return
            self.wfile.write(body[i : i + 1])
            self.wfile.flush()


@dataclass
class Outcome:
    case: Case
    rss_mb: float
    cpu_s: float
    wall_s: float
    exit_code: int
    status: str
    error: str
    entries: int
    wire_bytes: int


def _build(case: Case) -> bytes:
    if case.body is None:
        return b""
    body = case.body()
    if case.gzip:
        body = gzip.compress(body, compresslevel=9)
    return body


def _policybot() -> list[str]:
    script = Path(sys.executable).with_name("policybot")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from bot.app.cli import main; main()"]


def _run_child(cmd: list[str], env: dict[str, str], cwd: Path, timeout: float) -> tuple:
    """Run one child; its exit code, CPU seconds, peak RSS (MB) and wall seconds."""
    with (cwd / "stdout.txt").open("wb") as out, (cwd / "stderr.txt").open("wb") as err:
        started = time.monotonic()
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=err)
        killer = threading.Timer(timeout, lambda: os.kill(proc.pid, signal.SIGKILL))
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage
        finally:
            killer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - started
    # ru_maxrss is in KiB on Linux.
    return proc.returncode, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, wall


def run_case(case: Case, wire: int, port: int, timeout: float) -> Outcome:
    with tempfile.TemporaryDirectory(prefix="policybot-hostile-") as tmp:
        d = Path(tmp)
        (d / "feeds.yaml").write_text(
            f"feeds:\n  - name: {case.name}\n    url: http://127.0.0.1:{port}/{case.name}\n"
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "SLACK_"))}
        env.update(
            DATABASE_URL=f"sqlite:///{d / 'policybot.db'}",
            POLICYBOT_FEEDS=str(d / "feeds.yaml"),
            POLICYBOT_DATA_DIR=str(d),
            POLICYBOT_LOG_LEVEL="WARNING",
        )
        code, cpu, rss, wall = _run_child([*_policybot(), "poll", "--once"], env, d, timeout)
        status, error, entries = "?", "", 0
        try:
            with sqlite3.connect(d / "policybot.db") as db:
                row = db.execute(
                    "SELECT last_status, last_error, entry_count FROM feeds WHERE name = ?",
                    (case.name,),
                ).fetchone()
            if row:
                status, error, entries = row[0] or "?", row[1] or "", row[2] or 0
        except sqlite3.Error as exc:
            error = f"(no database: {exc})"
        if code != 0 and not error:
            error = (d / "stderr.txt").read_text(errors="replace")[-300:]
        return Outcome(case, rss, cpu, wall, code, status, error, entries, wire)


def _cases(only: list[str] | None) -> Iterator[Case]:
    for case in CASES:
        if not only or case.name in only:
            yield case


def serve(lifetime: float) -> None:
    """The server process: prints its port, serves until stdin closes or `lifetime` ends."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.bodies = {}
    server.stop = threading.Event()
    server.lock = threading.Lock()
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
    ).start()
    print(f"PORT {server.server_address[1]}", flush=True)
    done = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    done.wait(lifetime)
    server.stop.set()
    server.shutdown()
    server.server_close()


def _size(port: int, name: str) -> int:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/_size", headers={"X-Case": name})
    with urllib.request.urlopen(req, timeout=300) as r:
        return int(r.read())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--only", nargs="*", help="run only these cases")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    ap.add_argument("--child-timeout", type=float, default=180.0)
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(lifetime=3600.0)
        return
    if args.list:
        for case in CASES:
            print(f"{case.name:15} {case.what}")
        return

    server = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert server.stdout is not None and server.stdin is not None
    line = server.stdout.readline().decode()
    if not line.startswith("PORT "):
        server.kill()
        raise SystemExit(f"the feed server did not start: {line!r}")
    port = int(line.split()[1])
    outcomes: list[Outcome] = []
    try:
        for case in _cases(args.only):
            wire = _size(port, case.name)  # also builds it, before the clock starts
            out = run_case(case, wire, port, args.child_timeout)
            outcomes.append(out)
            print(
                f"{case.name}: {out.rss_mb:.0f} MB, {out.cpu_s:.2f} s CPU, {out.wall_s:.1f} s,"
                f" exit {out.exit_code}, {out.status}",
                flush=True,
            )
    finally:
        server.stdin.close()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()

    print()
    print(
        "| case | attack | on the wire | peak RSS | CPU | wall | exit | status | entries |"
        " error (feeds status) |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---|---:|---|")
    worst = []
    for o in outcomes:
        wire = f"{o.wire_bytes / MB:.2f} MB" if o.case.mode != "endless" else "endless"
        error = " ".join(o.error.split())
        error = error if len(error) <= 110 else error[:109] + "…"
        print(
            f"| {o.case.name} | {o.case.what} | {wire} | {o.rss_mb:.0f} MB | {o.cpu_s:.2f} s"
            f" | {o.wall_s:.1f} s | {o.exit_code} | {o.status} | {o.entries} | {error} |"
        )
        if o.rss_mb > LIMIT_RSS_MB or o.cpu_s > LIMIT_CPU_S:
            worst.append(o.case.name)
    print()
    if worst:
        print(f"OVER THE LIMITS ({LIMIT_RSS_MB} MB, {LIMIT_CPU_S:g} s CPU): {', '.join(worst)}")
        sys.exit(1)
    print(f"every case under {LIMIT_RSS_MB} MB peak RSS and {LIMIT_CPU_S:g} s of CPU")


if __name__ == "__main__":
    main()
