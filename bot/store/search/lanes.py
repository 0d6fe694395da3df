"""Lanes: streams of candidate ids, newest first, each a superset of the matches.

A driver yields ids below a position, descending, a batch at a time; a lane is a driver and
what its candidates are known to satisfy. The database-specific drivers are in sqlite.py and
postgres.py, the filters' in filters.py; planner.py runs them.

The tunables below are read as `lanes.NAME` from the other modules, so that one assignment
(a test's tiny batches, a benchmark) changes them everywhere.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

FIRST_BATCH = 128
MAX_BATCH = 8192
# A `since` window (or, on PostgreSQL, a text index hit list) this small is fetched whole.
SET_LIMIT = 20_000
GIVE_UP = -1  # a lane's next position: it cannot finish, leave it

# The parameters of a Stream's statement: ids below :below, at most :k of them.
BELOW: Any = bindparam("below")
K: Any = bindparam("k")


class Driver:
    """Candidate ids, newest (highest) first."""

    def fetch(self, s: Session, below: int, k: int) -> list[int]:
        """Up to k distinct ids < below, descending; fewer than k means there are no more."""
        raise NotImplementedError

    def step(self, s: Session, below: int, k: int) -> tuple[list[int], int | None]:
        """One bounded piece of work: ids < below (descending) and where to go on from
        (None: no more)."""
        ids = self.fetch(s, below, k)
        return ids, (ids[-1] if len(ids) == k else None)


class Stream(Driver):
    """A statement with :below and :k parameters that returns ids in descending order."""

    def __init__(self, stmt: Executable, **params: Any) -> None:
        self.stmt = stmt
        self.params = params

    def fetch(self, s: Session, below: int, k: int) -> list[int]:
        return list(s.scalars(self.stmt, {**self.params, "below": below, "k": k}))


class IdList(Driver):
    """A set of ids known in full."""

    def __init__(self, ids: Sequence[int]) -> None:
        self.ids = sorted(set(ids))

    def fetch(self, s: Session, below: int, k: int) -> list[int]:
        end = bisect.bisect_left(self.ids, below)
        return self.ids[max(0, end - k) : end][::-1]


class Union(Driver):
    """Ids in any part."""

    def __init__(self, parts: Sequence[Driver]) -> None:
        self.parts = list(parts)

    def fetch(self, s: Session, below: int, k: int) -> list[int]:
        # The top k of each part's top k is the top k of the union.
        merged = heapq.merge(*(p.fetch(s, below, k) for p in self.parts), reverse=True)
        out: list[int] = []
        for i in merged:
            if not out or out[-1] != i:
                out.append(i)
                if len(out) == k:
                    break
        return out


class Intersect(Driver):
    """Ids in every part: the parts' sorted streams merged, no row read (cheap when each part
    is common but few stories are in all of them, e.g. a phrase and a jurisdiction)."""

    def __init__(self, parts: Sequence[Driver]) -> None:
        self.parts = list(parts)
        self.density = [1.0] * len(self.parts)  # ids per id of range, as last seen

    def step(self, s: Session, below: int, k: int) -> tuple[list[int], int | None]:
        # Denser parts fetch more, so that all cover about the same range of ids.
        sparse = min(self.density)
        sizes = [min(MAX_BATCH, max(k, int(k * d / sparse))) for d in self.density]
        batches = [p.fetch(s, below, n) for p, n in zip(self.parts, sizes, strict=True)]
        for i, (b, n) in enumerate(zip(batches, sizes, strict=True)):
            if len(b) == n:
                self.density[i] = n / max(1, below - b[-1])
        # A full batch holds all of its part's ids in [its last, below); a short one all of
        # them below `below`. So every part is known down to `lo`.
        full = [len(b) == n for b, n in zip(batches, sizes, strict=True)]
        lo = max((b[-1] for b, f in zip(batches, full, strict=True) if f), default=0)
        common = set(batches[0]).intersection(*batches[1:])
        out = sorted((i for i in common if i >= lo), reverse=True)
        # A part with nothing left below `lo` ends the intersection.
        ended = any(not f and (not b or b[-1] >= lo) for b, f in zip(batches, full, strict=True))
        return out, (None if ended or not lo else lo)


@dataclass(slots=True)
class Lane:
    """A driver, and what its candidates are known to satisfy (so need not be re-checked)."""

    driver: Driver
    covers: frozenset[str] = frozenset()  # terms
    covers_lang: bool = False
    below: int = 0
    k: int = FIRST_BATCH
    spent: float = 0.0
    turns: int = 0
    found: list[int] = field(default_factory=list)  # checked matches, descending
    fetched: int = 0  # candidates so far


@dataclass(slots=True)
class Plan:
    """The lanes of one search, and the smallest id a match can have."""

    lanes: list[Lane]
    floor: int = 0  # no match has a smaller id
