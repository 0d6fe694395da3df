"""kill -9 in the middle of a drain: every row delivered, none twice (Discord dedups by nonce)."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import select

from bot.deliver.route import Router, subscriptions_changed
from bot.store.models import OutboxMessage
from bot.store.storage import Storage
from tests.deliver import helpers as h
from tests.fakes.discord import FakeDiscord

REPO = Path(__file__).resolve().parents[2]
CHANNEL = "555555555555555555"
N = 12


def run_worker(url: str, fake: FakeDiscord) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen(
        [sys.executable, "-m", "tests.deliver.crash_worker", url, fake.api_base],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_kill_9_mid_drain_then_restart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    storage = Storage.open(url)
    router = Router()
    with storage.write() as s:
        h.subscription(s, h.destination(s, "discord", CHANNEL))
        subscriptions_changed()
        for i in range(N):
            router(s, *h.story(s, f"story {i}"))
    # Slow: each message is created, then answered 0.2 s later; a kill in between leaves a
    # message posted that the worker never heard about.
    fake = FakeDiscord(response_delay=0.2)
    fake.start_in_thread()
    try:
        proc = run_worker(url, fake)
        deadline = time.monotonic() + 60
        while len(fake.messages) < 4 and time.monotonic() < deadline:
            if proc.poll() is not None:
                err = proc.stderr.read() if proc.stderr else b""
                raise AssertionError(f"worker exited early: {err!r}")
            time.sleep(0.01)
        assert len(fake.messages) >= 4, "the worker made no progress"
        time.sleep(0.05)  # inside the slow answer of the latest message
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        assert proc.returncode == -signal.SIGKILL
        posted_before_restart = len(fake.messages)
        assert posted_before_restart < N, "killed too late to test anything"
        with storage.session() as s:
            statuses = collections.Counter(s.scalars(select(OutboxMessage.status)))
        assert statuses["sent"] < N

        proc = run_worker(url, fake)
        assert proc.wait(60) == 0, proc.stderr.read() if proc.stderr else b""
    finally:
        fake.stop_thread()

    with storage.session() as s:
        rows = list(s.scalars(select(OutboxMessage)))
    storage.close()
    assert len(rows) == N and all(r.status == "sent" for r in rows)
    # Exactly one message per row, identified by the nonce stored before sending.
    created = collections.Counter(m["nonce"] for m in fake.messages_in(CHANNEL))
    assert created == collections.Counter(f"{r.nonce}-0" for r in rows)
    assert sorted(m["content"].split(" [")[0] for m in fake.messages) == sorted(
        f"story {i}" for i in range(N)
    )
    # Requests: one per row, plus at most the one that was in flight at the kill.
    posts = fake.requests_to("POST", f"/api/v10/channels/{CHANNEL}/messages")
    assert N <= len(posts) <= N + 1
