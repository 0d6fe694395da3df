"""Delivery benchmark: route flagged stories against many subscriptions, render every message.

    .venv/bin/python bench/deliver.py [--stories 10000] [--subscriptions 500] [--db URL]

Builds a database of synthetic stories (verdicts, two sources each) and subscriptions with
mixed filters (jurisdictions, topics, instruments, keywords incl. CJK, languages, min score;
a fifth of them digests), then measures, on one core:

- routing: Router (the record_poll hook) over every story inside one transaction, outbox
  inserts included -> stories routed/s (and the pure matching rate);
- rendering: every resulting alert loaded from the database and rendered for its platform
  by bot.platforms -> messages rendered/s (loading and rendering reported apart);
- peak RSS of the process.

Targets: routing >= 5,000 stories/s, rendering >= 2,000 messages/s.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select

from bot.deliver.config_sync import get_or_create_destination
from bot.deliver.load import load_story_posts
from bot.deliver.match import StoryFacts
from bot.deliver.route import Router
from bot.platforms import render_alert
from bot.store.models import Entry, Feed, OutboxMessage, Story, Subscription
from bot.store.pollwrite import store_verdict
from bot.store.storage import Storage
from bot.verdict import TOPICS
from bot.verdict import Verdict as VerdictValue

CODES = [
    "EU",
    "US",
    "CN",
    "GB",
    "JP",
    "KR",
    "IN",
    "CA",
    "AU",
    "BR",
    "DE",
    "FR",
    "SG",
    "AE",
    "INTL",
    "IT",
    "ES",
    "NL",
    "SE",
    "CH",
    "IL",
    "SA",
    "ZA",
    "NG",
    "KE",
    "MX",
    "AR",
    "ID",
    "TW",
    "NZ",
]
INSTRUMENTS = [
    "law",
    "regulation",
    "executive-order",
    "guidance",
    "standard",
    "treaty",
    "court-ruling",
    "investigation",
]
WORDS = [
    "AI Act",
    "frontier model",
    "export controls",
    "chips",
    "deepfake",
    "copyright",
    "safety institute",
    "foundation model",
    "biometric",
    "facial recognition",
    "algorithmic accountability",
    "data protection",
    "open source",
    "compute",
    "人工智能",
    "生成AI",
    "AI 기본법",
    "sandbox",
    "liability",
    "watermark",
]
_FILLER_TEXT = (
    "government ministry announced new rules for artificial intelligence systems "
    "used by companies and public bodies after consultation with experts"
)
FILLER = _FILLER_TEXT.split(" ")
LANGS = ["en", "en", "en", "zh", "ja", "de", "fr", "ko", "es"]
PLATFORMS = ["discord", "slack", "discord-webhook", "slack-webhook", "console"]


def sample(rng: random.Random, pool: list[str], lo: int, hi: int) -> list[str]:
    return rng.sample(pool, rng.randint(lo, hi))


# How often each jurisdiction comes up in the news (and in subscriptions): a long tail.
WEIGHTS = [1.0 / (1 + i) for i in range(len(CODES))]


def weighted(rng: random.Random, lo: int, hi: int) -> list[str]:
    k = rng.randint(lo, hi)
    out: list[str] = []
    while len(out) < k:
        c = rng.choices(CODES, WEIGHTS)[0]
        if c not in out:
            out.append(c)
    return out


def build(storage: Storage, n_stories: int, n_subs: int, rng: random.Random) -> list[int]:
    now = datetime(2026, 11, 20, tzinfo=UTC)
    with storage.write() as s:
        feeds = [
            Feed(
                name=f"Feed {i}",
                config_url=f"https://f{i}.example/rss",
                url=f"https://f{i}.example/rss",
                jurisdictions=[],
                added_at=now,
                consecutive_failures=0,
                entry_count=0,
            )
            for i in range(50)
        ]
        s.add_all(feeds)
        s.flush()
        n_dest = max(1, n_subs // 4)  # channels usually hold a few subscriptions each
        dests = [
            get_or_create_destination(
                s, PLATFORMS[i % len(PLATFORMS)], channel=f"C{i}", webhook_env=f"HOOK{i}"
            )
            for i in range(n_dest)
        ]
        # Subscriptions as people write them: mostly a jurisdiction or two, often a topic,
        # sometimes keywords, languages or a score floor; a fifth are digests.
        for i in range(n_subs):
            s.add(
                Subscription(
                    destination_id=dests[i % n_dest].id,
                    origin="config",
                    jurisdictions=weighted(rng, 1, 2) if rng.random() < 0.9 else [],
                    topics=sample(rng, list(TOPICS), 1, 2) if rng.random() < 0.5 else [],
                    instruments=sample(rng, INSTRUMENTS, 1, 2) if rng.random() < 0.15 else [],
                    keywords=sample(rng, WORDS, 1, 3) if rng.random() < 0.3 else [],
                    languages=sample(rng, ["en", "zh", "ja", "de"], 1, 2)
                    if rng.random() < 0.15
                    else [],
                    min_score=rng.choice([0.0, 0.0, 0.5, 0.6, 0.7]),
                    mode="instant" if rng.random() < 0.8 else "daily",
                    created_at=now,
                )
            )
        ids = []
        for i in range(n_stories):
            words = rng.sample(FILLER, 12) + rng.sample(WORDS, 2)
            rng.shuffle(words)
            title = " ".join(words[:8]).capitalize() + f" #{i}"
            summary = " ".join(words[8:] * 4)
            st = Story(
                title=title,
                title_key=title.casefold(),
                url=f"https://n.example/{i}",
                summary=summary,
                language=rng.choice(LANGS),
                published=now - timedelta(minutes=i),
                first_seen=now,
                announce=True,
                source_count=2,
            )
            s.add(st)
            s.flush()
            for f in rng.sample(feeds, 2):
                s.add(
                    Entry(
                        feed_id=f.id,
                        uid=f"{i}-{f.id}",
                        uid_hash=f"{i}-{f.id}",
                        story_id=st.id,
                        url=f"{f.url}/{i}",
                        title=title,
                        summary=summary,
                        language=st.language,
                        published=st.published,
                        published_known=True,
                        first_seen=now,
                    )
                )
            store_verdict(
                s,
                st.id,
                VerdictValue(
                    relevant=True,
                    score=round(rng.uniform(0.4, 1.0), 2),
                    jurisdictions=tuple(weighted(rng, 1, 2)),
                    topics=tuple(sample(rng, list(TOPICS), 1, 2)),
                    instruments=tuple(sample(rng, INSTRUMENTS, 0, 1)),
                ),
            )
            ids.append(st.id)
    return ids


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    ap.add_argument("--stories", type=int, default=10_000)
    ap.add_argument("--subscriptions", type=int, default=500)
    ap.add_argument("--db", help="SQLAlchemy URL (default: a temporary SQLite file)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)

    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'bench.db'}"
        storage = Storage.open(url)
        t = time.perf_counter()
        story_ids = build(storage, args.stories, args.subscriptions, rng)
        print(
            f"setup: {len(story_ids)} stories, {args.subscriptions} subscriptions in "
            f"{time.perf_counter() - t:.1f}s ({storage.engine.url.get_backend_name()})"
        )

        # Routing, as record_poll calls it: inside a transaction, story row and verdict at hand.
        router = Router()
        with storage.write() as s:
            stories = list(s.scalars(select(Story).where(Story.id.in_(story_ids))))
            verdicts = {}
            for st in stories:
                v = st.verdict
                assert v is not None
                verdicts[st.id] = VerdictValue(
                    relevant=True,
                    score=v.score,
                    jurisdictions=tuple(v.jurisdictions),
                    topics=tuple(v.topics),
                    instruments=tuple(v.instruments),
                )
            index = router.index(s)
            facts = [
                StoryFacts(
                    st.title,
                    st.summary,
                    st.language,
                    verdicts[st.id].score,
                    verdicts[st.id].jurisdictions,
                    verdicts[st.id].topics,
                    verdicts[st.id].instruments,
                )
                for st in stories
            ]
            t, c = time.perf_counter(), time.process_time()
            matched = sum(len(index.match(f, instant_only=True)) for f in facts)
            match_s, match_cpu = time.perf_counter() - t, time.process_time() - c
            t, c = time.perf_counter(), time.process_time()
            for st in stories:
                router(s, st, verdicts[st.id])
            route_s, route_cpu = time.perf_counter() - t, time.process_time() - c
        # On a shared machine wall time measures the neighbours too: CPU time is steadier.
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        print(
            f"matching only: {len(facts) / match_s:,.0f} stories/s wall, "
            f"{len(facts) / match_cpu:,.0f} stories/s of CPU "
            f"({matched / len(facts):.1f} instant subscriptions matched per story; load {load})"
        )
        print(
            f"routing (Router hook, outbox rows written): {len(stories) / route_s:,.0f} "
            f"stories/s wall, {len(stories) / route_cpu:,.0f} stories/s of CPU, "
            f"{router.queued:,} alert rows "
            f"({router.queued / len(stories):.1f} destinations per story; load {load})"
        )

        # Rendering every resulting message, per its destination's platform.
        with storage.session() as s:
            rows = s.execute(
                select(OutboxMessage.story_id, OutboxMessage.destination_id).where(
                    OutboxMessage.kind == "alert"
                )
            ).all()
            from bot.store.models import Destination

            platform = dict(s.execute(select(Destination.id, Destination.platform)).all())
            t = time.perf_counter()
            posts = {}
            ids = sorted({sid for sid, _ in rows if sid is not None})
            for i in range(0, len(ids), 500):
                posts.update(load_story_posts(s, ids[i : i + 500]))
            load_s = time.perf_counter() - t
        per_platform: Counter[str] = Counter()
        t = time.perf_counter()
        for sid, dest_id in rows:
            if sid is None:
                continue
            p = platform[dest_id]
            render_alert(p, posts[sid])
            per_platform[p] += 1
        render_s = time.perf_counter() - t
        n = len(rows)
        print(
            f"loading {len(posts):,} story posts from the database: "
            f"{len(posts) / load_s:,.0f} stories/s"
        )
        print(
            f"rendering: {n / render_s:,.0f} messages/s ({n:,} messages: "
            + ", ".join(f"{k} {v:,}" for k, v in sorted(per_platform.items()))
            + ")"
        )
        print(f"load + render: {n / (load_s + render_s):,.0f} messages/s")
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS: {rss_mb:,.0f} MB")
        storage.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
