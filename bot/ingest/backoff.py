"""When to poll a feed next, given how the last fetch went (pure: no I/O, no clock)."""

from __future__ import annotations

import random
from datetime import timedelta

from bot.ingest.types import FetchResult, FetchStatus

_RNG = random.Random()
_HEALTHY = (FetchStatus.OK, FetchStatus.UNCHANGED, FetchStatus.NOT_MODIFIED)
_MAX_EXPONENT = 40  # 2**40 intervals is past any sane max_backoff; avoids float/timedelta overflow


def next_poll_delay(
    result: FetchResult,
    *,
    interval: timedelta,
    failures: int,
    max_backoff: timedelta,
    rng: random.Random | None = None,
) -> timedelta:
    """How long to wait before polling this feed again.

    - OK, UNCHANGED, NOT_MODIFIED: `interval` scaled by a random factor in [0.9, 1.1], so feeds
      added together do not stay in lock-step.
    - FAILED: exponential backoff, `interval * 2**(failures - 1)` (failures counts this failure,
      so the first failure waits one interval), capped at `max_backoff`, then scaled by a random
      factor in [0.9, 1.0]. The jitter only shortens the wait, so the cap always holds and feeds
      that have all reached the cap still spread out. The result is never less than
      `result.retry_after` (the server's Retry-After), even when that exceeds `max_backoff`.
    - GONE: `max_backoff` exactly (the caller normally disables the feed anyway).

    `failures` below 1 counts as 1. Pass `rng` for reproducible jitter.
    """
    r = rng or _RNG
    if result.status in _HEALTHY:
        return interval * r.uniform(0.9, 1.1)
    if result.status is FetchStatus.GONE:
        return max_backoff
    exponent = min(max(failures, 1) - 1, _MAX_EXPONENT)
    base_s = min(interval.total_seconds() * 2.0**exponent, max_backoff.total_seconds())
    delay = timedelta(seconds=base_s * r.uniform(0.9, 1.0))
    if result.retry_after is not None and result.retry_after > 0:
        delay = max(delay, timedelta(seconds=result.retry_after))
    return delay
