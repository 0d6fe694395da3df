"""Pacing between posts to one destination, and the backoff before a failed post is tried
again. The platforms state their own spacing (bot.platforms.pacing()); the worker paces each
destination from its last post, across drains and, on PostgreSQL, across instances (`seed`).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping
from datetime import datetime

from bot.deliver.ports import DestinationInfo

# Seconds between two posts to one destination of a kind the pacer was not told about: the
# platforms state their own (bot.platforms.pacing()), which the app passes in.
DEFAULT_INTERVAL = 1.0
BACKOFF_BASE = 15.0
BACKOFF_CAP = 3600.0


class Pacer:
    """Minimum spacing between posts to one destination; lives across drains."""

    def __init__(
        self,
        intervals: Mapping[str, float] | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.intervals = dict(intervals or {})
        # Kinds not named wait DEFAULT_INTERVAL, unless the caller named the kinds itself.
        self._default = DEFAULT_INTERVAL if intervals is None else 0.0
        self._monotonic = monotonic
        self._last: dict[int, float] = {}

    def interval(self, dest: DestinationInfo) -> float:
        """Seconds between two posts to this destination."""
        return self.intervals.get(dest.platform, self._default)

    async def wait(self, dest: DestinationInfo) -> None:
        gap = self.interval(dest)
        last = self._last.get(dest.id)
        if gap > 0 and last is not None:
            delay = last + gap - self._monotonic()
            if delay > 0:
                await asyncio.sleep(delay)

    def mark(self, dest: DestinationInfo) -> None:
        self._last[dest.id] = self._monotonic()

    def seed(self, dest: DestinationInfo, last: datetime, now: datetime) -> None:
        """Another instance posted to `dest` until `last` (wall clock): pace from there."""
        ago = (now - last).total_seconds()
        mono = self._monotonic() - max(0.0, ago)
        self._last[dest.id] = max(self._last.get(dest.id, mono), mono)


def backoff_delay(attempts: int, retry_after: float | None, rng: random.Random) -> float:
    """Seconds to wait before attempt `attempts + 1`: the platform's Retry-After when given
    (plus a little jitter so queued rows do not all return at once), else exponential backoff
    with full jitter on its upper half."""
    if retry_after is not None and retry_after > 0:
        return retry_after * (1.0 + 0.1 * rng.random())
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * float(2 ** min(max(0, attempts - 1), 30)))
    return ceiling * (0.5 + 0.5 * rng.random())
