"""Three `policybot run` instances on one PostgreSQL database, started together on an empty
database, SIGKILLed at random moments and restarted, share the work without doubles.

Feeds, a Slack webhook and a fake Discord (REST and gateway) run on 127.0.0.1. The checks
are about what happened, never about how fast: every story reaches its channel once (the
Discord bot path, nonce-deduplicated), the webhook repeats at most the one message in flight
per kill, a feed is fetched again within its interval only after a kill, the digest is queued
and posted once, the webhook's posts are never closer than its pacing, and one gateway
session at a time holds the bot token.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import pytest
import yaml
from sqlalchemy import create_engine, text

from bot.platforms.slack import PACING as SLACK_PACING
from tests.fakes.discord import FakeDiscord
from tests.httpserver import LocalHTTPServer, Reply, Request

FEEDS = 8
PER_FEED = 25
CHANNELS = 20  # Discord channels, one keyword each: 10 stories per channel
HOOK_EVERY = 12  # every 12th story also goes to the Slack webhook
DIGEST_CHANNEL = "900000000000000099"
INSTANCES = 3
MAX_KILLS = 5
INTERVAL = timedelta(minutes=1)  # the shortest the config allows
ROOT = Path(__file__).resolve().parents[2]

WORDS = (
    "alpha",
    "bravo",
    "cobalt",
    "delta",
    "ember",
    "falcon",
    "garnet",
    "harbor",
    "indigo",
    "juniper",
    "kestrel",
    "lumen",
    "maple",
    "nimbus",
    "onyx",
    "pebble",
    "quartz",
    "raven",
    "sierra",
    "tundra",
    "umber",
    "violet",
    "willow",
    "xenon",
)


def _marker(n: int) -> str:
    """A word unique to story n, so that no two stories read as the same one."""
    rng = random.Random(n)
    return "mk" + "".join(rng.choice("bcdfghjklmnpqrstvwxz") for _ in range(8))


def _story(n: int) -> dict[str, str]:
    w = WORDS[n % len(WORDS)], WORDS[(n * 7 + 3) % len(WORDS)]
    hook = " hookmark" if n % HOOK_EVERY == 0 else ""
    title = (
        f"European Commission publishes AI Act guidance on {w[0]} {w[1]} general-purpose AI"
        f" models {_marker(n)} zq{n % CHANNELS}x{hook}"
    )
    summary = (
        "The EU AI Act obligations for providers of general-purpose AI models: the AI Office"
        f" sets out transparency and copyright duties ({_marker(n)})."
    )
    return {"title": title, "summary": summary, "link": f"https://news.example/{_marker(n)}"}


def _rss(stories: list[int], tag: str) -> bytes:
    now = datetime.now(UTC)
    items = []
    for i, n in enumerate(stories):
        s = _story(n)
        when = (now - timedelta(minutes=i)).strftime("%a, %d %b %Y %H:%M:%S +0000")
        items.append(
            f"<item><title>{s['title']}</title><link>{s['link']}</link>"
            f"<guid isPermaLink='false'>{tag}-{n}</guid><pubDate>{when}</pubDate>"
            f"<description>{s['summary']}</description></item>"
        )
    body = (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
        f"<title>{tag}</title><link>https://news.example/</link><description>d</description>"
        + "".join(items)
        + "</channel></rss>"
    )
    return body.encode()


def _config(path: Path, srv: LocalHTTPServer, digest_at: str) -> None:
    feeds = [{"name": f"f{k:02d}", "url": srv.url(f"/f{k:02d}.xml")} for k in range(FEEDS)]
    # The mirror carries feed f00's stories (same links and titles, other guids).
    feeds.append({"name": "mirror", "url": srv.url("/mirror.xml")})
    subs: list[dict[str, Any]] = [
        {
            "name": f"c{c}",
            "destination": {"platform": "discord", "channel": str(800000000000000000 + c)},
            "keywords": [f"zq{c}x"],
        }
        for c in range(CHANNELS)
    ]
    subs.append(
        {
            "name": "hook",
            "destination": {"platform": "slack-webhook", "webhook_env": "SLACK_WEBHOOK_SC"},
            "keywords": ["hookmark"],
        }
    )
    subs.append(
        {
            "name": "digest",
            "destination": {"platform": "discord", "channel": DIGEST_CHANNEL},
            "keywords": ["zq3x"],
            "mode": "daily",
            "at": digest_at,
        }
    )
    data = {
        "defaults": {"backfill_window": "3650d", "interval": "1m"},
        "classifier": {"threshold": 0.0},
        "feeds": feeds,
        "subscriptions": subs,
    }
    path.write_text(yaml.safe_dump(data))


class Instance:
    def __init__(self, tmp: Path, n: int, env: dict[str, str], cfg: Path) -> None:
        self.tmp, self.n, self.env, self.cfg = tmp, n, env, cfg
        self.proc: subprocess.Popen[bytes] | None = None
        self.log: IO[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        path = self.tmp / f"instance{self.n}.{self.starts}.log"
        self.log = open(path, "wb")  # noqa: SIM115 (closed in stop)
        env = dict(self.env, POLICYBOT_DATA_DIR=str(self.tmp / f"data{self.n}"))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.app.scaleout_instance", "--feeds", str(self.cfg), "run"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
            cwd=ROOT,
        )
        self.path = path

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.log is not None:
            self.log.close()
        return int(self.proc.returncode)

    def logged(self, event: str) -> bool:
        return event in self.path.read_text(errors="replace")


def _wait(cond: Any, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _next_minute(after: datetime) -> datetime:
    return (after + timedelta(minutes=1)).replace(second=0, microsecond=0)


@pytest.mark.timeout(300)  # ~60 s; the digest waits for the next minute
def test_three_instances_share_the_work_through_kills_without_doubles(
    tmp_path: Path, pg_url: str
) -> None:
    stories = {k: list(range(k * PER_FEED, (k + 1) * PER_FEED)) for k in range(FEEDS)}
    total = FEEDS * PER_FEED
    hook_times: list[float] = []
    hook_bodies: list[str] = []
    hook_lock = threading.Lock()

    def hook(req: Request) -> Reply:
        with hook_lock:
            hook_times.append(time.monotonic())
            hook_bodies.append(req.body.decode("utf-8", "replace"))
        return Reply(body="ok")

    kills: list[float] = []
    fetched: dict[str, list[float]] = {}

    def feed(name: str, body: bytes) -> Any:
        def serve(req: Request) -> Reply:
            with hook_lock:
                fetched.setdefault(name, []).append(time.monotonic())
            return Reply(body=body, headers={"Content-Type": "text/xml"})

        return serve

    fake = FakeDiscord()
    fake.start_in_thread()
    db = create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
    instances: list[Instance] = []
    try:
        with LocalHTTPServer() as srv:
            bodies = {f"f{k:02d}": _rss(v, f"f{k:02d}") for k, v in stories.items()}
            bodies["mirror"] = _rss(stories[0], "mirror")
            for name, body in bodies.items():
                srv.route(f"/{name}.xml", feed(name, body))
            srv.route("/hook", hook, method="POST")
            cfg = tmp_path / "feeds.yaml"
            # The digest's time is set once the stories are in (below); far away until then.
            far = (datetime.now(UTC) - timedelta(hours=12)).strftime("%H:%M")
            _config(cfg, srv, far)
            env = {
                k: v
                for k, v in os.environ.items()
                if k not in ("DISCORD_TOKEN", "SLACK_BOT_TOKEN", "POLICYBOT_METRICS_PORT")
            }
            env.update(
                DATABASE_URL=pg_url,
                POLICYBOT_ALLOW_PRIVATE="1",
                DISCORD_TOKEN="scaleout-test-token",
                SLACK_WEBHOOK_SC=srv.url("/hook"),
                POLICYBOT_TEST_DISCORD_API=fake.api_base,
                POLICYBOT_TEST_DISCORD_GW=fake.gateway_url,
            )
            instances = [Instance(tmp_path, n, env, cfg) for n in range(INSTANCES)]
            for inst in instances:  # all at once, on an empty database
                inst.start()
            _wait(
                lambda: all(i.logged("] running ") for i in instances),
                "all three instances to come up",
                90,
            )

            def count(sql: str) -> int:
                with db.connect() as conn:
                    return int(conn.execute(text(sql)).scalar() or 0)

            _wait(lambda: count("select count(*) from stories") > 0, "the first stories", 90)
            # Now the digest: due at the next minute, over the stories stored before it.
            due = _next_minute(datetime.now(UTC) + timedelta(seconds=2))
            _config(cfg, srv, due.strftime("%H:%M"))  # restarted instances sync this
            with db.begin() as conn:
                conn.execute(
                    text("update subscriptions set at = :at where name = 'digest'"),
                    {"at": due.strftime("%H:%M")},
                )

            expected: dict[str, set[str]] = {}
            for n in range(total):
                expected.setdefault(str(800000000000000000 + n % CHANNELS), set()).add(_marker(n))

            def delivered() -> bool:
                got = {m["channel_id"] for m in fake.messages}
                digests = count("select count(*) from outbox where kind='digest' and status='sent'")
                return (
                    count("select count(*) from outbox where status <> 'sent'") == 0
                    and digests == 1
                    and set(expected) <= got
                    and count("select count(*) from outbox") >= total
                )

            rng = random.Random(14)
            while len(kills) < MAX_KILLS:
                time.sleep(rng.uniform(1.0, 4.0))
                # Any moment: mid-poll, mid-send, holding the gateway, or still starting.
                victim = rng.choice(instances)
                victim.kill()
                kills.append(time.monotonic())
                if rng.random() < 0.5:
                    time.sleep(rng.uniform(0.0, 1.0))
                victim.start()
            _wait(delivered, "every message delivered after the kills", 150)
            codes = [inst.stop() for inst in instances]
    finally:
        for inst in instances:
            if inst.proc is not None and inst.proc.poll() is None:
                inst.proc.kill()
        fake.stop_thread()
    assert codes == [0] * INSTANCES, [i.path.read_text()[-2000:] for i in instances]
    assert len(kills) == MAX_KILLS

    # One story, once: the mirror's entries joined f00's stories (two sources each).
    with db.connect() as conn:
        assert conn.execute(text("select count(*) from stories")).scalar() == total
        assert conn.execute(text("select count(*) from entries")).scalar() == total + PER_FEED
        two = conn.execute(text("select count(*) from stories where source_count = 2")).scalar()
        assert two == PER_FEED
        per_dest = conn.execute(
            text(
                "select count(*) from (select story_id, destination_id from outbox"
                " where kind = 'alert' group by 1, 2 having count(*) > 1) d"
            )
        ).scalar()
        assert per_dest == 0
        digest_parts = conn.execute(
            text("select parts_sent from outbox where kind = 'digest'")
        ).all()
    db.dispose()

    # Every story reached its channel, none twice (the bot path deduplicates by nonce).
    for channel, markers in expected.items():
        texts = [json.dumps(m["_request"]) for m in fake.messages_in(channel)]
        seen = Counter(mk for t in texts for mk in markers if mk in t)
        assert set(seen) == markers, channel
        assert max(seen.values()) == 1, (channel, seen.most_common(3))
    # The digest: one row, its parts each posted once.
    assert len(digest_parts) == 1
    assert len(fake.messages_in(DIGEST_CHANNEL)) == digest_parts[0][0] >= 1

    # The webhook: every story it subscribed to; repeats at most one in flight per kill.
    hooked = {_marker(n) for n in range(total) if n % HOOK_EVERY == 0}
    posts = Counter(mk for b in hook_bodies for mk in hooked if mk in b)
    assert set(posts) == hooked
    assert sum(posts.values()) - len(hooked) <= len(kills)
    # Its pacing held across instances: each post went after the last one was answered.
    gaps = [b - a for a, b in itertools.pairwise(hook_times)]
    assert min(gaps) >= SLACK_PACING["slack-webhook"] - 0.05, sorted(gaps)[:3]

    # Each feed fetched once per interval: a second fetch sooner only after a kill (an
    # instance died mid-poll; its lease ended with it and another polled the feed).
    # (The interval's jitter shortens it by 10% at most.)
    assert len(fetched) == FEEDS + 1
    soon = INTERVAL.total_seconds() * 0.85
    for name, times in fetched.items():
        for a, b in itertools.pairwise(times):
            if b - a < soon:
                assert any(a < k < b for k in kills), (name, times, kills)

    # One gateway session at a time held the bot token (the leader's advisory lock).
    assert fake.peak_gateways == 1
    assert len(fake.identify) >= 1
