"""Health and Prometheus metrics over HTTP (/healthz, /metrics), off unless a port is set.

The counters are module-level so any part of the pipeline can increment them:

    from bot.app import metrics
    metrics.FEEDS_POLLED.labels(status=outcome.status).inc()
    metrics.ITEMS_FLAGGED.inc(outcome.flagged)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from bot.store.storage import Storage

# A registry of our own: no process/platform collectors clash between tests or apps.
REGISTRY = CollectorRegistry(auto_describe=True)

FEEDS_POLLED = Counter(
    "policybot_feeds_polled", "Feed polls, by outcome status", ["status"], registry=REGISTRY
)
ITEMS_FLAGGED = Counter(
    "policybot_items_flagged", "New stories flagged as AI-governance news", registry=REGISTRY
)
MESSAGES_SENT = Counter(
    "policybot_messages_sent", "Messages posted, by platform", ["platform"], registry=REGISTRY
)
DELIVERY_FAILURES = Counter(
    "policybot_delivery_failures",
    "Failed posts, by platform and kind (transient, permanent, rejected)",
    ["platform", "kind"],
    registry=REGISTRY,
)
POLL_SECONDS = Histogram(
    "policybot_poll_duration_seconds",
    "Time to fetch one feed (request to last byte)",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120),
    registry=REGISTRY,
)
DELIVERY_LATENCY = Histogram(
    "policybot_delivery_latency_seconds",
    "From a message queued (its story flagged, its digest due) to posted, by platform",
    ["platform"],
    buckets=(1, 5, 15, 30, 60, 300, 900, 3600, 21600, 86400),
    registry=REGISTRY,
)
BUILD = Info("policybot_build", "Version, Python and classifier build", registry=REGISTRY)
OUTBOX_DEPTH = Gauge(
    "policybot_outbox_depth",
    "Outbox rows waiting to be sent (pending or sending)",
    registry=REGISTRY,
)


_feed_health: FeedHealth | None = None  # the registered collector (one per process)


class Heartbeat:
    """The scheduler's pulse: `beat()` from a scheduled job; /healthz fails once no beat came
    for `max_age` seconds (a hung event loop or a dead scheduler, with the database fine)."""

    def __init__(self, max_age: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age = max_age
        self._clock = clock
        self._last = clock()  # the start counts as a beat: a scheduler gets its first period

    def beat(self) -> None:
        self._last = self._clock()

    def age(self) -> float:
        return self._clock() - self._last

    def stale(self) -> bool:
        return self.age() > self.max_age


class MetricsServer:
    """A small threaded HTTP server; `port` is the bound port (pass 0 to pick a free one)."""

    def __init__(self, server: ThreadingHTTPServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _handler(storage: Storage | None, heartbeat: Heartbeat | None) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _reply(self, status: int, body: bytes, ctype: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                ok, detail = True, "ok"
                if heartbeat is not None and heartbeat.stale():
                    ok = False
                    detail = f"scheduler stalled: no tick for {heartbeat.age():.0f} s"
                elif storage is not None:
                    try:
                        storage.ping()
                    except Exception as exc:  # the database is what health means here
                        ok, detail = False, f"database unavailable: {type(exc).__name__}"
                self._reply(200 if ok else 503, (detail + "\n").encode(), "text/plain")
            elif path == "/metrics":
                self._reply(200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST)
            else:
                self._reply(404, b"not found: try /healthz or /metrics\n", "text/plain")

        def log_message(self, format: str, *args: object) -> None:
            return  # scrapes every few seconds would flood the log

    return Handler


def start_metrics_server(
    port: int,
    storage: Storage | None = None,
    *,
    host: str = "0.0.0.0",
    heartbeat: Heartbeat | None = None,
) -> MetricsServer:
    """Serve /healthz (the scheduler's heartbeat, then the database) and /metrics in a
    daemon thread."""
    if storage is not None:
        from bot.deliver.outbox import outbox_depth

        def depth() -> float:
            try:
                return float(outbox_depth(storage))
            except Exception:  # a scrape must not fail because the database blinked
                return float("nan")

        OUTBOX_DEPTH.set_function(depth)
        global _feed_health
        if _feed_health is not None:
            REGISTRY.unregister(_feed_health)
        _feed_health = FeedHealth(storage)
        REGISTRY.register(_feed_health)
    server = ThreadingHTTPServer((host, port), _handler(storage, heartbeat))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="metrics", daemon=True)
    thread.start()
    return MetricsServer(server, thread)


class FeedHealth(Collector):
    """At each scrape, from the database: when each feed last succeeded, and how many fail.

    Read at scrape time rather than kept in memory, so a restart or a second process (the
    CLI's `poll`) is seen too.
    """

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def collect(self) -> Any:
        try:
            feeds = [f for f in self.storage.feeds() if f.active]
        except Exception:  # a scrape must not fail because the database blinked
            return
        last = GaugeMetricFamily(
            "policybot_feed_last_success_timestamp_seconds",
            "Unix time of each active feed's last successful poll (0: never)",
            labels=["feed"],
        )
        for f in feeds:
            ts = f.last_success_at.timestamp() if f.last_success_at else 0.0
            last.add_metric([f.name], ts)
        yield last
        yield GaugeMetricFamily(
            "policybot_feeds_failing",
            "Active feeds whose last poll failed",
            value=sum(1 for f in feeds if f.consecutive_failures),
        )


def set_build_info(classifier_build: str) -> None:
    """Fill policybot_build_info (version from the package metadata)."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    try:
        ours = version("policybot")
    except PackageNotFoundError:
        ours = "unknown"
    BUILD.info(
        {"version": ours, "python": platform.python_version(), "classifier": classifier_build}
    )


def observe_poll(seconds: float) -> None:
    POLL_SECONDS.observe(seconds)


def observe_delivery(platform: str, seconds: float) -> None:
    """The delivery worker's `on_delivered` hook."""
    DELIVERY_LATENCY.labels(platform=platform).observe(max(0.0, seconds))


def count_sent(platform: str, n: int) -> None:
    """The delivery worker's `on_sent` hook."""
    MESSAGES_SENT.labels(platform=platform).inc(n)


def count_failure(platform: str, outcome: Any) -> None:
    """The delivery worker's `on_failure` hook (`outcome` is a deliver.ports.Outcome)."""
    DELIVERY_FAILURES.labels(platform=platform, kind=str(outcome)).inc()
