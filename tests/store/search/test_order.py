"""Search order: the ranked window is the newest matches by story time, whatever their ids.

The contract (bot/store/search/match.py, planner.py): the WINDOW matches ranked are the newest
by story time (published, never later than first seen); within them a match at least as
relevant and at least as new ranks no lower; equal scores go newest first.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from itertools import pairwise

import pytest
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from bot.store.models import Entry, Feed, Story, Verdict
from bot.store.search import WINDOW, api, lanes, parse_query, relevance, search_stories
from bot.store.storage import Storage
from tests.store.search.corpus import NOW


def _feed(s: Session, name: str) -> int:
    f = Feed(name=name, config_url=f"https://{name}.example/f", url=f"https://{name}.example/f")
    s.add(f)
    s.flush()
    return f.id


def _poll(
    storage: Storage,
    feed: str,
    items: list[tuple[str, str, datetime]],
    seen: datetime,
    *,
    relevant: bool = True,
) -> list[int]:
    """Store items (title, summary, published) as one poll at `seen` does: in feed order,
    first_seen = the poll's time. Returns their story ids, in the given order."""
    with storage.write() as s:
        fid = _feed(s, feed)
        top = s.scalar(select(Story.id).order_by(Story.id.desc()).limit(1)) or 0
        ids = [top + 1 + i for i in range(len(items))]
        stories = [
            {
                "id": sid,
                "title": title,
                "title_key": f"{feed}-{sid}",
                "url": f"https://{feed}.example/{sid}",
                "summary": summary,
                "language": "en",
                "published": published,
                "first_seen": seen,
            }
            for sid, (title, summary, published) in zip(ids, items, strict=True)
        ]
        s.execute(insert(Story), stories)
        s.execute(
            insert(Verdict),
            [
                {"story_id": sid, "relevant": relevant, "score": 0.8, "created_at": seen}
                for sid in ids
            ],
        )
        s.execute(
            insert(Entry),
            [
                {
                    "feed_id": fid,
                    "uid": str(st["id"]),
                    "uid_hash": f"{feed}-{st['id']}",
                    "story_id": st["id"],
                    "url": st["url"],
                    "title": st["title"],
                    "summary": st["summary"],
                    "published": st["published"],
                    "first_seen": seen,
                }
                for st in stories
            ],
        )
    return ids


def _ranked(s: Session, q: str, pages: int, **kw: object) -> list[int]:
    out: list[int] = []
    for page in range(1, pages + 1):
        res = search_stories(s, q, page=page, per_page=5, now=NOW, **kw)  # type: ignore[arg-type]
        out += [h.story_id for h in res.hits]
    return out


def test_recent_items_stored_first_outrank_a_later_back_catalogue(storage: Storage) -> None:
    # The QA repro: Recent (30 items from the last 30 h) polled first, then Archive (400
    # items from 30-47 days ago) polled later, so with higher ids.
    recent = [
        (f"EU AI Act: guidance note {i}", "Brussels", NOW - timedelta(hours=i)) for i in range(30)
    ]
    archive = [
        (f"EU AI Act: guidance note {i}", "Brussels", NOW - timedelta(days=30, hours=i))
        for i in range(400)
    ]
    recent_ids = _poll(storage, "Recent", recent, NOW - timedelta(minutes=30))
    archive_ids = _poll(storage, "Archive", archive, NOW)
    assert min(archive_ids) > max(recent_ids)
    with storage.session() as s:
        first = search_stories(s, "AI Act", now=NOW)
        got = _ranked(s, "AI Act", pages=7)
    assert first.total is None  # 430 matches: "many"
    # They match equally well: the 30 recent ones come first, newest first, then the newest
    # of the archive.
    assert got[:30] == recent_ids
    assert got[30:35] == archive_ids[:5]


