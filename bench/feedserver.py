"""A local feed server for benchmarks and crash tests: N synthetic RSS feeds on 127.0.0.1.

Run as a process: `python bench/feedserver.py --feeds 1000 --items 50 --port 0` prints
`PORT <n>` on stdout once listening. `POST /_mutate?fraction=0.1` changes that share of the
feeds (one new item each). Feeds answer 304 to a matching If-None-Match; one feed in three
sends no ETag at all, so the client must compare bodies itself.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from aiohttp import web

TOPICS = [
    "EU AI Act implementation guidance published by the AI Office",
    "China's CAC finalises rules on labelling AI-generated content",
    "US Commerce Department tightens export controls on AI chips",
    "UK AI Security Institute publishes frontier model evaluation",
    "Korea's AI Basic Act enforcement decree open for comment",
    "Startup raises $40M to build AI coding assistant",
    "Football clubs form new European alliance",
    "Researchers use deep learning to map coral reefs",
    "Japan's AI Promotion Act basic plan adopted by cabinet",
    "G7 Hiroshima AI Process reporting framework launched",
]


class FeedSet:
    def __init__(self, feeds: int, items: int, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.items = items
        self.version = [0] * feeds
        self.base = datetime.now(UTC) - timedelta(hours=6)
        self._cache: dict[int, tuple[bytes, str]] = {}

    def body(self, i: int) -> tuple[bytes, str]:
        if i not in self._cache:
            v = self.version[i]
            parts = [
                '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                f"<title>Feed {i}</title><link>https://feed{i}.example/</link>"
                "<description>synthetic</description><language>en</language>"
            ]
            for k in range(v + self.items - 1, v - 1, -1):
                topic = TOPICS[(i + k) % len(TOPICS)]
                when = format_datetime(self.base + timedelta(minutes=k))
                parts.append(
                    f"<item><title>{topic} (feed {i}, no. {k})</title>"
                    f"<link>https://feed{i}.example/story/{k}?utm_source=rss</link>"
                    f"<guid>feed{i}-{k}</guid><pubDate>{when}</pubDate>"
                    f"<description>&lt;p&gt;{topic}. Officials said the measure would take "
                    f"effect next year after consultation with industry and civil society."
                    f"&lt;/p&gt;</description></item>"
                )
            parts.append("</channel></rss>")
            body = "".join(parts).encode()
            self._cache[i] = (body, '"' + hashlib.sha1(body).hexdigest()[:16] + '"')
        return self._cache[i]

    def mutate(self, fraction: float) -> int:
        n = max(1, int(len(self.version) * fraction))
        for i in self.rng.sample(range(len(self.version)), n):
            self.version[i] += 1
            self._cache.pop(i, None)
        return n


def make_app(fs: FeedSet) -> web.Application:
    async def feed(request: web.Request) -> web.Response:
        i = int(request.match_info["i"])
        if not 0 <= i < len(fs.version):
            return web.Response(status=404)
        body, etag = fs.body(i)
        with_etag = i % 3 != 0
        if with_etag and request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        headers = {"Content-Type": "application/rss+xml; charset=utf-8"}
        if with_etag:
            headers["ETag"] = etag
        return web.Response(body=body, headers=headers)

    async def mutate(request: web.Request) -> web.Response:
        n = fs.mutate(float(request.query.get("fraction", "0.1")))
        return web.Response(text=str(n))

    app = web.Application()
    app.router.add_get("/feed/{i}.xml", feed)
    app.router.add_post("/_mutate", mutate)
    return app


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--feeds", type=int, default=1000)
    ap.add_argument("--items", type=int, default=50)
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    fs = FeedSet(args.feeds, args.items)

    async def start() -> web.AppRunner:
        runner = web.AppRunner(make_app(fs), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", args.port, backlog=1024)
        await site.start()
        port = runner.addresses[0][1]
        print(f"PORT {port}", flush=True)
        return runner

    import asyncio

    loop = asyncio.new_event_loop()
    loop.run_until_complete(start())
    try:
        loop.run_forever()
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
