"""Ingestion benchmark (run by hand): one warm poll cycle over 1,000 local feeds.

A local server (bench/feedserver.py, another process) serves N feeds of M items. The bench
polls them all once (cold: fills the database), changes 10% of them, then times one warm cycle
through the real pipeline (fetch with conditional GET -> parse only what changed -> normalise ->
dedup -> classify -> SQLite). Then it times the naive way over the same server: a sequential
loop of feedparser.parse(url). Targets (2 cores): warm cycle <= 3 s wall, >= 10x the naive loop,
peak RSS <= 200 MB.

    .venv/bin/python bench/ingest.py [--feeds 1000] [--items 50] [--change 0.1] [--quiet]

--quiet drops the per-poll log lines (the default keeps them: they are part of a real poll).
Other work on the machine skews every figure: the load average is printed beside them.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import feedparser
import structlog

from bot.app.config import parse_config
from bot.classify import Classifier
from bot.core.pipeline import Pipeline
from bot.ingest.fetch import Fetcher
from bot.store.records import PollOutcome
from bot.store.storage import Storage

HERE = Path(__file__).resolve().parent


def start_server(feeds: int, items: int) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "feedserver.py"), "--feeds", str(feeds), "--items", str(items)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("PORT "):
        proc.kill()
        raise SystemExit(f"feed server did not start: {line!r}")
    return proc, int(line.split()[1])


def mutate(port: int, fraction: float) -> int:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/_mutate?fraction={fraction}", method="POST"
    )
    with urllib.request.urlopen(req) as r:
        return int(r.read())


def cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def summarise(outcomes: list[PollOutcome]) -> dict[str, int]:
    out: dict[str, int] = {}
    for o in outcomes:
        out[o.status] = out.get(o.status, 0) + 1
    out["new_entries"] = sum(o.new_entries for o in outcomes)
    return out


async def cycle(
    pipeline: Pipeline, storage: Storage, fetcher: Fetcher
) -> tuple[float, float, list[PollOutcome]]:
    """One timed poll of every feed, with a fresh fetcher (new connections), closed after."""
    feeds = [f for f in storage.feeds() if f.active]
    pipeline.fetcher = fetcher
    try:
        t0, c0 = time.perf_counter(), cpu()
        outcomes = await pipeline.poll_feeds(feeds)
        return time.perf_counter() - t0, cpu() - c0, outcomes
    finally:
        await fetcher.aclose()


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--feeds", type=int, default=1000)
    ap.add_argument("--items", type=int, default=50)
    ap.add_argument("--change", type=float, default=0.1, help="share of feeds that change")
    ap.add_argument(
        "--naive-sample",
        type=int,
        default=0,
        help="time the naive loop on this many feeds and extrapolate (0: all)",
    )
    ap.add_argument("--quiet", action="store_true", help="no per-poll log lines")
    args = ap.parse_args()
    if args.quiet:
        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    print(f"start: {load()}")

    proc, port = start_server(args.feeds, args.items)
    tmp = Path(tempfile.mkdtemp(prefix="policybot-bench-"))
    try:
        cfg = parse_config(
            {
                # One local server stands in for 1,000 hosts: lift the per-host limit.
                "defaults": {"concurrency": 64, "per_host_concurrency": 64},
                "feeds": [
                    {"name": f"feed {i}", "url": f"http://127.0.0.1:{port}/feed/{i}.xml"}
                    for i in range(args.feeds)
                ],
            },
            tmp / "feeds.yaml",
        )
        t_load = time.perf_counter()
        classifier = Classifier.load()
        t_load = time.perf_counter() - t_load
        storage = Storage.open(f"sqlite:///{tmp / 'bench.db'}")
        from datetime import UTC, datetime

        storage.sync_feeds(cfg.feed_options(), datetime.now(UTC))
        fetcher = Fetcher.from_defaults(cfg.defaults)
        pipeline = Pipeline(
            storage=storage,
            fetcher=fetcher,
            classifier=classifier,
            backfill_window=cfg.defaults.backfill_window,
            max_backoff=cfg.defaults.max_backoff,
        )

        cold_wall, cold_cpu, cold = asyncio.run(cycle(pipeline, storage, fetcher))
        print(f"classifier load {t_load:.2f} s")
        cold_items = sum(o.new_entries for o in cold)
        print(
            f"cold fill: {cold_wall:.2f} s wall, {cold_cpu:.2f} s CPU, {cold_items:,} items,"
            f" {cold_items / cold_wall:,.0f} items/s, {summarise(cold)} ({load()})"
        )
        changed = mutate(port, args.change)
        fetcher2 = Fetcher.from_defaults(cfg.defaults)
        warm_wall, warm_cpu, warm = asyncio.run(cycle(pipeline, storage, fetcher2))
        s = summarise(warm)
        items = changed * args.items
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"warm cycle ({changed} feeds changed): {warm_wall:.2f} s wall, {warm_cpu:.2f} s CPU,"
            f" {items / warm_wall:,.0f} items/s (items in changed feeds), {s} ({load()})"
        )
        print(f"peak RSS {rss_mb:.0f} MB")

        n = args.naive_sample or args.feeds
        t0 = time.perf_counter()
        for i in range(n):
            feedparser.parse(f"http://127.0.0.1:{port}/feed/{i}.xml")
        naive = (time.perf_counter() - t0) * args.feeds / n
        label = "" if n == args.feeds else f" (extrapolated from {n} feeds)"
        print(f"naive sequential feedparser.parse(url) loop: {naive:.2f} s{label} ({load()})")
        print(f"speed-up: {naive / warm_wall:.1f}x")
        ok = warm_wall <= 3.0 and naive / warm_wall >= 10 and rss_mb <= 200
        print("targets (<= 3 s, >= 10x, <= 200 MB):", "met" if ok else "NOT met")
        storage.close()
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)  # the database is ~200 MB


if __name__ == "__main__":
    main()
