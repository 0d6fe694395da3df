"""kill -9 during delivery, per path: how many messages are lost, how many doubled.

For each destination kind (Discord bot, Discord webhook, Slack bot, Slack webhook) it queues
N alerts in a fresh SQLite outbox, runs a real delivery worker process against the local fake
platform (answers 0.15 s after recording each post, so kills land mid-request), SIGKILLs it
at random moments K times, restarts it each time, and at the end counts per queued row how
many posts the platform recorded.

    .venv/bin/python bench/crash_delivery.py [--n 40] [--kills 6] [--seed 1] [--json]

Loopback only; every loop is bounded; it stops by itself.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.deliver.route import Router, subscriptions_changed  # noqa: E402
from bot.store.storage import Storage  # noqa: E402
from tests.deliver import helpers as h  # noqa: E402
from tests.fakes.discord import FakeDiscord  # noqa: E402
from tests.fakes.slack import FakeSlack  # noqa: E402

CHANNEL_D = "555555555555555555"
CHANNEL_S = "C0CRASH01"
KINDS = ("discord", "discord-webhook", "slack", "slack-webhook")


def _queue(url: str, kind: str, n: int) -> None:
    storage = Storage.open(url)
    router = Router()
    with storage.write() as s:
        channel = CHANNEL_D if kind == "discord" else CHANNEL_S if kind == "slack" else ""
        env = "CRASH_HOOK" if kind.endswith("-webhook") else ""
        h.subscription(s, h.destination(s, kind, channel, env))
        subscriptions_changed()
        for i in range(n):
            router(s, *h.story(s, f"story {i}"))
    storage.close()


def _posted_titles(kind: str, discord: FakeDiscord, slack: FakeSlack) -> list[str]:
    if kind.startswith("discord"):
        return [m["content"].split(" [")[0] for m in discord.messages]
    if kind == "slack":
        return [p["text"].split(" [")[0] for p in slack.posts]
    return [p["text"].split(" [")[0] for p in slack.webhook_posts]


def run_path(kind: str, n: int, kills: int, rng: random.Random) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'crash.db'}"
        _queue(url, kind, n)
        discord = FakeDiscord(response_delay=0.15)
        slack = FakeSlack(response_delay=0.15)
        discord.start_in_thread()
        slack.start_in_thread()
        try:
            env = dict(os.environ, PYTHONPATH=str(REPO))
            if kind == "discord-webhook":
                env["CRASH_HOOK"] = discord.webhook_url(123456789012345678)
            elif kind == "slack-webhook":
                env["CRASH_HOOK"] = slack.webhook_url("T1/B1/crash")
            cmd = [
                sys.executable,
                "-m",
                "tests.deliver.crash_worker",
                url,
                discord.api_base,
                kind,
                slack.api_base,
            ]
            done_kills = 0
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL)
                if done_kills < kills:
                    time.sleep(rng.uniform(0.8, 2.0))  # start-up, then a few posts
                    if proc.poll() is None:
                        os.kill(proc.pid, signal.SIGKILL)
                        proc.wait(10)
                        done_kills += 1
                        continue
                if proc.wait(120) == 0 and done_kills >= kills:
                    break
            posted = collections.Counter(_posted_titles(kind, discord, slack))
        finally:
            discord.stop_thread()
            slack.stop_thread()
    wanted = [f"story {i}" for i in range(n)]
    return {
        "path": kind,
        "queued": n,
        "kills": done_kills,
        "lost": sum(1 for t in wanted if posted[t] == 0),
        "doubled": sum(1 for t in wanted if posted[t] > 1),
        "extra_posts": sum(max(0, posted[t] - 1) for t in wanted),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=40, help="alerts queued per path")
    ap.add_argument("--kills", type=int, default=6, help="SIGKILLs per path")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    rows = [run_path(kind, args.n, args.kills, rng) for kind in KINDS]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'path':<16} {'queued':>6} {'kills':>5} {'lost':>4} {'doubled':>7} {'extra posts':>11}")
    for r in rows:
        print(
            f"{r['path']:<16} {r['queued']:>6} {r['kills']:>5} {r['lost']:>4} {r['doubled']:>7}"
            f" {r['extra_posts']:>11}"
        )


if __name__ == "__main__":
    main()
