"""Delivery drain benchmark: a backlog of alerts drained by the outbox worker.

    .venv/bin/python bench/drain.py [--messages 2000] [--db URL]

Builds a database of stories (verdicts, two sources each) and queues one alert per story to
a console destination and to a Slack incoming webhook served by the local fake Slack (in
another process, so its work is not counted), then drains the outbox with the real Worker,
renderers and senders, pacing off (the platforms' rate limits bound real sends; this measures
the worker). Prints messages per second of the worker process's CPU time (the steadier figure
on a shared machine) and of wall time, per destination kind, with the load average.

Target: >= 1,000 messages/s of worker CPU to each.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import multiprocessing
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert

from bot.deliver.pacing import Pacer
from bot.deliver.worker import Worker
from bot.platforms import render_alert, render_digest
from bot.platforms.console.send import ConsoleSender
from bot.platforms.slack.send import SlackWebhookSender
from bot.store.models import Base
from bot.store.storage import Storage

NOW = datetime.now(UTC) - timedelta(minutes=5)
T = Base.metadata.tables


def serve_fake_slack(port_queue: multiprocessing.Queue[int]) -> None:
    from tests.fakes.slack import FakeSlack

    async def run() -> None:
        fake = FakeSlack()
        await fake.start()
        port_queue.put(int(fake.origin.rsplit(":", 1)[1]))
        fake.webhook_posts.clear()
        while True:
            await asyncio.sleep(3600)

    asyncio.run(run())


def build(storage: Storage, n: int) -> dict[str, int]:
    """n stories, two sources each; returns destination kind -> id."""
    with storage.engine.begin() as c:
        c.execute(
            insert(T["feeds"]),
            [
                {"id": i, "name": f"Outlet {i}", "config_url": f"https://o{i}.example/feed",
                 "url": f"https://o{i}.example/feed", "jurisdictions": [], "added_at": NOW,
                 "consecutive_failures": 0, "entry_count": 0}
                for i in (1, 2)
            ],
        )  # fmt: skip
        c.execute(
            insert(T["stories"]),
            [
                {"id": i, "title": f"EU adopts the AI Act, part {i} <@&123> @everyone",
                 "title_key": f"eu adopts the ai act part {i}",
                 "url": f"https://news.example/{i}", "summary": "The law sets rules. " * 20,
                 "language": "en", "published": NOW, "first_seen": NOW, "announce": True,
                 "source_count": 2}
                for i in range(1, n + 1)
            ],
        )  # fmt: skip
        c.execute(
            insert(T["verdicts"]),
            [
                {"story_id": i, "relevant": True, "score": 0.9, "jurisdictions": ["EU"],
                 "topics": ["legislation"], "instruments": ["EU AI Act"], "evidence": [],
                 "created_at": NOW}
                for i in range(1, n + 1)
            ],
        )  # fmt: skip
        c.execute(
            insert(T["entries"]),
            [
                {"feed_id": f, "uid": f"{f}-{i}", "uid_hash": f"{f}-{i}", "story_id": i,
                 "url": f"https://o{f}.example/{i}", "title": "t", "summary": "",
                 "language": "en", "published": NOW, "published_known": True,
                 "first_seen": NOW}
                for i in range(1, n + 1) for f in (1, 2)
            ],
        )  # fmt: skip
        dests = {"console": 1, "slack-webhook": 2}
        c.execute(
            insert(T["destinations"]),
            [
                {"id": 1, "platform": "console", "guild": "", "channel": "", "webhook_env": "",
                 "created_at": NOW},
                {"id": 2, "platform": "slack-webhook", "guild": "", "channel": "",
                 "webhook_env": "BENCH_SLACK_HOOK", "created_at": NOW},
            ],
        )  # fmt: skip
        return dests


def queue(storage: Storage, dest_id: int, n: int) -> None:
    with storage.engine.begin() as c:
        c.execute(
            insert(T["outbox"]),
            [
                {"destination_id": dest_id, "kind": "alert", "story_id": i,
                 "dedup_key": f"story:{i}", "story_ids": [], "status": "pending",
                 "attempts": 0, "parts_sent": 0, "next_attempt_at": NOW, "created_at": NOW}
                for i in range(1, n + 1)
            ],
        )  # fmt: skip


async def drain(storage: Storage, kind: str) -> tuple[int, float, float]:
    senders = {"console": ConsoleSender(io.StringIO()), "slack-webhook": SlackWebhookSender()}
    worker = Worker(
        storage,
        {kind: senders[kind]},
        pacer=Pacer({}),
        per_destination=500,
        alert_renderer=render_alert,
        digest_renderer=render_digest,
    )
    sent = 0
    c0, t0 = time.process_time(), time.perf_counter()
    while True:
        stats = await worker.drain(limit=500)
        if stats.errors:
            raise SystemExit(f"delivery failed: {stats.errors[:3]}")
        if not stats.picked:
            break
        sent += stats.sent
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    await senders["slack-webhook"].aclose()
    return sent, cpu, wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    args = ap.parse_args()
    ports: multiprocessing.Queue[int] = multiprocessing.Queue()
    fake = multiprocessing.Process(target=serve_fake_slack, args=(ports,), daemon=True)
    fake.start()
    port = ports.get(timeout=60)
    os.environ["BENCH_SLACK_HOOK"] = f"http://127.0.0.1:{port}/services/T0001/B0001/secret"
    tmp = tempfile.mkdtemp(prefix="policybot-drain-")
    storage = Storage.open(args.db or f"sqlite:///{tmp}/drain.db")
    try:
        dests = build(storage, args.messages)
        for kind, dest_id in dests.items():
            queue(storage, dest_id, args.messages)
            sent, cpu, wall = asyncio.run(drain(storage, kind))
            load = " ".join(f"{x:.2f}" for x in os.getloadavg())
            print(
                f"{kind:14s} {sent:,} messages: {sent / cpu:,.0f}/s of worker CPU"
                f" ({cpu:.2f} s), {sent / wall:,.0f}/s wall (load {load})"
            )
    finally:
        storage.close()
        fake.terminate()


if __name__ == "__main__":
    main()