def test_since_a_day_on_one_big_feed_gives_the_newest_first(storage: Storage) -> None:
    # One feed of 4,000 items in one poll, newest first in the feed: the newest items get
    # the lowest ids. 576 of them are from the last day (more than the window).
    items = [
        (f"Parliament debates the AI bill, item {i}", "", NOW - timedelta(minutes=2.5 * i))
        for i in range(4000)
    ]
    ids = _poll(storage, "Big", items, NOW)
    since = NOW - timedelta(days=1)
    in_day = [sid for sid, (_, _, p) in zip(ids, items, strict=True) if p >= since]
    assert len(in_day) > WINDOW
    with storage.session() as s:
        first = search_stories(s, "Parliament", since=since, now=NOW)
        got = _ranked(s, "Parliament", pages=WINDOW // 5, since=since)
        empty = _ranked(s, "", pages=2, since=since)
    assert first.total is None
    assert got == in_day[:WINDOW]  # the newest WINDOW, newest first
    assert empty == in_day[:10]  # no words: the newest


def test_equally_recent_the_better_match_ranks_first(storage: Storage) -> None:
    when = NOW - timedelta(hours=3)
    ids = _poll(
        storage,
        "Wire",
        [
            ("Budget talks", "The AI Act comes up once", when),
            ("AI Act: the AI Act's final text", "The AI Act is published", when),
            ("AI Act published", "", when),
            ("Budget talks again", "The AI Act comes up once", when),
        ],
        NOW,
    )
    with storage.session() as s:
        got = _ranked(s, "AI Act", pages=1)
    # More and title hits first; equal matches at the same time: the later stored first.
    assert got == [ids[1], ids[2], ids[3], ids[0]]


def test_a_future_date_ranks_as_first_seen(storage: Storage) -> None:
    # A feed whose clock is a day ahead, seen three days ago: it is three days old.
    ahead = _poll(
        storage,
        "Ahead",
        [("Chip export rule", "", NOW + timedelta(hours=20))],
        NOW - timedelta(days=3),
    )
    plain = _poll(
        storage,
        "Plain",
        [("Chip export rule", "", NOW - timedelta(days=1))],
        NOW - timedelta(days=1),
    )
    with storage.session() as s:
        assert _ranked(s, "chip export", pages=1) == [*plain, *ahead]


def test_at_least_as_relevant_and_as_new_never_ranks_lower(storage: Storage) -> None:
    rng = random.Random(3)
    words = ["AI", "Act", "rules", "budget", "talks", "chips"]
    items = []
    for _ in range(60):
        title = " ".join(rng.choices(words, k=rng.randint(1, 5)))
        summary = " ".join(rng.choices(words, k=rng.randint(0, 6)))
        items.append((f"{title} ai act", summary, NOW - timedelta(hours=rng.choice([1, 5, 30]))))
    ids = _poll(storage, "Mix", items, NOW)
    by_id = dict(zip(ids, items, strict=True))
    terms = parse_query("AI Act").terms
    with storage.session() as s:
        got = _ranked(s, "AI Act", pages=12)
    assert sorted(got) == ids
    for a, b in pairwise(got):  # b ranks just below a: b must not dominate a strictly
        ra = relevance(terms, by_id[a][0], by_id[a][1], False)
        rb = relevance(terms, by_id[b][0], by_id[b][1], False)
        wa, wb = by_id[a][2], by_id[b][2]
        assert not (rb >= ra and wb >= wa and (rb > ra or wb > wa or b > a)), (a, b)


def test_stories_stored_slightly_out_of_order_are_still_found(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Overlapping polls store stories out of first-seen order by up to SEEN_SKEW: a story
    # seen later but stored earlier (a lower id) is still among the newest.
    monkeypatch.setattr(api, "WINDOW", 10)
    monkeypatch.setattr(lanes, "FIRST_BATCH", 4)
    late = _poll(storage, "Slow", [("Summit declaration", "", NOW - timedelta(minutes=5))], NOW)
    old = [("Summit declaration", "", NOW - timedelta(hours=1, minutes=i)) for i in range(40)]
    _poll(storage, "Fast", old, NOW - timedelta(hours=1))
    with storage.session() as s:
        got = _ranked(s, "summit", pages=1)
    assert got[0] == late[0]


def test_a_long_query_is_cut_at_a_word_boundary(storage: Storage) -> None:
    pq = parse_query("regulation " * 20)
    assert pq.terms == ("regulation",)
    assert pq.notices and "shortened" in pq.notices[0]
    words = " ".join(f"w{i:03d}x" for i in range(40))  # 239 characters; 200 ends mid-word
    assert parse_query(words).terms == tuple(f"w{i:03d}x" for i in range(8))
    cut = parse_query("a " * 99 + "regulations")  # the cut word is dropped, not kept as "r"
    assert cut.terms == ("a",)
    assert len(parse_query("人" * 300).terms[0]) == 200  # no spaces: cut where it falls
    _poll(storage, "Reg", [("New regulation adopted", "", NOW)], NOW)
    with storage.session() as s:
        res = search_stories(s, "regulation " * 20, now=NOW)
    assert [h.title for h in res.hits] == ["New regulation adopted"]
