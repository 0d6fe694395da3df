"""What one poll writes, in one transaction: feed health, new entries, new stories (the
same story from several feeds is one, by link, title key or a similar title in the recent
window), their verdicts and tags, and through the hooks the outbox rows. `Storage` has these
methods from `PollWriter`; this module keeps the statements and helpers they use.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

from sqlalchemy import Integer, Table, bindparam, delete, func, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from bot.ingest.chunks import pack as pack_chunks
from bot.ingest.dedup import RecentTitles, same_story, title_key
from bot.ingest.types import FeedChunks, FetchResult, FetchStatus, Item
from bot.store import coord
from bot.store.db import IN_CHUNK
from bot.store.models import Base, Story, StoryTag, Verdict
from bot.store.records import (
    Classify,
    FeedRouting,
    LeaseLost,
    PollOutcome,
    SourceHook,
    StoryHook,
)
from bot.verdict import Verdict as VerdictValue

# How far back a new entry is compared with earlier stories by title.
DEDUP_WINDOW = timedelta(hours=72)
RECENT_TITLES_MAX = 100_000

_FEEDS: Table = Base.metadata.tables["feeds"]
_STORIES: Table = Base.metadata.tables["stories"]
_ENTRIES: Table = Base.metadata.tables["entries"]
_VERDICTS: Table = Base.metadata.tables["verdicts"]
_TAGS: Table = Base.metadata.tables["story_tags"]
_CHUNKS: Table = Base.metadata.tables["feed_chunks"]

_T = TypeVar("_T")
_STORED_STATUSES = (FetchStatus.OK, FetchStatus.UNCHANGED, FetchStatus.NOT_MODIFIED)

# The statements every poll runs, built once. Validators, URL and title are only replaced
# when the poll brought new ones (NULL keeps the stored value).
_SELECT_FEED = select(_FEEDS.c.name, _FEEDS.c.last_success_at, _FEEDS.c.jurisdictions).where(
    _FEEDS.c.id == bindparam("fid")
)
_UPDATE_FEED_OK = (
    update(_FEEDS)
    .where(_FEEDS.c.id == bindparam("fid"))
    .values(
        last_polled_at=bindparam("now"),
        next_poll_at=bindparam("next"),
        last_success_at=bindparam("now"),
        consecutive_failures=0,
        last_status=bindparam("status"),
        etag=func.coalesce(bindparam("etag", type_=_FEEDS.c.etag.type), _FEEDS.c.etag),
        last_modified=func.coalesce(
            bindparam("last_modified", type_=_FEEDS.c.last_modified.type), _FEEDS.c.last_modified
        ),
        body_hash=func.coalesce(
            bindparam("body_hash", type_=_FEEDS.c.body_hash.type), _FEEDS.c.body_hash
        ),
        url=func.coalesce(bindparam("url", type_=_FEEDS.c.url.type), _FEEDS.c.url),
        title=func.coalesce(bindparam("title", type_=_FEEDS.c.title.type), _FEEDS.c.title),
        entry_count=_FEEDS.c.entry_count + bindparam("added", type_=Integer()),
        lease_owner=None,
        lease_until=None,
    )
)


def uid_hash(uid: str) -> str:
    return hashlib.sha256(uid.encode("utf-8", "surrogatepass")).hexdigest()


def _url_identifies_story(url: str | None) -> bool:
    """A home-page link (some feeds give every entry the same one) must not merge stories."""
    if not url:
        return False
    path = urlsplit(url).path
    return len(path.strip("/")) > 0


def _links_shared_by_other_stories(items: Iterable[Item]) -> set[str]:
    """Links that entries of one poll share although their headlines are other stories."""
    first: dict[str, str] = {}
    weak: set[str] = set()
    for item in items:
        if not item.url:
            continue
        title = first.setdefault(item.url, item.title)
        if title is not item.title and not same_story(title, item.title):
            weak.add(item.url)
    return weak


def _tags(verdict: VerdictValue) -> set[tuple[str, str]]:
    """The (kind, value) tag rows of a relevant verdict; values cut to the column's size."""
    if not verdict.relevant:
        return set()
    return (
        {("jurisdiction", v[:200]) for v in verdict.jurisdictions}
        | {("topic", v[:200]) for v in verdict.topics}
        | {("instrument", v[:200]) for v in verdict.instruments}
    )


