"""The running bot under outages and operator mistakes: failures logged once (JSON lines in
JSON mode), `run --once` honouring next_poll_at, a busy metrics port, a quick shutdown."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog
import yaml
from sqlalchemy.exc import OperationalError

from bot.app import runtime as runtime_module
from bot.app.config import SAMPLE_DIR
from bot.app.logging import FailureLog, configure_logging
from bot.app.runtime import Runtime, StartupError
from bot.app.settings import Settings
from bot.core.engine import paused_by_server
from bot.platforms.console.send import ConsoleSender
from bot.store.storage import Storage
from tests.app.conftest import Cli
from tests.httpserver import LocalHTTPServer, Reply

FEED = (SAMPLE_DIR / "asia-en.xml").read_bytes()
ATOM = {"Content-Type": "application/atom+xml"}


def _db_down() -> OperationalError:
    return OperationalError(
        "SELECT 1", {}, ConnectionRefusedError("connection to server at 10.0.0.5 refused")
    )


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {n: logging.getLogger(n).level for n in ("slack_sdk", "apscheduler", "discord")}
    config = structlog.get_config()
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, lvl in levels.items():
            logging.getLogger(name).setLevel(lvl)
        structlog.configure(**config)


def _json_lines(text: str) -> list[dict[str, Any]]:
    lines = [line for line in text.splitlines() if line.strip()]
    parsed = []
    for line in lines:
        parsed.append(json.loads(line))  # fails the test on any line that is not JSON
    return parsed


# -- logging -------------------------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, Any]]] = []

    def _log(self, level: str, event: str, **kw: Any) -> None:
        self.lines.append((level, event, kw))

    def error(self, event: str, **kw: Any) -> None:
        self._log("error", event, **kw)

    def debug(self, event: str, **kw: Any) -> None:
        self._log("debug", event, **kw)

    def info(self, event: str, **kw: Any) -> None:
        self._log("info", event, **kw)


def test_failure_log_says_a_repeated_failure_once_then_every_few_minutes() -> None:
    now = [0.0]
    rec = Recorder()
    failures = FailureLog(rec, "poll_failed", every=300, clock=lambda: now[0])
    for _ in range(20):  # the database is down: every 15 s tick fails the same way
        failures.failed(_db_down())
        now[0] += 15
    errors = [line for line in rec.lines if line[0] == "error"]
    assert len(errors) == 1  # 20 failures in 300 s: one line, at the first
    level, event, kw = errors[0]
    assert event == "poll_failed" and kw["failures"] == 1
    assert kw["error"].startswith("OperationalError: ") and "\n" not in kw["error"]
    assert "exc_info" in kw  # the first of its kind carries the traceback
    assert sum(1 for line in rec.lines if line[0] == "debug") == 19

    failures.failed(_db_down())  # 300 s after the first line: said again, with the count
    level, event, kw = rec.lines[-1]
    assert (level, kw["failures"], kw["repeated"]) == ("error", 21, 19)
    assert "exc_info" not in kw  # the traceback only once per kind of error

    failures.failed(TimeoutError("pool timeout"))  # a different error: said at once
    level, event, kw = rec.lines[-1]
    assert level == "error" and kw["error"] == "TimeoutError: pool timeout" and "exc_info" in kw

    failures.succeeded()
    failures.succeeded()
    recovered = [line for line in rec.lines if line[1] == "poll_recovered"]
    assert recovered == [("info", "poll_recovered", {"failures": 22})]
    failures.failed(_db_down())  # a new outage is said at once again
    assert rec.lines[-1][0] == "error" and "exc_info" not in rec.lines[-1][2]


def test_json_mode_keeps_library_records_and_tracebacks_on_one_json_line(
    capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    configure_logging("INFO", "json")
    try:
        raise ConnectionError("slack.com unreachable")
    except ConnectionError:
        logging.getLogger("slack_bolt.AsyncApp").exception("Failed to connect; Retrying...")
        logging.getLogger("apscheduler.executors.default").exception("Job raised an exception")
        structlog.get_logger("policybot").exception("poll_failed", error="x")
    logging.getLogger("policybot.other").warning("plain %s", "record")
    records = _json_lines(capsys.readouterr().err)
    by_event = {r["event"]: r for r in records}
    assert set(by_event) == {
        "Failed to connect; Retrying...",
        "Job raised an exception",
        "poll_failed",
        "plain record",
    }
    # slack-sdk's retry lines lose their traceback (one line each); others keep it, escaped.
    assert "exception" not in by_event["Failed to connect; Retrying..."]
    assert (
        "ConnectionError: slack.com unreachable" in by_event["Job raised an exception"]["exception"]
    )
    assert "Traceback" in by_event["poll_failed"]["exception"]
    assert by_event["plain record"]["level"] == "warning"


async def test_serve_with_the_database_down_logs_one_line_per_kind_of_failure(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    restore_logging: None,
) -> None:
    cfg = tmp_path / "feeds.yaml"
    cfg.write_text(yaml.safe_dump({"feeds": [{"name": "A", "url": "http://127.0.0.1:9/a"}]}))
    configure_logging("INFO", "json")
    monkeypatch.setattr(runtime_module, "TICK_SECONDS", 0.1)
    monkeypatch.setattr(runtime_module, "DRAIN_SECONDS", 0.05)
    rt = Runtime.build(
        Settings(data_dir=tmp_path / "data"), cfg, senders={"console": ConsoleSender(io.StringIO())}
    )
    calls = {"poll": 0, "drain": 0}

    def due_feeds(now: Any) -> list[Any]:
        calls["poll"] += 1
        raise _db_down()

    async def drain(limit: int) -> Any:
        calls["drain"] += 1
        raise _db_down()

    monkeypatch.setattr(rt.storage, "due_feeds", due_feeds)
    monkeypatch.setattr(rt.worker, "drain", drain)
    task = asyncio.create_task(rt.serve())
    try:
        for _ in range(300):
            if calls["poll"] >= 5 and calls["drain"] >= 5:
                break
            await asyncio.sleep(0.02)
        assert calls["poll"] >= 5 and calls["drain"] >= 5
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    records = _json_lines(capsys.readouterr().err)
    errors = [r for r in records if r["level"] == "error"]
    assert [r["event"] for r in errors].count("poll_failed") == 1
    assert [r["event"] for r in errors].count("delivery_failed") == 1
    for r in errors:
        assert "connection to server at 10.0.0.5 refused" in r["error"]
    assert not [r for r in records if "raised an exception" in r["event"]]  # APScheduler's


# -- run --once polls only what is due; poll skips feeds paused by their server ------------------


def _one_feed(tmp_path: Path, url: str) -> Path:
    cfg = tmp_path / "feeds.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {"defaults": {"backfill_window": "3650d"}, "feeds": [{"name": "F", "url": url}]}
        )
    )
    return cfg


async def test_run_once_honours_retry_after_and_poll_skips_paused_feeds_unless_forced(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path / "data")

    def build(cfg: Path) -> Runtime:
        return Runtime.build(settings, cfg, senders={"console": ConsoleSender(io.StringIO())})

    with LocalHTTPServer() as srv:
        srv.route("/f.xml", Reply(status=429, headers={"Retry-After": "3600"}))
        cfg = _one_feed(tmp_path, srv.url("/f.xml"))
        outcomes, _ = await build(cfg).run_once()  # a new feed is due at once
        assert [o.status for o in outcomes] == ["failed"]
        assert len(srv.requests_to("/f.xml")) == 1

        outcomes, _ = await build(cfg).run_once()  # the cron job again, a minute later
        assert outcomes == [] and len(srv.requests_to("/f.xml")) == 1

        rt = build(cfg)
        (feed,) = rt.active_feeds()
        assert paused_by_server(feed, rt.pipeline.clock())
        assert feed.next_poll_at is not None
        assert feed.next_poll_at - rt.pipeline.clock() > timedelta(minutes=55)
        assert await rt.poll_once(force=False) == []  # `policybot poll` without --force
        assert len(srv.requests_to("/f.xml")) == 1
        outcomes = await rt.poll_once()  # forced (the default of poll_once)
        assert [o.status for o in outcomes] == ["failed"]
        assert len(srv.requests_to("/f.xml")) == 2
        await rt.aclose()


async def test_run_once_twice_polls_nothing_the_second_time(tmp_path: Path) -> None:
    out = io.StringIO()
    with LocalHTTPServer() as srv:
        srv.route("/f.xml", Reply(body=FEED, headers=ATOM))
        cfg = _one_feed(tmp_path, srv.url("/f.xml"))
        settings = Settings(data_dir=tmp_path / "data")
        first, stats = await Runtime.build(
            settings, cfg, senders={"console": ConsoleSender(out)}
        ).run_once()
        assert [o.status for o in first] == ["ok"] and stats.sent > 0
        rt = Runtime.build(settings, cfg, senders={"console": ConsoleSender(out)})
        (feed,) = rt.active_feeds()
        assert not paused_by_server(feed, rt.pipeline.clock())  # healthy, just not due
        again, stats = await rt.run_once()
        assert again == [] and stats.sent == 0
        assert len(srv.requests_to("/f.xml")) == 1


# -- the metrics port ----------------------------------------------------------------------------


def _policybot(tmp_path: Path, *args: str, **env_extra: str) -> subprocess.Popen[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "DISCORD_TOKEN", "SLACK_BOT_TOKEN", "POLICYBOT_METRICS_PORT")
    }
    env["POLICYBOT_DATA_DIR"] = str(tmp_path / "data")
    env.update(env_extra)
    return subprocess.Popen(
        [sys.executable, "-c", "from bot.app.cli import main; main()", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )


def test_a_busy_metrics_port_stops_run_with_one_clear_line(cli: Cli, tmp_path: Path) -> None:
    cfg = _one_feed(tmp_path, "http://127.0.0.1:9/f.xml")
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = cli("--feeds", str(cfg), "run", POLICYBOT_METRICS_PORT=str(port))
    err = done.stderr
    assert done.returncode == 2
    assert "Traceback" not in err, err
    assert f"POLICYBOT_METRICS_PORT={port} cannot be used" in err
    assert "in use" in err and "unset it" in err
    assert "running" not in err  # nothing started


@pytest.mark.parametrize("busy", [True, False])
async def test_serve_raises_startup_error_and_closes_when_the_port_cannot_be_bound(
    tmp_path: Path, busy: bool
) -> None:
    cfg = _one_feed(tmp_path, "http://127.0.0.1:9/f.xml")
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        # Out of range gets past Settings when it is built without validation (model_copy).
        port = taken.getsockname()[1] if busy else 70000
        settings = Settings(data_dir=tmp_path / "data").model_copy(update={"metrics_port": port})
        rt = Runtime.build(settings, cfg)
        closed: list[bool] = []
        aclose = rt.aclose

        async def spy() -> None:
            closed.append(True)
            await aclose()

        rt.aclose = spy  # type: ignore[method-assign]
        with pytest.raises(StartupError) as caught:
            await rt.serve()
    assert caught.value.code == 2
    assert f"POLICYBOT_METRICS_PORT={port} cannot be used" in caught.value.message
    assert rt.metrics_server is None
    assert closed == [True]  # serve() cleaned up (database, HTTP client) before raising


# -- shutdown ------------------------------------------------------------------------------------


def _slow_feed_run(tmp_path: Path, srv: LocalHTTPServer, seconds: float) -> subprocess.Popen[str]:
    srv.route(
        "/slow.xml",
        Reply(body=FEED, drip=seconds / 30, drip_size=len(FEED) // 30 + 1, headers=ATOM),
    )
    cfg = _one_feed(tmp_path, srv.url("/slow.xml"))
    proc = _policybot(tmp_path, "--feeds", str(cfg), "run")
    deadline = time.monotonic() + 30
    while not srv.requests_to("/slow.xml") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.requests_to("/slow.xml"), "the bot never polled"
    return proc


def _feed_after(tmp_path: Path) -> Any:
    storage = Storage.open(f"sqlite:///{(tmp_path / 'data' / 'policybot.db').resolve()}")
    try:
        (feed,) = storage.feeds()
        due = storage.due_feeds(runtime_module.utcnow())
    finally:
        storage.close()
    return feed, due


def test_stop_cancels_a_slow_fetch_after_the_grace_and_the_feed_stays_due(tmp_path: Path) -> None:
    with LocalHTTPServer() as srv:
        proc = _slow_feed_run(tmp_path, srv, 60.0)  # a minute to arrive
        try:
            sent = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            _out, err = proc.communicate(timeout=30)
            took = time.monotonic() - sent
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, err
    # Well under the fetch's minute, with room for a loaded machine.
    assert took < runtime_module.STOP_GRACE_SECONDS + 15, took
    assert "Traceback" not in err and "poll interrupted by shutdown" in err, err
    feed, due = _feed_after(tmp_path)
    # Not marked failed: polled again (and at once) at the next start.
    assert feed.consecutive_failures == 0 and feed.last_error is None
    assert [f.id for f in due] == [feed.id]


def test_a_second_signal_stops_at_once(tmp_path: Path) -> None:
    with LocalHTTPServer() as srv:
        proc = _slow_feed_run(tmp_path, srv, 60.0)
        try:
            proc.send_signal(signal.SIGINT)
            time.sleep(0.3)
            sent = time.monotonic()
            proc.send_signal(signal.SIGINT)
            _out, err = proc.communicate(timeout=30)
            took = time.monotonic() - sent
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, err
    assert took < runtime_module.STOP_GRACE_SECONDS, took  # it did not wait out the grace
    assert "Traceback" not in err, err
    feed, due = _feed_after(tmp_path)
    assert feed.consecutive_failures == 0 and [f.id for f in due] == [feed.id]
