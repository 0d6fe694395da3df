"""One process polls and delivers from a database at a time; claims are atomic; a SIGTERM
stops within the grace and leaves no row "sending"."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from bot.app import runtime as runtime_module
from bot.app.config import SAMPLE_DIR
from bot.deliver.pacing import Pacer
from bot.deliver.ports import DestinationInfo, Outcome, SendResult
from bot.deliver.worker import Worker
from bot.store import coord
from bot.store.lock import Busy, InstanceLock
from bot.store.models import OutboxMessage
from bot.store.storage import Storage
from tests.app.test_runtime_resilience import _policybot as policybot_process
from tests.deliver import helpers as h
from tests.deliver.test_worker import route_stories
from tests.httpserver import LocalHTTPServer, Reply

FEED = (SAMPLE_DIR / "asia-en.xml").read_bytes()
ATOM = {"Content-Type": "application/atom+xml"}


def _policybot(tmp_path: Path, *args: str, **env_extra: str) -> subprocess.Popen[str]:
    """`policybot ARGS` as a process, with local feeds allowed (see test_runtime_resilience)."""
    return policybot_process(tmp_path, *args, POLICYBOT_ALLOW_PRIVATE="1", **env_extra)


def _config(tmp_path: Path, url: str, subscriptions: list[dict[str, Any]] | None = None) -> Path:
    cfg = tmp_path / "feeds.yaml"
    data: dict[str, Any] = {
        "defaults": {"backfill_window": "3650d"},
        "feeds": [{"name": "F", "url": url}],
    }
    if subscriptions is not None:
        data["subscriptions"] = subscriptions
    cfg.write_text(yaml.safe_dump(data))
    return cfg


def _wait_for(cond: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


# -- the instance lock -----------------------------------------------------------------------


def test_the_lock_is_exclusive_across_processes_and_dies_with_its_holder(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    storage = Storage.open(url)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from bot.store.db import make_engine\n"
            "from bot.store.lock import InstanceLock\n"
            f"lock = InstanceLock(make_engine({url!r}))\n"
            "lock.acquire()\n"
            "print('held', flush=True)\n"
            "time.sleep(120)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        lock = InstanceLock(storage.engine)
        with pytest.raises(Busy) as caught:
            lock.acquire(wait=0.2)
        assert f"pid {holder.pid}" in str(caught.value)
        holder.kill()  # kill -9: no clean-up ran, and still no stale lock
        holder.wait(timeout=10)
        lock.acquire(wait=10)
        assert lock.held
        lock.release()
    finally:
        if holder.poll() is None:
            holder.kill()
        storage.close()


def test_instances_share_a_postgresql_database_and_each_is_seen_alive(pg_url: str) -> None:
    """On PostgreSQL the lock is a member lock: instances share the work (bot.store.coord),
    and each sees from the other's lock whether it runs; it ends with its holder's session."""
    a = Storage.open(pg_url)
    b = Storage.open(pg_url)
    try:
        first = InstanceLock(a.engine)
        first.acquire()
        second = InstanceLock(b.engine)
        second.acquire(wait=0.2)  # no Busy: several instances may run
        assert first.owner != second.owner
        with b.engine.connect() as conn:
            assert coord.dead_owners(conn, [first.owner, second.owner]) == []
        first.release()
        with b.engine.connect() as conn:
            assert coord.dead_owners(conn, [first.owner, second.owner]) == [first.owner]
        second.release()
    finally:
        a.close()
        b.close()


def test_a_second_process_waits_its_turn_with_one_clear_line(tmp_path: Path) -> None:
    """While `run` holds the database: `run --once` (cron) skips and exits 0, `poll` and a
    second `run` exit non-zero with one line and no traceback."""
    with LocalHTTPServer() as srv:
        srv.route("/f.xml", Reply(body=FEED, headers=ATOM))
        cfg = _config(tmp_path, srv.url("/f.xml"))
        first = _policybot(tmp_path, "--feeds", str(cfg), "run")
        try:
            _wait_for(lambda: srv.requests_to("/f.xml"), "the first run to poll")
            once = _policybot(tmp_path, "--feeds", str(cfg), "run", "--once")
            _out, err = once.communicate(timeout=120)
            assert once.returncode == 0, err
            assert "skipped: another policybot process" in err and "Traceback" not in err
            poll = _policybot(tmp_path, "--feeds", str(cfg), "poll")
            _out, err = poll.communicate(timeout=120)
            assert poll.returncode == 2, err
            assert "another policybot process" in err and "Traceback" not in err
            second = _policybot(tmp_path, "--feeds", str(cfg), "run")
            _out, err = second.communicate(timeout=120)
            assert second.returncode == 2, err
            assert "another policybot process" in err and "Traceback" not in err
            assert len(srv.requests_to("/f.xml")) == 1  # none of them polled
        finally:
            first.send_signal(signal.SIGTERM)
            first.communicate(timeout=60)
    assert first.returncode == 0


# -- atomic claims -------------------------------------------------------------------------------


class CountingSender:
    """Records every story it is asked to post; a little slow, so claims overlap."""

    def __init__(self, sent: list[str]) -> None:
        self.sent = sent

    async def send(
        self,
        destination: DestinationInfo,
        payloads: Sequence[Any],
        nonce: str,
        *,
        first_part: int = 0,
        resend: bool = False,
    ) -> SendResult:
        await asyncio.sleep(0.001)
        self.sent.extend(str(p) for p in payloads)
        return SendResult(Outcome.SENT, len(payloads))

    async def aclose(self) -> None:
        return None


async def test_two_workers_on_one_database_never_post_a_row_twice(db_url: str) -> None:
    a, b = Storage.open(db_url), Storage.open(db_url)
    try:
        route_stories(a, [f"story {i}" for i in range(300)], [("console", "", "")])
        sent: list[str] = []

        def worker(storage: Storage) -> Worker:
            return Worker(
                storage,
                {"console": CountingSender(sent)},
                pacer=Pacer({}),
                alert_renderer=h.simple_alert,
                digest_renderer=h.simple_digest,
            )

        wa, wb = worker(a), worker(b)
        assert wa.owner != wb.owner
        for _ in range(50):
            sa, sb = await asyncio.gather(wa.drain(now=h.NOW), wb.drain(now=h.NOW))
            if sa.picked + sb.picked == 0:
                break
        with a.session() as s:
            statuses = list(s.scalars(select(OutboxMessage.status)))
        assert len(sent) == 300 and len(set(sent)) == 300  # each once
        assert set(statuses) == {"sent"}
    finally:
        a.close()
        b.close()


# -- shutdown --------------------------------------------------------------------------------------


def test_sigterm_with_a_slow_destination_exits_within_the_grace_and_leaves_nothing_sending(
    tmp_path: Path,
) -> None:
    with LocalHTTPServer() as srv:
        srv.route("/f.xml", Reply(body=FEED, headers=ATOM))
        # A webhook that takes 8 s to answer each post.
        srv.route("/hook", Reply(body="ok", delay=8.0))
        cfg = _config(
            tmp_path,
            srv.url("/f.xml"),
            [{"destination": {"platform": "slack-webhook", "webhook_env": "SLACK_WEBHOOK_T"}}],
        )
        proc = _policybot(tmp_path, "--feeds", str(cfg), "run", SLACK_WEBHOOK_T=srv.url("/hook"))
        try:
            _wait_for(lambda: srv.requests_to("/hook"), "a post to reach the slow webhook")
            sent_at = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            _out, err = proc.communicate(timeout=60)
            took = time.monotonic() - sent_at
        finally:
            if proc.poll() is None:
                proc.kill()
        posts = len(srv.requests_to("/hook"))
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    # The grace, plus closing: far below the fetch or send timeouts (generous for a busy CI).
    assert took < runtime_module.STOP_GRACE_SECONDS + 5, took
    assert posts == 1  # nothing new was claimed after the signal
    storage = Storage.open(f"sqlite:///{(tmp_path / 'data' / 'policybot.db').resolve()}")
    try:
        with storage.session() as s:
            statuses = list(s.scalars(select(OutboxMessage.status)))
    finally:
        storage.close()
    assert statuses and "sending" not in statuses


def test_run_once_and_poll_exit_1_when_every_feed_failed(tmp_path: Path, cli: Any) -> None:
    """A dead network: cron sees a failure and the reason, not exit 0 with N error lines."""
    with LocalHTTPServer() as srv:
        dead = srv.url("/f.xml")  # the server stops at the end of the block: refused after
    cfg = _config(tmp_path, dead)
    for args in (("run", "--once"), ("poll",)):
        done = cli("--feeds", str(cfg), *args, POLICYBOT_ALLOW_PRIVATE="1")
        assert done.returncode == 1, (args, done.stdout, done.stderr)
        assert "every feed failed (1 of 1): is the network down" in " ".join(done.stderr.split())
        assert "Traceback" not in done.stderr
    with LocalHTTPServer() as srv:  # one feed answering is enough for exit 0
        srv.route("/f.xml", Reply(body=FEED, headers=ATOM))
        ok = cli("--feeds", str(_config(tmp_path, srv.url("/f.xml"))), "poll")
    assert ok.returncode == 0, ok.stderr