def _verdict_row(story_id: int, verdict: VerdictValue, now: datetime) -> dict[str, Any]:
    return {
        "story_id": story_id,
        "relevant": verdict.relevant,
        "score": verdict.score,
        "jurisdictions": list(verdict.jurisdictions),
        "topics": list(verdict.topics),
        "instruments": list(verdict.instruments),
        "evidence": [e._asdict() for e in verdict.evidence],  # as Verdict.to_dict() has it
        "created_at": now,
    }


def _tag_rows(story_id: int, verdict: VerdictValue) -> list[dict[str, Any]]:
    return [{"story_id": story_id, "kind": k, "value": v} for k, v in sorted(_tags(verdict))]


def in_chunks(values: Sequence[_T], size: int = IN_CHUNK) -> Iterator[Sequence[_T]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


@dataclass(slots=True)
class _NewStory:
    """A story a poll is about to create; `id` and `verdict` are filled in as it is written."""

    item: Item
    key: str
    announce: bool
    id: int = 0
    verdict: VerdictValue | None = None


def store_verdict(session: Session, story_id: int, verdict: VerdictValue) -> Verdict:
    """Insert or replace the verdict of a story and its tag rows."""
    row = session.get(Verdict, story_id)
    if row is None:
        row = Verdict(story_id=story_id)
        session.add(row)
    row.relevant = verdict.relevant
    row.score = verdict.score
    row.jurisdictions = list(verdict.jurisdictions)
    row.topics = list(verdict.topics)
    row.instruments = list(verdict.instruments)
    row.evidence = [e for e in verdict.to_dict()["evidence"]]
    session.execute(delete(StoryTag).where(StoryTag.story_id == story_id))
    session.add_all(StoryTag(story_id=story_id, kind=k, value=v) for k, v in _tags(verdict))
    return row


class PollWriter:
    """The poll-writing half of `Storage` (bot/store/storage.py), which sets these up."""

    engine: Engine
    shared: bool
    _write_lock: threading.Lock
    _recent: RecentTitles[int] | None
    _recent_max: int

    def _recent_titles(self, conn: Connection, now: datetime) -> RecentTitles[int]:
        if self._recent is not None and self.shared:
            # Other instances' stories since we last looked (we hold the stories lock, and
            # stories are created under it, so their ids come in commit order).
            rows = conn.execute(
                select(_STORIES.c.id, _STORIES.c.title, _STORIES.c.first_seen)
                .where(_STORIES.c.id > self._recent_max)
                .order_by(_STORIES.c.id)
            )
            for sid, title, seen in rows:
                self._recent.add(sid, title, seen)
                self._recent_max = max(self._recent_max, sid)
        if self._recent is None:
            recent: RecentTitles[int] = RecentTitles(
                window=DEDUP_WINDOW, max_size=RECENT_TITLES_MAX
            )
            rows = conn.execute(
                select(_STORIES.c.id, _STORIES.c.title, _STORIES.c.first_seen)
                .where(_STORIES.c.first_seen >= now - DEDUP_WINDOW)
                .order_by(_STORIES.c.first_seen)
                .limit(RECENT_TITLES_MAX)
            )
            for sid, title, seen in rows:
                recent.add(sid, title, seen)
            self._recent = recent
            self._recent_max = conn.scalar(select(func.max(_STORIES.c.id))) or 0
        return self._recent

    def record_poll(
        self,
        feed_id: int,
        result: FetchResult,
        items: Sequence[Item],
        *,
        now: datetime,
        next_poll_at: datetime,
        classify: Classify,
        backfill_window: timedelta,
        feed_title: str | None = None,
        parse_error: str | None = None,
        on_story: StoryHook | None = None,
        lease_owner: str | None = None,
        chunks: FeedChunks | None = None,
        track_chunks: bool = False,
        on_source: SourceHook | None = None,
    ) -> PollOutcome:
        """Write one poll's results in one transaction and return what was new.

        With `track_chunks`, a poll that fetched a body also replaces what is remembered of
        it (`chunks`, None to forget; a parse error forgets too): see `feed_chunks`.

        Rows are written with Core statements, a few per poll rather than several per item:
        the ORM's per-object bookkeeping cost more than everything else in a cold fill.

        With `lease_owner` (a feed leased by lease_due_feeds) the poll is recorded only while
        that instance still holds the feed; else LeaseLost, and nothing is written.
        """
        new_titles: list[tuple[int, str]] = []
        # A bare connection: most polls write one row, and a Session costs more than that.
        # The story hook, which wants one, gets a Session joined to this same transaction.
        with self._write_lock:
            with self.engine.begin() as conn:
                if self.shared:
                    # Polls of one feed record one after another (a manual `poll` beside the
                    # instances' leased ones), each seeing the entries the last one stored.
                    holder = conn.scalar(
                        select(_FEEDS.c.lease_owner).where(_FEEDS.c.id == feed_id).with_for_update()
                    )
                    if lease_owner is not None and holder != lease_owner:
                        raise LeaseLost(f"feed {feed_id} is now polled by {holder}")
                row = conn.execute(_SELECT_FEED, {"fid": feed_id}).first()
                if row is None:
                    raise KeyError(f"no feed with id {feed_id}")
                name, last_success_at, jurisdictions = row
                outcome = PollOutcome(feed=name, status=result.status.value)
                ok = result.status in _STORED_STATUSES
                if ok and parse_error is None:
                    added = self._add_items(
                        conn,
                        feed_id,
                        items,
                        now=now,
                        hints=tuple(jurisdictions or ()),
                        cutoff=now - backfill_window,
                        first_success=last_success_at is None,
                        classify=classify,
                        on_story=on_story,
                        on_source=on_source,
                        outcome=outcome,
                        new_titles=new_titles,
                    )
                    conn.execute(
                        _UPDATE_FEED_OK,
                        {
                            "fid": feed_id,
                            "now": now,
                            "next": next_poll_at,
                            "status": result.status.value,
                            "etag": result.etag,
                            "last_modified": result.last_modified,
                            "body_hash": result.body_hash,
                            "url": result.permanent_redirect or None,
                            "title": feed_title[:500] if feed_title else None,
                            "added": added,
                        },
                    )
                else:
                    error = parse_error or result.error or result.status.value
                    outcome.status = "parse_error" if parse_error else result.status.value
                    outcome.error = error
                    values: dict[str, Any] = {
                        "last_polled_at": now,
                        "next_poll_at": next_poll_at,
                        "last_status": outcome.status,
                        "last_error": error[:2000],
                        "last_error_at": now,
                        "consecutive_failures": _FEEDS.c.consecutive_failures + 1,
                        "lease_owner": None,
                        "lease_until": None,
                    }
                    if result.status is FetchStatus.GONE:
                        values["disabled_reason"] = f"the server says the feed is gone: {error}"
                    elif parse_error and result.body_hash:
                        # Do not skip this body as "unchanged" next time: never parsed well.
                        values["body_hash"] = None
                    conn.execute(update(_FEEDS).where(_FEEDS.c.id == feed_id).values(**values))
                if track_chunks and result.status is FetchStatus.OK:
                    conn.execute(delete(_CHUNKS).where(_CHUNKS.c.feed_id == feed_id))
                    if chunks is not None and parse_error is None:
                        context, hashes = pack_chunks(chunks)
                        conn.execute(
                            insert(_CHUNKS),
                            {"feed_id": feed_id, "context": context, "hashes": hashes},
                        )
            # Committed: now the index may learn the new titles (still under the lock, so
            # that no other writer looks titles up while it changes).
            if self._recent is not None:
                for sid, title in new_titles:
                    self._recent.add(sid, title, now)
                    self._recent_max = max(self._recent_max, sid)
        return outcome

    def _add_items(
        self,
        conn: Connection,
        feed_id: int,
        items: Sequence[Item],
        *,
        now: datetime,
        hints: Sequence[str],
        cutoff: datetime,
        first_success: bool,
        classify: Classify,
        on_story: StoryHook | None,
        outcome: PollOutcome,
        on_source: SourceHook | None = None,
        new_titles: list[tuple[int, str]],
    ) -> int:
        """Store the entries not seen before in this feed; returns how many were added.

        Decisions are taken first, in item order and with the same precedence as one item at a
        time (URL, recent titles, title key, then earlier items of this very poll), against
        maps loaded in a few queries; then the rows go in with one executemany per table.
        """
        if not items:
            return 0
        hashes: dict[str, Item] = {}
        for item in items:  # a repeated uid keeps its first place and its last content
            hashes[uid_hash(item.uid)] = item
        seen: set[str] = set()
        for chunk in in_chunks(list(hashes)):
            seen.update(
                conn.scalars(
                    select(_ENTRIES.c.uid_hash).where(
                        _ENTRIES.c.feed_id == feed_id, _ENTRIES.c.uid_hash.in_(chunk)
                    )
                )
            )
        fresh = [(h, item) for h, item in hashes.items() if h not in seen]
        if not fresh:
            return 0
        # Several instances: one at a time decides which entries are new stories, so that the
        # same story arriving through two feeds in two processes becomes one story with two
        # sources (held to the commit; the lookups below then see the others' stories).
        coord.xact_lock(conn, coord.STORIES_KEY)

        keys = [title_key(item.title) for _, item in fresh]
        # A link that entries with different headlines share within one feed (a section page,
        # a "read more" URL) says nothing about which story an entry is: then the link counts
        # only together with a matching title. Across feeds a shared link is syndication.
        weak = _links_shared_by_other_stories(hashes.values())
        by_url = self._stories_by_url(
            conn, {item.url for _, item in fresh if item.url and _url_identifies_story(item.url)}
        )
        reused = self._stories_with_entries_from(conn, feed_id, set(by_url.values()))
        url_titles = self._story_titles(conn, set(by_url.values()))
        by_key = self._stories_by_key(conn, {k for k in keys if len(k) >= 12}, now)
        recent = self._recent_titles(conn, now)

        new: list[_NewStory] = []  # stories this poll creates, in order
        new_by_url: dict[str, int] = {}  # -> index in `new`
        new_by_key: dict[str, int] = {}
        links: list[tuple[str, Item, int | _NewStory]] = []  # (uid hash, item, its story)
        for (h, item), key in zip(fresh, keys, strict=True):
            story: int | _NewStory | None = None
            url_ok = item.url is not None and _url_identifies_story(item.url)
            if url_ok:
                assert item.url is not None
                sid = by_url.get(item.url)
                # This feed used the link before, or uses it for other headlines now: the
                # titles must agree too.
                if (
                    sid is not None
                    and (sid in reused or item.url in weak)
                    and not same_story(item.title, url_titles.get(sid, ""))
                ):
                    sid = None
                story = sid
                if story is None and item.url in new_by_url:
                    cand = new[new_by_url[item.url]]
                    if item.url not in weak or same_story(item.title, cand.item.title):
                        story = cand
            if story is None:
                sid = recent.find(item.title, now)
                if sid is not None:
                    if self._story_exists(conn, sid):
                        story = sid
                elif len(key) >= 12:  # short keys ("Update", "News") say nothing about identity
                    story = by_key.get(key)
                    if story is None and key in new_by_key:
                        story = new[new_by_key[key]]
            if story is None and key and key in new_by_key:  # same story twice in this poll
                story = new[new_by_key[key]]
            if story is None:
                # Back catalogue of a new feed, or an old entry: store, never post.
                fresh_news = item.published >= cutoff and (
                    item.published_known or not first_success
                )
                story = _NewStory(item, key, fresh_news)
                if url_ok:
                    assert item.url is not None
                    new_by_url.setdefault(item.url, len(new))
                if key:
                    new_by_key.setdefault(key, len(new))
                new.append(story)
            links.append((h, item, story))

        self._insert_new_stories(conn, new, now)
        outcome.new_stories += len(new)
        new_titles.extend((n.id, n.item.title) for n in new)
        verdict_rows, tag_rows = [], []
        for n in new:
            n.verdict = classify(n.item, hints)
            verdict_rows.append(_verdict_row(n.id, n.verdict, now))
            tag_rows.extend(_tag_rows(n.id, n.verdict))
        if verdict_rows:
            conn.execute(insert(_VERDICTS), verdict_rows)
        if tag_rows:
            conn.execute(insert(_TAGS), tag_rows)

        # A story gains a source when this feed had no entry on it yet (nor in this poll).
        existing = {story for _, _, story in links if isinstance(story, int)}
        sourced = self._stories_with_entries_from(conn, feed_id, existing)
        gained = existing - sourced
        if gained:
            conn.execute(
                update(_STORIES)
                .where(_STORIES.c.id == bindparam("sid"))
                .values(source_count=_STORIES.c.source_count + 1),
                [{"sid": sid} for sid in sorted(gained)],
            )
        conn.execute(
            insert(_ENTRIES),
            [
                {
                    "feed_id": feed_id,
                    "uid": item.uid,
                    "uid_hash": h,
                    "story_id": story if isinstance(story, int) else story.id,
                    "url": item.url,
                    "title": item.title,
                    "summary": item.summary,
                    "language": item.language,
                    "published": item.published,
                    "published_known": item.published_known,
                    "first_seen": now,
                }
                for h, item, story in links
            ],
        )
        outcome.new_entries += len(links)
        if gained and on_source is not None:
            on_source(conn, sorted(gained), feed_id, now)

        flagged = [n for n in new if n.announce and n.verdict is not None and n.verdict.relevant]
        outcome.flagged += len(flagged)
        outcome.flagged_stored_only += sum(
            1 for n in new if not n.announce and n.verdict is not None and n.verdict.relevant
        )
        outcome.flagged_story_ids.extend(n.id for n in flagged)
        feed_hook = on_story if isinstance(on_story, FeedRouting) else None
        if on_story is None or not (flagged or feed_hook):
            return len(links)
        # The hook gets real ORM rows, loaded once the poll's rows are all written, and a
        # Session inside this transaction (closing it leaves the transaction alone).
        with Session(bind=conn, expire_on_commit=False) as s:
            if feed_hook is not None and feed_hook.follows(s, feed_id):
                self._route_followed(
                    s, feed_hook, feed_id, new, links, gained, now, cutoff, first_success
                )
            elif flagged:
                rows = self._story_rows(s, [n.id for n in flagged])
                for n in flagged:
                    assert n.verdict is not None
                    on_story(s, rows[n.id], n.verdict)
            s.flush()
        return len(links)

    @staticmethod
    def _story_rows(s: Session, ids: Sequence[int]) -> dict[int, Story]:
        return {
            st.id: st
            for chunk in in_chunks(list(ids))
            for st in s.scalars(select(Story).where(Story.id.in_(chunk)))
        }

    def _route_followed(
        self,
        s: Session,
        hook: FeedRouting,
        feed_id: int,
        new: Sequence[_NewStory],
        links: Sequence[tuple[str, Item, int | _NewStory]],
        gained: set[int],
        now: datetime,
        cutoff: datetime,
        first_success: bool,
    ) -> None:
        """Feed routing: every story this followed feed brings may be posted, flagged or not
        (after the backfill window, as for flagged stories)."""
        fresh_new = [n for n in new if n.announce and n.verdict is not None]
        # Older stories this feed joined now with a fresh entry (first seen from another feed).
        joined = sorted(
            {
                story
                for _, item, story in links
                if isinstance(story, int)
                and story in gained
                and item.published >= cutoff
                and (item.published_known or not first_success)
            }
        )
        rows = self._story_rows(s, [n.id for n in fresh_new] + joined)
        for n in fresh_new:
            assert n.verdict is not None
            hook.from_feed(s, rows[n.id], n.verdict, feed_id, new=True, when=now)
        for sid in joined:
            story = rows.get(sid)
            verdict = s.get(Verdict, sid)
            if story is not None and story.announce and verdict is not None:
                hook.from_feed(s, story, verdict, feed_id, new=False, when=now)

    # -- the batched lookups and writes of _add_items

    @staticmethod
    def _story_titles(conn: Connection, ids: set[int]) -> dict[int, str]:
        out: dict[int, str] = {}
        for chunk in in_chunks(sorted(ids)):
            q = select(_STORIES.c.id, _STORIES.c.title).where(_STORIES.c.id.in_(chunk))
            out.update((sid, title or "") for sid, title in conn.execute(q))
        return out

    @staticmethod
    def _stories_by_url(conn: Connection, urls: set[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        for chunk in in_chunks(sorted(urls)):
            q = (
                select(_STORIES.c.url, func.min(_STORIES.c.id))
                .where(_STORIES.c.url.in_(chunk))
                .group_by(_STORIES.c.url)
            )
            out.update((url, sid) for url, sid in conn.execute(q))
        return out

    @staticmethod
    def _stories_by_key(conn: Connection, keys: set[str], now: datetime) -> dict[str, int]:
        out: dict[str, int] = {}
        for chunk in in_chunks(sorted(keys)):
            q = (
                select(_STORIES.c.title_key, func.min(_STORIES.c.id))
                .where(_STORIES.c.title_key.in_(chunk), _STORIES.c.first_seen >= now - DEDUP_WINDOW)
                .group_by(_STORIES.c.title_key)
            )
            out.update((key, sid) for key, sid in conn.execute(q))
        return out

    @staticmethod
    def _story_exists(conn: Connection, sid: int) -> bool:
        return conn.scalar(select(_STORIES.c.id).where(_STORIES.c.id == sid)) is not None

    @staticmethod
    def _stories_with_entries_from(conn: Connection, feed_id: int, ids: set[int]) -> set[int]:
        out: set[int] = set()
        for chunk in in_chunks(sorted(ids)):
            out.update(
                conn.scalars(
                    select(_ENTRIES.c.story_id)
                    .where(_ENTRIES.c.feed_id == feed_id, _ENTRIES.c.story_id.in_(chunk))
                    .distinct()
                )
            )
        return out

    @staticmethod
    def _insert_new_stories(conn: Connection, new: Sequence[_NewStory], now: datetime) -> None:
        if not new:
            return
        rows = [
            {
                "title": n.item.title,
                "title_key": n.key[:400],
                "url": n.item.url,
                "summary": n.item.summary,
                "language": n.item.language,
                "published": n.item.published,
                "first_seen": now,
                "announce": n.announce,
                "source_count": 1,
            }
            for n in new
        ]
        # One multi-row INSERT ... RETURNING (SQLite >= 3.35, PostgreSQL). Not
        # sort_by_parameter_order=True: on SQLite that sends one statement per row. Both
        # databases insert the VALUES rows in order and give each a larger id than the one
        # before it (SQLite: max(rowid) + 1 under the one writer; PostgreSQL: its sequence,
        # increasing within a session), so the ids sorted are the rows' ids in order. What
        # came back is checked against what was sent all the same, and on a mismatch the ids
        # are asked for row by row.
        returned = conn.execute(
            insert(_STORIES).returning(
                _STORIES.c.id, _STORIES.c.title_key, _STORIES.c.url, _STORIES.c.published
            ),
            rows,
        ).all()
        got = sorted(returned, key=lambda r: int(r[0]))
        if len(got) != len(new):
            raise RuntimeError(f"inserted {len(new)} stories but got {len(got)} ids back")
        for n, row, (sid, key, url, published) in zip(new, rows, got, strict=True):
            if key != row["title_key"] or url != row["url"] or published != row["published"]:
                PollWriter._correlate_story_ids(conn, new, [int(r[0]) for r in got])
                return
            n.id = int(sid)

    @staticmethod
    def _correlate_story_ids(conn: Connection, new: Sequence[_NewStory], ids: list[int]) -> None:
        """Match inserted stories to their ids one by one (the fallback of the above)."""
        full = {
            int(r[0]): r
            for r in conn.execute(
                select(
                    _STORIES.c.id, _STORIES.c.title_key, _STORIES.c.url, _STORIES.c.summary
                ).where(_STORIES.c.id.in_(ids))
            )
        }
        free = sorted(full)
        for n in new:
            want = (n.key[:400], n.item.url, n.item.summary)
            sid = next((i for i in free if tuple(full[i][1:]) == want), None)
            if sid is None:
                raise RuntimeError("inserted stories do not match the rows sent")
            free.remove(sid)
            n.id = sid
